//! Voiceflow's current API on Parley: v4 sessions, `/v4/interact` and its stream, and the
//! legacy `/v2/…/interact/stream`, in the shapes of Voiceflow's documentation. The streams are
//! read frame by frame, as a client reads them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use parley_engine::{CompiledProject, Project, compile};
use parley_server::signing::Signer;
use parley_server::store::{SqliteStore, Store};
use parley_server::{AppState, BUNDLED_DEMO, Options, app};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Server {
    router: Router,
    state: AppState,
    store: Arc<dyn Store>,
    _data: tempfile::TempDir,
}

async fn server(projects: Vec<CompiledProject>) -> Server {
    let data = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap());
    let state = AppState::new(projects, Signer::new([4; 32]), store.clone())
        .await
        .unwrap();
    Server {
        router: app(state.clone(), &Options { widget_dir: None }),
        state,
        store,
        _data: data,
    }
}

fn demo() -> CompiledProject {
    compile(Project::from_json(BUNDLED_DEMO).unwrap()).unwrap()
}

fn post(uri: &str, body: Value, key: Option<&str>) -> Request<Body> {
    let mut request = Request::post(uri).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", key);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

async fn json_of(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn start(router: &Router, user: &str) -> String {
    let (status, body) = json_of(
        router,
        post("/v4/project/pizza/session", json!({ "userID": user }), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["sessionKey"].as_str().unwrap().to_owned()
}

/// The messages of a list of traces.
fn said(traces: &[Value]) -> Vec<String> {
    traces
        .iter()
        .filter(|t| t["type"] == "text")
        .map(|t| t["payload"]["message"].as_str().unwrap().to_owned())
        .collect()
}

/// One server-sent event.
#[derive(Debug)]
struct Frame {
    event: String,
    data: Value,
    at: Instant,
}

/// Reads an SSE body as a client does, frame by frame, noting when each arrived.
async fn frames(body: Body, stop_after: Option<usize>) -> Vec<Frame> {
    let mut body = body;
    let mut buffer = String::new();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        buffer.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut data) = (String::from("message"), String::new());
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            if data.is_empty() && event == "message" {
                continue; // a keep-alive comment
            }
            out.push(Frame {
                event,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
                at: Instant::now(),
            });
            if stop_after.is_some_and(|n| out.len() >= n) {
                return out;
            }
        }
    }
    out
}

#[tokio::test]
async fn a_session_key_carries_the_conversation() {
    let s = server(vec![demo()]).await;
    let r = &s.router;
    let key = start(r, "ana").await;
    let (status, body) = json_of(
        r,
        post(
            "/v4/interact",
            json!({ "action": { "type": "launch" } }),
            Some(&key),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let traces = body["traces"].as_array().expect("{ traces }");
    assert!(said(traces)[0].contains("Pizza Palace"), "{body}");
    // Every trace carries the time and the turn's id, the same for the whole turn.
    let turn = traces[0]["turnID"].as_str().unwrap().to_owned();
    for trace in traces {
        assert_eq!(trace["turnID"], turn.as_str(), "{trace}");
        assert!(trace["time"].as_u64().is_some(), "{trace}");
    }
    // `variables` are merged before the turn (those a client may set).
    let (status, body) = json_of(
        r,
        post(
            "/v4/interact",
            json!({
                "action": { "type": "text", "payload": "what's on the menu?" },
                "variables": { "customer_name": "Ana" },
                "config": { "completionEvents": true }
            }),
            Some(&key),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["traces"][0]["turnID"], turn.as_str());
    let (stored, _) = s.store.load("pizza", "ana").await.unwrap().unwrap();
    assert_eq!(stored.state.variables["customer_name"], "Ana");

    // A new session for the same user ends the old one.
    let newer = start(r, "ana").await;
    assert_ne!(newer, key);
    let (status, body) = json_of(
        r,
        post(
            "/v4/interact",
            json!({ "action": { "type": "launch" } }),
            Some(&key),
        ),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "session_ended")
    );
    let (status, _) = json_of(
        r,
        post(
            "/v4/interact",
            json!({ "action": { "type": "launch" } }),
            Some(&newer),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Not a session key of this server: a project key, a forged one, none.
    let mut forged = newer.clone();
    forged.replace_range(newer.len() - 2.., "00");
    for bad in [
        Some("VF.DM.0123456789abcdef_00"),
        Some(forged.as_str()),
        None,
    ] {
        let (status, body) = json_of(
            r,
            post(
                "/v4/interact",
                json!({ "action": { "type": "launch" } }),
                bad,
            ),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str().unwrap_or_default()),
            (StatusCode::UNAUTHORIZED, "invalid_session"),
            "{bad:?}"
        );
    }
    // A session start needs a userID of 1 to 256 bytes.
    for body in [
        json!({}),
        json!({ "userID": "" }),
        json!({ "userID": "u".repeat(257) }),
    ] {
        let (status, _) = json_of(r, post("/v4/project/pizza/session", body.clone(), None)).await;
        assert!(status.is_client_error(), "{body}");
    }
    // The environment form names the version.
    let (status, body) = json_of(
        r,
        post(
            "/v4/project/pizza/environment/production/session",
            json!({ "userID": "bo" }),
            None,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A project whose flow says something, calls a slow API on loopback, then says the result.
fn slow_project(url: &str) -> CompiledProject {
    let project = json!({
        "id": "pizza", "name": "Slow",
        "versions": [{ "id": "v1", "startFlow": "main",
            "variables": [{ "name": "minutes", "default": null }],
            "settings": { "allowPrivateNetwork": true },
            "flows": [{ "id": "main", "start": "hello", "blocks": [
                { "id": "hello", "type": "text", "texts": ["Let me check…"], "next": "call" },
                { "id": "call", "type": "api_call", "method": "GET", "url": url,
                  "mappings": [{ "path": "minutes", "variable": "minutes" }], "timeoutMs": 5000,
                  "success": "ok", "failure": "ko" },
                { "id": "ok", "type": "text", "texts": ["About {minutes} minutes."] },
                { "id": "ko", "type": "text", "texts": ["I could not find out."] }
            ] }] }]
    });
    compile(serde_json::from_value(project).unwrap()).unwrap()
}

/// A loopback API that answers after `delay`, counting its calls.
async fn slow_api(delay: Duration) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let api = Router::new().route(
        "/minutes",
        axum::routing::get(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                axum::Json(json!({ "minutes": 25 }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await.unwrap() });
    (format!("http://{addr}/minutes"), calls)
}

#[tokio::test]
async fn the_stream_sends_each_trace_as_the_engine_makes_it() {
    let (url, calls) = slow_api(Duration::from_secs(2)).await;
    let s = server(vec![slow_project(&url)]).await;
    let key = start(&s.router, "cy").await;
    let sent = Instant::now();
    let response = s
        .router
        .clone()
        .oneshot(post(
            "/v4/interact/stream",
            json!({ "action": { "type": "launch" } }),
            Some(&key),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    assert_eq!(
        response.headers()["x-accel-buffering"],
        "no",
        "a proxy is told to pass each frame on"
    );
    let frames = frames(response.into_body(), None).await;
    let events: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(events.last(), Some(&"end"), "{frames:?}");
    assert_eq!(frames.last().unwrap().data, json!({}));
    let traces: Vec<Value> = frames
        .iter()
        .filter(|f| f.event == "trace")
        .map(|f| f.data.clone())
        .collect();
    assert_eq!(said(&traces), ["Let me check…", "About 25 minutes."]);
    // The text before the API call went out before the call returned (it takes 2 s).
    let first = frames[0].at - sent;
    let last = frames.last().unwrap().at - sent;
    assert!(
        first < Duration::from_millis(1000) && last - first >= Duration::from_millis(1500),
        "first frame after {first:?}, the end after {last:?}"
    );
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_does_not_stop_the_turn() {
    let (url, calls) = slow_api(Duration::from_millis(600)).await;
    let s = server(vec![slow_project(&url)]).await;
    let key = start(&s.router, "di").await;
    let response = s
        .router
        .clone()
        .oneshot(post(
            "/v4/interact/stream",
            json!({ "action": { "type": "launch" } }),
            Some(&key),
        ))
        .await
        .unwrap();
    // Read the first frame, then hang up.
    let first = frames(response.into_body(), Some(1)).await;
    assert_eq!(first[0].data["payload"]["message"], "Let me check…");
    // The turn goes on and is stored once: the next turn finds the conversation after it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stored = s.store.load("pizza", "di").await.unwrap();
        if stored
            .as_ref()
            .is_some_and(|(session, _)| session.state.variables.get("minutes") == Some(&json!(25)))
        {
            break;
        }
        assert!(Instant::now() < deadline, "the turn was not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    let (status, body) = json_of(
        &s.router,
        post(
            "/v4/interact",
            json!({ "action": { "type": "launch" } }),
            Some(&key),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_legacy_stream_speaks_as_the_keyed_route() {
    let s = server(vec![demo()]).await;
    let stream = |key: Option<&str>| {
        post(
            "/v2/project/pizza/user/ed/interact/stream?state=true",
            json!({ "action": { "type": "launch" } }),
            key,
        )
    };
    // Without a key (a project without keys): the traces, but never the state.
    let response = s.router.clone().oneshot(stream(None)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let frames_of = frames(response.into_body(), None).await;
    let events: Vec<&str> = frames_of.iter().map(|f| f.event.as_str()).collect();
    assert!(events.starts_with(&["trace"]), "{events:?}");
    assert!(!events.contains(&"state"), "{events:?}");
    assert_eq!(events.last(), Some(&"end"));
    // With a secret key, `?state=true` adds the state before the end.
    let (record, key) =
        parley_server::keys::generate("pizza", parley_server::keys::Scope::Secret, "t", 100, 100);
    s.store.create_key(&record).await.unwrap();
    s.state.keys().reload().await;
    let response = s.router.clone().oneshot(stream(Some(&key))).await.unwrap();
    let frames_of = frames(response.into_body(), None).await;
    let events: Vec<&str> = frames_of.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(&events[events.len() - 2..], ["state", "end"], "{events:?}");
    let state = &frames_of[frames_of.len() - 2].data;
    assert!(state["stack"].is_array(), "{state}");
    // The path names the project: another one is not served.
    let (status, _) = json_of(
        &s.router,
        post(
            "/v2/project/nope/user/ed/interact/stream",
            json!({ "action": { "type": "launch" } }),
            Some(&key),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_start_is_a_new_session_and_an_admin_change_keeps_it() {
    let data = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap());
    let limits = parley_server::Limits {
        new_sessions_per_minute: 2,
        ..parley_server::Limits::default()
    };
    let state = AppState::new(vec![demo()], Signer::new([4; 32]), store.clone())
        .await
        .unwrap()
        .with_limits(limits);
    let router = app(state.clone(), &Options { widget_dir: None });
    // Keyless session starts from one address count against its new sessions per minute.
    let from =
        |request: Request<Body>| {
            let mut request = request;
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from(([10, 0, 0, 7], 4000)),
            ));
            request
        };
    let mut statuses = Vec::new();
    for user in ["n1", "n2", "n3"] {
        let start = from(post(
            "/v4/project/pizza/session",
            json!({ "userID": user }),
            None,
        ));
        statuses.push(json_of(&router, start).await.0);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // A keyless session of a project that gets a key keeps the public route's rules: closed.
    let start = from(post(
        "/v4/project/pizza/session",
        json!({ "userID": "n1" }),
        None,
    ));
    let (_, body) = json_of(&router, start).await;
    let open_key = body["sessionKey"].as_str().unwrap().to_owned();
    let (record, secret) =
        parley_server::keys::generate("pizza", parley_server::keys::Scope::Secret, "t", 100, 100);
    store.create_key(&record).await.unwrap();
    state.keys().reload().await;
    let turn = from(post(
        "/v4/interact",
        json!({ "action": { "type": "launch" } }),
        Some(&open_key),
    ));
    let (status, body) = json_of(&router, turn).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "key_required")
    );
    // An admin's change of the state (a CRM setting a variable) does not end a session.
    let start = from(post(
        "/v4/project/pizza/session",
        json!({ "userID": "n1" }),
        Some(&secret),
    ));
    let (status, body) = json_of(&router, start).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = body["sessionKey"].as_str().unwrap().to_owned();
    let patch = Request::patch("/state/user/n1/variables")
        .header("content-type", "application/json")
        .header("authorization", &secret)
        .body(Body::from(json!({ "customer_name": "Ann" }).to_string()))
        .unwrap();
    let (status, _) = json_of(&router, patch).await;
    assert_eq!(status, StatusCode::OK);
    let turn = from(post(
        "/v4/interact",
        json!({ "action": { "type": "launch" } }),
        Some(&key),
    ));
    let (status, body) = json_of(&router, turn).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_stream_refused_before_its_first_frame_answers_the_error() {
    let s = server(vec![demo()]).await;
    let old = start(&s.router, "fa").await;
    let _newer = start(&s.router, "fa").await;
    let response = s
        .router
        .clone()
        .oneshot(post(
            "/v4/interact/stream",
            json!({ "action": { "type": "launch" } }),
            Some(&old),
        ))
        .await
        .unwrap();
    // Not a 200 with an `event: error` inside: the error's own status and body.
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["code"], "session_ended");
}

/// A v4 turn sent again under the same `x-parley-request-id` (a client whose stream was cut
/// off mid-answer retries it) is answered from the record, whole, and taken once.
#[tokio::test]
async fn a_v4_turn_retried_under_its_request_id_is_answered_from_the_record() {
    let s = server(vec![demo()]).await;
    let key = start(&s.router, "retry").await;
    let turn = |id: &str, text: &str| {
        let mut request = post(
            "/v4/interact",
            json!({ "action": { "type": "text", "payload": text } }),
            Some(&key),
        );
        request
            .headers_mut()
            .insert("x-parley-request-id", id.parse().unwrap());
        request
    };
    let (status, launch) = json_of(&s.router, turn("t-1", "hi")).await;
    assert_eq!(status, StatusCode::OK, "{launch}");
    let (_, first) = json_of(&s.router, turn("t-2", "menu")).await;
    let again = s
        .router
        .clone()
        .oneshot({
            let mut request = post(
                "/v4/interact/stream",
                json!({ "action": { "type": "text", "payload": "menu" } }),
                Some(&key),
            );
            request
                .headers_mut()
                .insert("x-parley-request-id", "t-2".parse().unwrap());
            request
        })
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let frames = frames(again.into_body(), None).await;
    let replayed: Vec<Value> = frames
        .iter()
        .filter(|f| f.event == "trace")
        .map(|f| f.data.clone())
        .collect();
    let strip = |traces: &[Value]| -> Vec<Value> {
        traces
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.as_object_mut().unwrap().remove("turnID");
                t
            })
            .collect()
    };
    let first = first["traces"].as_array().unwrap();
    assert_eq!(strip(&replayed), strip(first), "the same answer, whole");
    // Taken once: the conversation is where the first answer left it (a second "menu" would
    // have been a turn of its own and answered differently from the record).
    let (_, next) = json_of(&s.router, turn("t-2", "something else")).await;
    assert_eq!(strip(next["traces"].as_array().unwrap()), strip(first));
}
