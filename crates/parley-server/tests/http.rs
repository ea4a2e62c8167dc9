//! The server's HTTP behaviour: the real router through `oneshot`, and real sockets on
//! loopback (the server itself, and a local API for the api_call blocks).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use parley_engine::{CompiledProject, Project, compile};
use parley_server::keys::Scope;
use parley_server::signing::Signer;
use parley_server::store::{SqliteStore, Store};
use parley_server::{AppState, BUNDLED_DEMO, Options, StartError, app, run};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const INDEX: &str = "<!DOCTYPE html><title>Parley demo</title>";

fn demo() -> CompiledProject {
    compile(Project::from_json(BUNDLED_DEMO).unwrap()).unwrap()
}

struct Server {
    router: Router,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn server_with(projects: Vec<CompiledProject>) -> Server {
    let widget = tempfile::tempdir().unwrap();
    std::fs::write(widget.path().join("index.html"), INDEX).unwrap();
    std::fs::write(widget.path().join("parley.css"), ".parley{}").unwrap();
    std::fs::write(widget.path().join("parley.js"), "/* loader */").unwrap();
    std::fs::write(
        widget.path().join("parley-widget-0123abcd_bg.wasm"),
        b"\0asm",
    )
    .unwrap();
    std::fs::write(
        widget.path().join("parley-widget-0123abcd_bg.wasm.br"),
        b"BROTLI",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap();
    let state = AppState::new(projects, Signer::new([9; 32]), Arc::new(store))
        .await
        .unwrap();
    let options = Options {
        widget_dir: Some(widget.path().to_path_buf()),
    };
    Server {
        router: app(state, &options),
        _dirs: (widget, data),
    }
}

async fn server() -> Server {
    server_with(vec![demo()]).await
}

/// Where a test's sessions and keys live: SQLite always, and PostgreSQL too when
/// `PARLEY_TEST_DATABASE_URL` names a server (`cargo xtask test` starts one and sets it).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Backend {
    Sqlite,
    Postgres,
}

fn backends() -> Vec<Backend> {
    if std::env::var_os("PARLEY_TEST_DATABASE_URL").is_some() {
        return vec![Backend::Sqlite, Backend::Postgres];
    }
    assert!(
        std::env::var_os("PARLEY_REQUIRE_POSTGRES").is_none(),
        "PARLEY_REQUIRE_POSTGRES is set but PARLEY_TEST_DATABASE_URL is not"
    );
    eprintln!("note: PostgreSQL not tested (set PARLEY_TEST_DATABASE_URL; cargo xtask test does)");
    vec![Backend::Sqlite]
}

/// A fresh, empty database: a SQLite file in a temporary directory, or a new schema in the
/// PostgreSQL test database. [`Db::open`] gives a new handle on it, as a restarted server or a
/// second server process would have.
struct Db {
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Db {
    async fn new(backend: Backend) -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let base = std::env::var("PARLEY_TEST_DATABASE_URL").unwrap();
                let mut random = [0u8; 8];
                getrandom::fill(&mut random).unwrap();
                let schema = format!("t{}", u64::from_le_bytes(random));
                let url = format!(
                    "{base}{}options=-c%20search_path%3D{schema}",
                    if base.contains('?') { '&' } else { '?' }
                );
                let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {base}: {e}"));
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .await
                    .unwrap();
                Some(url)
            }
        };
        Db { dir, url }
    }

    /// A new handle on the database.
    async fn open(&self) -> Arc<dyn Store> {
        parley_server::store::open(self.url.as_deref(), self.dir.path())
            .await
            .unwrap()
    }

    /// A server on this database.
    async fn server(&self, projects: Vec<CompiledProject>) -> (AppState, Router) {
        let store = self.open().await;
        let state = AppState::new(projects, Signer::new([9; 32]), store)
            .await
            .unwrap();
        (state.clone(), app(state, &Options { widget_dir: None }))
    }

    /// A new key, known to `app` at once; the key itself.
    async fn key(&self, app: &AppState, scope: Scope, per_minute: u32, per_client: u32) -> String {
        let store = self.open().await;
        let (record, key) =
            parley_server::keys::generate("pizza", scope, "test", per_minute, per_client);
        store.create_key(&record).await.unwrap();
        app.keys().reload().await;
        key
    }
}

/// One request through the router: (status, content type, body as JSON or as a string).
async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, String, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    raw(router, request).await
}

async fn raw(router: &Router, request: Request<Body>) -> (StatusCode, String, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, content_type, body)
}

/// The visible part of a turn: text messages and button labels.
fn said(traces: &Value) -> Vec<String> {
    traces
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| match t["type"].as_str()? {
            "text" => Some(t["payload"]["message"].as_str()?.to_owned()),
            "choice" => Some(format!(
                "[{}]",
                t["payload"]["buttons"]
                    .as_array()?
                    .iter()
                    .map(|b| b["name"].as_str().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
            other => Some(format!("<{other}>")),
        })
        .collect()
}

async fn stateless_turn(router: &Router, state: Option<&Value>, request: Value) -> Value {
    let mut body = json!({ "request": request });
    if let Some(state) = state {
        body["state"] = state.clone();
    }
    let (status, _, answer) = call(router, "POST", "/interact", Some(body), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn transcript() -> Vec<Value> {
    vec![
        json!({ "type": "launch" }),
        json!({ "type": "text", "payload": "I'd like a large pizza please" }),
        json!({ "type": "text", "payload": "pepperoni" }),
        json!({ "type": "text", "payload": "2" }),
        json!({ "type": "path-summary-0", "payload": { "label": "Confirm" } }),
        json!({ "type": "text", "payload": "Dana" }),
        json!({ "type": "text", "payload": "dana@example.com" }),
        json!({ "type": "cancel" }),
        json!({ "type": "text", "payload": "when are you open?" }),
    ]
}

#[tokio::test]
async fn health_answers_json() {
    let s = server().await;
    let (status, content_type, body) = call(&s.router, "GET", "/health", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn serves_the_built_widget_and_json_404s() {
    let s = server().await;
    let (status, content_type, body) = call(&s.router, "GET", "/", None, &[]).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/html")
    );
    assert_eq!(body, Value::String(INDEX.into()));
    let (status, content_type, _) = call(&s.router, "GET", "/parley.css", None, &[]).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/css")
    );
    let (status, content_type, body) = call(&s.router, "GET", "/nothing/here.js", None, &[]).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::NOT_FOUND, "application/json")
    );
    assert_eq!(body["code"], "not_found");
}

/// A site of another origin loads the widget's files: CORS for everyone (they are public), a
/// year of cache for the hashed files, revalidation for the loader, brotli when asked for.
#[tokio::test]
async fn widget_files_load_from_any_origin_with_cache_headers() {
    let s = server().await;
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        s.router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
    };
    let header = |response: &axum::response::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let wasm = "/parley-widget-0123abcd_bg.wasm";
    for (path, cache) in [
        ("/parley.js", "no-cache"),
        (wasm, "public, max-age=31536000, immutable"),
    ] {
        let response = get(path, &[("origin", "https://shop.example")])
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some("*")
        );
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some(cache),
            "{path}"
        );
    }
    let plain = get(wasm, &[]).await.unwrap();
    assert_eq!(
        header(&plain, "content-type").as_deref(),
        Some("application/wasm")
    );
    assert_eq!(header(&plain, "content-encoding"), None);
    // A browser that takes brotli gets the precompressed twin, as such.
    let response = get(wasm, &[("accept-encoding", "gzip, deflate, br")])
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-encoding").as_deref(), Some("br"));
    assert!(
        response
            .headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("accept-encoding")),
        "{:?}",
        response.headers()
    );
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/wasm")
    );
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"BROTLI");
    // A missing file is not cached.
    let response = get("/parley-widget-gone.js", &[]).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn paths_cannot_escape_the_widget_dir() {
    let s = server().await;
    for uri in ["/../secret.txt", "/%2e%2e/%2e%2e/etc/passwd"] {
        let (status, _, _) = call(&s.router, "GET", uri, None, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[test]
fn refuses_to_start_without_a_built_widget() {
    let empty = tempfile::tempdir().unwrap();
    let options = Options {
        widget_dir: Some(empty.path().to_path_buf()),
    };
    let err = options.check().unwrap_err();
    assert!(matches!(err, StartError::WidgetNotBuilt { .. }));
    assert!(err.to_string().contains("cargo xtask demo"));
}

#[tokio::test]
async fn a_stateless_conversation_with_signed_state() {
    let s = server().await;
    let (status, _, initial) = call(&s.router, "GET", "/interact/state", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(initial["signature"].is_string());
    assert!(initial["stack"].as_array().unwrap().is_empty());

    let first = stateless_turn(&s.router, None, json!({ "type": "launch" })).await;
    let seen = said(&first["trace"]);
    assert_eq!(
        seen[seen.len() - 2..],
        [
            "[Order a pizza | See the menu | Opening hours | Track my order]",
            "<no-reply>"
        ]
    );
    let second = stateless_turn(
        &s.router,
        Some(&first["state"]),
        json!({ "type": "text", "payload": "a large pizza please" }),
    )
    .await;
    assert_eq!(
        second["request"]["type"], "intent",
        "the echoed request is the NLU's reading"
    );
    assert_eq!(
        second["request"]["payload"]["intent"]["name"],
        "order_pizza"
    );
    assert_eq!(
        said(&second["trace"])[0],
        "Great, a large pizza. Which one?"
    );
    assert_eq!(second["state"]["variables"]["size"], "large");

    // A JavaScript client (the widget, Voiceflow's) holds the state as JS values: every number
    // in it must survive a double, or the signature breaks.
    fn js_safe(value: &Value) -> bool {
        match value {
            Value::Number(n) => n
                .as_f64()
                .is_some_and(|f| f.abs() < 9_007_199_254_740_992.0),
            Value::Array(items) => items.iter().all(js_safe),
            Value::Object(map) => map.values().all(js_safe),
            _ => true,
        }
    }
    assert!(js_safe(&second["state"]), "{}", second["state"]);
    assert!(js_safe(&initial), "{initial}");

    // Deterministic: the same state and request give the very same answer.
    let again = stateless_turn(
        &s.router,
        Some(&first["state"]),
        json!({ "type": "text", "payload": "a large pizza please" }),
    )
    .await;
    assert_eq!(again, second);
    // Legacy route, version in the path, and the alias `production`.
    let (status, _, legacy) = call(
        &s.router,
        "POST",
        "/interact/production",
        Some(json!({ "request": { "type": "launch" } })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(said(&legacy["trace"]), said(&first["trace"]));
}

#[tokio::test]
async fn forged_foreign_and_unsigned_states_are_refused() {
    let s = server().await;
    let first = stateless_turn(&s.router, None, json!({ "type": "launch" })).await;
    let mut forged = first["state"].clone();
    forged["variables"]["customer_name"] = json!("Mallory");
    let cases = [
        (forged, "state_forged"),
        (
            {
                let mut unsigned = first["state"].clone();
                unsigned.as_object_mut().unwrap().remove("signature");
                unsigned
            },
            "state_unsigned",
        ),
    ];
    for (state, code) in cases {
        let (status, _, body) = call(
            &s.router,
            "POST",
            "/interact",
            Some(json!({ "state": state, "request": { "type": "text", "payload": "hi" } })),
            &[],
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str().unwrap()),
            (StatusCode::CONFLICT, code),
            "{body}"
        );
    }
    // A state signed by another server (another secret) is foreign.
    let other = server_with(vec![demo()]).await;
    let _ = other;
    let data = tempfile::tempdir().unwrap();
    let state = AppState::new(
        vec![demo()],
        Signer::new([1; 32]),
        Arc::new(SqliteStore::open(&data.path().join("s.sqlite")).unwrap()),
    )
    .await
    .unwrap();
    let elsewhere = app(state, &Options { widget_dir: None });
    let (status, _, body) = call(
        &elsewhere,
        "POST",
        "/interact",
        Some(json!({ "state": first["state"], "request": { "type": "text", "payload": "hi" } })),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::CONFLICT, "state_forged")
    );
}

#[tokio::test]
async fn both_flavours_give_the_same_traces() {
    for backend in backends() {
        both_flavours_give_the_same_traces_on(backend).await;
    }
}

async fn both_flavours_give_the_same_traces_on(backend: Backend) {
    let db = Db::new(backend).await;
    let (_, router) = db.server(vec![demo()]).await;
    let mut stateless = Vec::new();
    let mut state: Option<Value> = None;
    for request in transcript() {
        let answer = stateless_turn(&router, state.as_ref(), request).await;
        stateless.push(answer["trace"].clone());
        state = Some(answer["state"].clone());
    }
    let mut stateful = Vec::new();
    for request in transcript() {
        let (status, _, traces) = call(
            &router,
            "POST",
            "/state/user/dana%20o/interact",
            Some(json!({ "action": request })),
            &[],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{traces}");
        // Stateful traces carry the time they were made; stateless ones carry no clock.
        let mut traces = traces;
        for trace in traces.as_array_mut().unwrap() {
            assert!(
                trace["time"]
                    .as_u64()
                    .is_some_and(|t| t > 1_700_000_000_000),
                "{trace}"
            );
            trace.as_object_mut().unwrap().remove("time");
        }
        stateful.push(traces);
    }
    assert_eq!(stateless, stateful);
    let seen: Vec<Vec<String>> = stateful.iter().map(said).collect();
    assert_eq!(
        seen[4],
        ["What name should we put on the order?", "<no-reply>"]
    );
    assert_eq!(
        seen[7][0],
        "Payment cancelled; nothing was charged. Anything else I can do?"
    );
    assert_eq!(seen[8][0], "<speak>");
    // SSML stripped by default.
    assert_eq!(
        stateful[8][0]["payload"]["message"],
        "We're open every day from 11 am to 11 pm."
    );
}

#[tokio::test]
async fn stateful_state_admin() {
    for backend in backends() {
        stateful_state_admin_on(backend).await;
    }
}

async fn stateful_state_admin_on(backend: Backend) {
    let db = Db::new(backend).await;
    let (app_state, router) = db.server(vec![demo()]).await;
    let r = &router;
    // State admin needs a secret key, even on a project that needs none to chat.
    let (status, _, body) = call(r, "GET", "/state/user/kim", None, &[]).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "key_required")
    );
    let secret = db.key(&app_state, Scope::Secret, 10, 10).await;
    let auth = [("authorization", secret.as_str())];
    let (status, _, body) = call(r, "GET", "/state/user/kim/", None, &auth).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, _, body) = call(r, "GET", "/state/user/kim", None, &auth).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "unknown_user")
    );
    // The legacy `request` key, and client variables (only settable ones).
    let (status, _, traces) = call(r, "POST", "/state/user/kim/interact", Some(json!({ "request": { "type": "launch" }, "state": { "variables": { "customer_name": "Kim" } } })), &auth).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(said(&traces)[0], "Welcome back to Pizza Palace, Kim! 🍕");
    let (status, _, body) = call(
        r,
        "POST",
        "/state/user/kim/interact",
        Some(json!({ "action": { "type": "launch" }, "state": { "variables": { "total": 0 } } })),
        &auth,
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::FORBIDDEN, "variable_not_settable")
    );

    let (status, _, state) = call(r, "GET", "/state/user/kim", None, &auth).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["variables"]["customer_name"], "Kim");
    let (status, _, state) = call(
        r,
        "PATCH",
        "/state/user/kim/variables",
        Some(json!({ "size": "small" })),
        &auth,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["variables"]["size"], "small");
    let (status, _, body) = call(
        r,
        "PATCH",
        "/state/user/kim/variables",
        Some(json!({ "nope": 1 })),
        &auth,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, _) = call(r, "PUT", "/state/user/kim", Some(state.clone()), &auth).await;
    assert_eq!(status, StatusCode::OK);
    let mut broken = state.clone();
    broken["stack"] = json!([{ "diagramID": "nowhere" }]);
    let (status, _, body) = call(r, "PUT", "/state/user/kim", Some(broken), &auth).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::CONFLICT, "state_invalid")
    );
    let (status, _, _) = call(r, "DELETE", "/state/user/kim", None, &auth).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(r, "DELETE", "/state/user/kim", None, &auth).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_retried_request_is_answered_once() {
    for backend in backends() {
        a_retried_request_is_answered_once_on(backend).await;
    }
}

async fn a_retried_request_is_answered_once_on(backend: Backend) {
    let db = Db::new(backend).await;
    let (app_state, router) = db.server(vec![demo()]).await;
    let secret = db.key(&app_state, Scope::Secret, 10, 10).await;
    let auth = [("authorization", secret.as_str())];
    let r = &router;
    call(
        r,
        "POST",
        "/state/user/u1/interact",
        Some(json!({ "action": { "type": "launch" } })),
        &auth,
    )
    .await;
    let order = json!({ "action": { "type": "text", "payload": "I'd like a small veggie pizza" } });
    let (_, _, first) = call(
        r,
        "POST",
        "/state/user/u1/interact",
        Some(order.clone()),
        &[("x-parley-request-id", "r-42"), auth[0]],
    )
    .await;
    let (_, _, retry) = call(
        r,
        "POST",
        "/state/user/u1/interact",
        Some(order),
        &[("x-parley-request-id", "r-42"), auth[0]],
    )
    .await;
    assert_eq!(first, retry);
    let (_, _, state) = call(r, "GET", "/state/user/u1", None, &auth).await;
    assert_eq!(
        state["storage"]["parley"]["turn"], 2,
        "the retry did not take a turn"
    );
}

/// 24 requests at once for one user, through one server and through two servers sharing the
/// database (as behind a load balancer): every turn is taken exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_for_one_user_lose_no_update() {
    for backend in backends() {
        for servers in [1, 2] {
            concurrent_requests_lose_no_update_on(backend, servers).await;
        }
    }
}

async fn concurrent_requests_lose_no_update_on(backend: Backend, servers: usize) {
    let db = Db::new(backend).await;
    let mut routers = Vec::new();
    for _ in 0..servers {
        routers.push(db.server(vec![demo()]).await);
    }
    let secret = db.key(&routers[0].0, Scope::Secret, 10, 10).await;
    for (state, _) in &routers {
        state.keys().reload().await;
    }
    let auth = ("authorization", secret.as_str());
    call(
        &routers[0].1,
        "POST",
        "/state/user/busy/interact",
        Some(json!({ "action": { "type": "launch" } })),
        &[auth],
    )
    .await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let router = routers[i % servers].1.clone();
        let secret = secret.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("req-{i}");
            // Two servers may both take the turn; the one that writes second is refused
            // (`state_conflict`, after its own retries) and the client sends it again, as the
            // widget does.
            loop {
                let (status, _, body) = call(
                    &router,
                    "POST",
                    "/state/user/busy/interact",
                    Some(json!({ "action": { "type": "text", "payload": "help" } })),
                    &[
                        ("x-parley-request-id", id.as_str()),
                        ("authorization", secret.as_str()),
                    ],
                )
                .await;
                if status != StatusCode::CONFLICT || body["code"] != "state_conflict" {
                    return (status, body);
                }
            }
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "{backend:?}, {servers} server(s): {body}"
        );
    }
    let (_, _, state) = call(&routers[0].1, "GET", "/state/user/busy", None, &[auth]).await;
    assert_eq!(
        state["storage"]["parley"]["turn"], 25,
        "{backend:?}, {servers} server(s)"
    );
}

#[tokio::test]
async fn bad_requests_get_clear_json_errors() {
    let s = server().await;
    let r = &s.router;
    let post = |body: &'static str, content_type: &'static str| {
        Request::post("/interact")
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post("{not json", "application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post(
                r#"{"request": {"type": "text", "payload": 5}}"#,
                "application/json",
            ),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            post(r#"{"request": 7}"#, "application/json"),
            StatusCode::BAD_REQUEST,
            "invalid_body",
        ),
        (
            post(r#"{"request": {"type": "launch"}}"#, "text/plain"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            Request::post("/interact")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    r#"{{"request": {{"type": "text", "payload": "{}"}}}}"#,
                    "x".repeat(300_000)
                )))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            Request::post("/interact")
                .header("content-type", "application/json")
                .header("versionID", "v404")
                .body(Body::from(r#"{"request": {"type": "launch"}}"#))
                .unwrap(),
            StatusCode::NOT_FOUND,
            "unknown_version",
        ),
        (
            Request::post("/public/nope/interact")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"request": {"type": "launch"}}"#))
                .unwrap(),
            StatusCode::NOT_FOUND,
            "unknown_project",
        ),
        (
            Request::post(format!("/state/user/{}/interact", "u".repeat(300)))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"action": {"type": "launch"}}"#))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "invalid_user_id",
        ),
        (
            Request::post("/interact")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"request": {"type": "launch", "payload": {"variables": {"total": 1}}}}"#,
                ))
                .unwrap(),
            StatusCode::FORBIDDEN,
            "variable_not_settable",
        ),
    ];
    for (request, status, code) in cases {
        let uri = request.uri().to_string();
        let (got, content_type, body) = raw(r, request).await;
        assert_eq!(
            (got, body["code"].as_str().unwrap_or_default()),
            (status, code),
            "{uri}: {body}"
        );
        assert_eq!(content_type, "application/json");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // After `end`, any request starts a new conversation, as in Voiceflow's runtime.
    let (_, _, _) = call(
        r,
        "POST",
        "/state/user/e/interact",
        Some(json!({ "action": { "type": "launch" } })),
        &[],
    )
    .await;
    for _ in 0..3 {
        call(
            r,
            "POST",
            "/state/user/e/interact",
            Some(json!({ "action": { "type": "no-reply" } })),
            &[],
        )
        .await;
    }
    let (status, _, body) = call(
        r,
        "POST",
        "/state/user/e/interact",
        Some(json!({ "action": { "type": "text", "payload": "what's on the menu" } })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(said(&body)[0].contains("Pizza Palace"), "{body}");
}

#[tokio::test]
async fn several_projects_are_named_in_the_path() {
    let mut other: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    other["id"] = json!("pizza2");
    other["name"] = json!("Pizza Two");
    let other = compile(serde_json::from_value::<Project>(other).unwrap()).unwrap();
    let s = server_with(vec![demo(), other]).await;
    let (status, _, body) = call(
        &s.router,
        "POST",
        "/interact",
        Some(json!({ "request": { "type": "launch" } })),
        &[],
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "project_required")
    );
    let (status, _, _) = call(
        &s.router,
        "POST",
        "/public/pizza2/interact",
        Some(json!({ "request": { "type": "launch" } })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, traces) = call(
        &s.router,
        "POST",
        "/public/pizza2/state/user/x/interact",
        Some(json!({ "action": { "type": "launch" } })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The public route answers Voiceflow's `{ trace }` envelope.
    assert!(!said(&traces["trace"]).is_empty(), "{traces}");
}

fn api_project(url: &str, allow_private: bool) -> CompiledProject {
    let project = json!({
        "id": "weather", "name": "Weather",
        "versions": [{ "id": "v1", "startFlow": "main",
            "variables": [{ "name": "temp", "default": null }],
            "settings": { "allowPrivateNetwork": allow_private },
            "flows": [{ "id": "main", "start": "call", "blocks": [
                { "id": "call", "type": "api_call", "method": "GET", "url": url,
                  "mappings": [{ "path": "current.temp", "variable": "temp" }], "timeoutMs": 2000,
                  "success": "ok", "failure": "ko" },
                { "id": "ok", "type": "text", "texts": ["It is {temp} degrees."] },
                { "id": "ko", "type": "text", "texts": ["No weather today."] }
            ] }] }]
    });
    compile(serde_json::from_value(project).unwrap()).unwrap()
}

/// A local API on loopback for the api_call block.
async fn local_api() -> String {
    let api = Router::new()
        .route(
            "/weather",
            axum::routing::get(|| async { axum::Json(json!({ "current": { "temp": 21.5 } })) }),
        )
        .route(
            "/slow",
            axum::routing::get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn api_calls_reach_a_local_api_only_when_allowed() {
    let base = local_api().await;
    let allowed = server_with(vec![api_project(&format!("{base}/weather"), true)]).await;
    let answer = stateless_turn(&allowed.router, None, json!({ "type": "launch" })).await;
    assert_eq!(said(&answer["trace"]), ["It is 21.5 degrees."]);

    let refused = server_with(vec![api_project(&format!("{base}/weather"), false)]).await;
    let answer = stateless_turn(&refused.router, None, json!({ "type": "launch" })).await;
    assert_eq!(said(&answer["trace"]), ["No weather today."]);
    let by_name = server_with(vec![api_project(
        &format!("{}/weather", base.replace("127.0.0.1", "localhost")),
        false,
    )])
    .await;
    let answer = stateless_turn(&by_name.router, None, json!({ "type": "launch" })).await;
    assert_eq!(
        said(&answer["trace"]),
        ["No weather today."],
        "a name that resolves to loopback is refused too"
    );

    let slow = server_with(vec![api_project(&format!("{base}/slow"), true)]).await;
    let started = std::time::Instant::now();
    let answer = stateless_turn(&slow.router, None, json!({ "type": "launch" })).await;
    assert_eq!(said(&answer["trace"]), ["No weather today."]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "the block's 2 s timeout applies"
    );
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    for backend in backends() {
        sessions_survive_a_restart_on(backend).await;
    }
}

async fn sessions_survive_a_restart_on(backend: Backend) {
    let db = Db::new(backend).await;
    let (_, first) = db.server(vec![demo()]).await;
    call(
        &first,
        "POST",
        "/state/user/ann/interact",
        Some(json!({ "action": { "type": "launch" } })),
        &[],
    )
    .await;
    call(
        &first,
        "POST",
        "/state/user/ann/interact",
        Some(json!({ "action": { "type": "text", "payload": "a large pizza" } })),
        &[],
    )
    .await;
    drop(first);
    let (_, second) = db.server(vec![demo()]).await;
    let (_, _, traces) = call(
        &second,
        "POST",
        "/state/user/ann/interact",
        Some(json!({ "action": { "type": "text", "payload": "veggie" } })),
        &[],
    )
    .await;
    assert_eq!(
        said(&traces)[0],
        "How many large veggie pizzas would you like?"
    );
}

/// One real socket on loopback, a raw HTTP/1.1 exchange, CORS, and a graceful shutdown.
#[tokio::test]
async fn serves_over_a_real_socket_and_shuts_down() {
    let s = server().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, s.router.clone(), async {
        let _ = stopped.await;
    }));

    let exchange = |request: String| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let body = r#"{"request":{"type":"launch"}}"#;
    let response = exchange(format!(
        "POST /interact HTTP/1.1\r\nHost: localhost\r\nOrigin: https://shop.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let lower = response.to_lowercase();
    assert!(
        lower.contains("access-control-allow-origin: https://shop.example"),
        "{response}"
    );
    assert!(
        lower.contains("x-request-id: "),
        "every answer names its request id"
    );
    assert!(response.contains("Pizza Palace"));
    let preflight = exchange("OPTIONS /interact HTTP/1.1\r\nHost: localhost\r\nOrigin: https://shop.example\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, versionid\r\nConnection: close\r\n\r\n".to_owned()).await;
    assert!(preflight.starts_with("HTTP/1.1 200 OK\r\n"), "{preflight}");
    assert!(
        preflight
            .to_lowercase()
            .contains("access-control-allow-headers"),
        "{preflight}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stops when asked")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn ready_names_the_projects() {
    let s = server().await;
    let (status, _, body) = call(&s.router, "GET", "/ready", None, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({ "status": "ready", "projects": ["pizza"] }));
}

/// The real binary, killed with SIGKILL mid-conversation and restarted on the same data dir,
/// loses no committed turn: the conversation goes on where it was.
#[cfg(unix)]
#[tokio::test]
async fn a_killed_server_loses_no_committed_turn() {
    for backend in backends() {
        a_killed_server_loses_no_committed_turn_on(backend).await;
    }
}

#[cfg(unix)]
async fn a_killed_server_loses_no_committed_turn_on(backend: Backend) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let db = Db::new(backend).await;
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_parley"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(db.dir.path());
        if let Some(url) = &db.url {
            command.args(["--database-url", url]);
        }
        let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
        // The log's first lines may be warnings; the URL comes in the announcement.
        let mut log = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.contains("http://") {
            line.clear();
            assert!(
                log.read_line(&mut line).unwrap() > 0,
                "the server said no URL"
            );
        }
        // Keep reading the log, so the server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        (child, url)
    };
    async fn post(url: &str, body: Value) -> Value {
        let (host, path) = url.trim_start_matches("http://").split_once('/').unwrap();
        let body = body.to_string();
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!(
            "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (_, json) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {response}"))
    }

    let (mut first, url) = start();
    let interact = format!("{url}/state/user/kill-test/interact");
    post(&interact, json!({ "action": { "type": "launch" } })).await;
    post(
        &interact,
        json!({ "action": { "type": "text", "payload": "a large pizza" } }),
    )
    .await;
    first.kill().unwrap(); // SIGKILL: no graceful shutdown
    first.wait().unwrap();

    let (mut second, url) = start();
    let traces = post(
        &format!("{url}/state/user/kill-test/interact"),
        json!({ "action": { "type": "text", "payload": "veggie" } }),
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(
        said(&traces)[0],
        "How many large veggie pizzas would you like?"
    );
}

/// `parley chat` holds a conversation on stdin and stdout.
#[test]
fn the_terminal_chat_talks() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .arg("chat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"2\nwhat can you do\n/quit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.contains("   2) See the menu"), "{out}");
    assert!(
        out.contains("bot> Here is our menu."),
        "button 2 was taken: {out}"
    );
    assert!(out.contains("bot> I can take a pizza order"), "{out}");
}

/// The served OpenAPI document describes exactly the routes the router has: every documented
/// operation reaches a handler (not the 404 fallback, not 405), and every route is documented.
#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let s = server().await;
    let (status, content_type, doc) = call(&s.router, "GET", "/openapi.json", None, &[]).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            let uri = path
                .replace("{projectID}", "pizza")
                .replace("{environmentID}", "development")
                .replace("{versionID}", "development")
                .replace("{userID}", "doc-user")
                .replace("{name}", "logo.svg");
            let body = matches!(method.as_str(), "post" | "put" | "patch").then(|| json!({}));
            let (status, _, answer) =
                call(&s.router, &method.to_uppercase(), &uri, body, &[]).await;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(
                !(status == StatusCode::NOT_FOUND && answer["code"] == "not_found"),
                "{method} {path} reaches no handler"
            );
        }
    }
    documented.sort();
    let mut routes = vec![
        "GET /health",
        "GET /ready",
        "GET /openapi.json",
        "GET /demo/api/estimate",
        "GET /demo/images/{name}",
        "GET /interact/state",
        "GET /interact/{versionID}/state",
        "POST /interact",
        "POST /interact/{versionID}",
        "POST /state/user/{userID}/interact",
        "GET /state/user/{userID}",
        "PUT /state/user/{userID}",
        "DELETE /state/user/{userID}",
        "PATCH /state/user/{userID}/variables",
        "POST /public/{projectID}/state/user/{userID}/interact",
        "GET /public/{projectID}/publishing",
        "POST /public/{projectID}/transcripts",
        // The routes above, for the project the path names.
        "GET /public/{projectID}/interact/state",
        "GET /public/{projectID}/interact/{versionID}/state",
        "POST /public/{projectID}/interact",
        "POST /public/{projectID}/interact/{versionID}",
        "GET /public/{projectID}/state/user/{userID}",
        "PUT /public/{projectID}/state/user/{userID}",
        "DELETE /public/{projectID}/state/user/{userID}",
        "PATCH /public/{projectID}/state/user/{userID}/variables",
        // Voiceflow's current API and the legacy stream.
        "POST /v4/project/{projectID}/session",
        "POST /v4/project/{projectID}/environment/{environmentID}/session",
        "POST /v4/interact",
        "POST /v4/interact/stream",
        "POST /v2/project/{projectID}/user/{userID}/interact/stream",
    ];
    routes.sort();
    assert_eq!(documented, routes);
    answered_statuses_are_documented(&s.router, &doc).await;
}

/// The other way for statuses: each documented operation is sent the requests that make the
/// router's shared refusals (a body that is no JSON, not JSON at all or too large, a
/// `versionID` that is not ASCII, typed text over the limit), and whatever status comes back
/// must be one the document lists for that operation; each documented status is one the server
/// answers somewhere.
async fn answered_statuses_are_documented(router: &Router, doc: &Value) {
    use axum::http::HeaderValue;
    let answered_anywhere = [
        200, 204, 400, 401, 403, 404, 408, 409, 413, 415, 429, 500, 503,
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        let uri = path
            .replace("{projectID}", "pizza")
            .replace("{environmentID}", "development")
            .replace("{versionID}", "development")
            .replace("{userID}", "doc-user")
            .replace("{name}", "logo.svg");
        for (method, operation) in item.as_object().unwrap() {
            let documented: Vec<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.parse().unwrap())
                .collect();
            for status in &documented {
                assert!(
                    answered_anywhere.contains(status),
                    "{method} {path} documents {status}, which the server never answers"
                );
            }
            let method = method.to_uppercase();
            let with_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
            let request = |content_type: &str, body: String| {
                Request::builder()
                    .method(method.as_str())
                    .uri(&uri)
                    .header("content-type", content_type)
                    .body(Body::from(body))
                    .unwrap()
            };
            let mut probes = vec![
                Request::builder()
                    .method(method.as_str())
                    .uri(&uri)
                    .header("versionID", HeaderValue::from_bytes(b"v\xe9").unwrap())
                    .body(Body::empty())
                    .unwrap(),
            ];
            if with_body {
                probes.push(request("application/json", "{not json".into()));
                probes.push(request("text/plain", "{}".into()));
                probes.push(request("application/json", "x".repeat(300_000)));
                let long = "é".repeat(2001);
                probes.push(request(
                    "application/json",
                    json!({ "request": { "type": "text", "payload": long },
                            "action": { "type": "text", "payload": long } })
                    .to_string(),
                ));
            }
            for probe in probes {
                let (status, _, answer) = raw(router, probe).await;
                assert!(
                    documented.contains(&status.as_u16()),
                    "{method} {path} answered {status} ({answer}), which the document does not list"
                );
            }
        }
    }
}

/// Every store passes the same checks: compare-and-swap writes, deletes, keys, and a second
/// handle (a restarted server) that sees everything committed.
#[tokio::test]
async fn the_stores_pass_the_same_checks() {
    for backend in backends() {
        let db = Db::new(backend).await;
        let (first, second) = (db.open().await, db.open().await);
        parley_server::store::conformance::sessions(first.as_ref(), second.as_ref()).await;
        parley_server::store::conformance::keys(first.as_ref()).await;
        parley_server::store::conformance::retention(first.as_ref()).await;
    }
}

/// A project with an allowed origin and keys: who may do what, from where, how often.
#[tokio::test]
async fn keys_scopes_origins_and_rates() {
    for backend in backends() {
        keys_scopes_origins_and_rates_on(backend).await;
    }
}

async fn keys_scopes_origins_and_rates_on(backend: Backend) {
    let mut project: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    project["allowedOrigins"] = json!(["https://shop.example"]);
    let project = compile(serde_json::from_value::<Project>(project).unwrap()).unwrap();
    let mut other: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    other["id"] = json!("other");
    let other = compile(serde_json::from_value::<Project>(other).unwrap()).unwrap();
    let db = Db::new(backend).await;
    let (state, r) = db.server(vec![project, other]).await;
    let launch = || Some(json!({ "request": { "type": "launch" } }));
    let code = |(status, _, body): (StatusCode, String, Value)| {
        (status, body["code"].as_str().unwrap_or("").to_owned())
    };

    // No key yet: the project is open to interact, from its origin or from no page at all.
    let (status, _, _) = call(&r, "POST", "/public/pizza/interact", launch(), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let from_shop = ("origin", "https://shop.example");
    let from_evil = ("origin", "https://evil.example");
    let (status, _, _) = call(&r, "POST", "/public/pizza/interact", launch(), &[from_shop]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        code(call(&r, "POST", "/public/pizza/interact", launch(), &[from_evil]).await),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );

    // A Voiceflow-style or stale `Authorization` value means nothing to a project without
    // keys: it is ignored, as Voiceflow's clients send one whatever the project.
    let (status, _, body) = call(
        &r,
        "POST",
        "/public/pizza/interact",
        launch(),
        &[("authorization", "VF.DM.6523.abcdef")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // With a key, the project needs one, except on Voiceflow's public route (below).
    let public = db.key(&state, Scope::Public, 5, 3).await;
    let secret = db.key(&state, Scope::Secret, 5, 3).await;
    assert_eq!(
        code(call(&r, "POST", "/interact", launch(), &[]).await),
        (StatusCode::BAD_REQUEST, "project_required".into()),
        "two projects here: without a key, the route must name one"
    );
    // A project locked with a key keeps its public route closed to keyless pages (its file
    // says nothing of `publicAccess`): an upgrade opens no locked project.
    assert_eq!(
        code(call(&r, "POST", "/public/pizza/interact", launch(), &[from_shop]).await),
        (StatusCode::UNAUTHORIZED, "key_required".into())
    );
    let mut forged = public.clone();
    forged.replace_range(forged.len() - 4.., "0000");
    for bad in [forged.as_str(), "VF.DM.6523.abcdef", "pk.nothing"] {
        assert_eq!(
            code(call(&r, "POST", "/interact", launch(), &[("authorization", bad)]).await),
            (StatusCode::UNAUTHORIZED, "invalid_key".into()),
            "{bad}"
        );
    }
    // The key names its project: no path needed, even with two projects here.
    let with_public = ("authorization", public.as_str());
    let (status, _, _) = call(&r, "POST", "/interact", launch(), &[with_public, from_shop]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        code(
            call(
                &r,
                "POST",
                "/public/other/interact",
                launch(),
                &[with_public]
            )
            .await
        ),
        (StatusCode::FORBIDDEN, "key_wrong_project".into())
    );
    assert_eq!(
        code(call(&r, "POST", "/interact", launch(), &[with_public, from_evil]).await),
        (StatusCode::FORBIDDEN, "origin_not_allowed".into())
    );
    // A public key may not read state; a secret one may.
    assert_eq!(
        code(call(&r, "GET", "/state/user/ann", None, &[with_public]).await),
        (StatusCode::FORBIDDEN, "key_scope".into())
    );
    let with_secret = ("authorization", secret.as_str());
    assert_eq!(
        code(call(&r, "GET", "/state/user/ann", None, &[with_secret]).await),
        (StatusCode::NOT_FOUND, "unknown_user".into())
    );

    // Rates: 3 a minute from one client, 5 for the key as a whole; requests refused for
    // another reason (project, origin, scope) do not count.
    let client = |ip: &str| {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 40000))
    };
    let send = |ip: &'static str| {
        let r = r.clone();
        let public = public.clone();
        async move {
            let mut request = Request::post("/interact")
                .header("content-type", "application/json")
                .header("authorization", public.as_str())
                .body(Body::from(launch().unwrap().to_string()))
                .unwrap();
            request.extensions_mut().insert(client(ip));
            let response = r.oneshot(request).await.unwrap();
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            (response.status(), retry)
        }
    };
    for _ in 0..3 {
        assert_eq!(send("10.0.0.1").await, (StatusCode::OK, None));
    }
    let (status, retry) = send("10.0.0.1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some_and(|s| (1..=20).contains(&s)), "{retry:?}");
    // Another client gets in until the key's 5 a minute are spent: the one request without a
    // client address and the three above counted; the refused fourth did not.
    assert_eq!(send("10.0.0.2").await.0, StatusCode::OK);
    assert_eq!(send("10.0.0.2").await.0, StatusCode::TOO_MANY_REQUESTS);
    // The secret key is not rate limited.
    for _ in 0..10 {
        let (status, _, _) = call(&r, "POST", "/interact", launch(), &[with_secret]).await;
        assert_eq!(status, StatusCode::OK);
    }

    // Revoked: refused at once after a reload (a running server reloads every 5 s).
    let store = db.open().await;
    let id = public
        .strip_prefix("VF.PK.")
        .and_then(|rest| rest.split('_').next())
        .unwrap();
    assert!(store.revoke_key(id).await.unwrap());
    state.keys().reload().await;
    assert_eq!(
        code(call(&r, "POST", "/interact", launch(), &[with_public]).await),
        (StatusCode::UNAUTHORIZED, "invalid_key".into())
    );
}

/// CORS follows each project's allowed origins; a project without any allows every origin.
#[tokio::test]
async fn cors_follows_each_projects_origins() {
    let mut shop: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    shop["allowedOrigins"] = json!(["https://shop.example", "http://localhost:5173"]);
    let shop = compile(serde_json::from_value::<Project>(shop).unwrap()).unwrap();
    let mut open: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    open["id"] = json!("open");
    let open = compile(serde_json::from_value::<Project>(open).unwrap()).unwrap();
    let s = server_with(vec![shop, open]).await;
    let preflight = |path: &str, origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri(path)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let allowed = |response: &axum::http::Response<Body>| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    for (path, origin, expected) in [
        ("/public/pizza/interact", "https://shop.example", true),
        ("/public/pizza/interact", "http://localhost:5173", true),
        ("/public/pizza/interact", "https://evil.example", false),
        (
            "/public/pizza/interact",
            "https://shop.example.evil.example",
            false,
        ),
        ("/public/open/interact", "https://evil.example", true),
        // No project in the path: any project's origins pass the preflight; the key then
        // decides (the handler checks its project's origins exactly).
        ("/interact", "https://evil.example", true),
    ] {
        let response = s
            .router
            .clone()
            .oneshot(preflight(path, origin))
            .await
            .unwrap();
        assert_eq!(
            allowed(&response),
            expected.then(|| origin.to_owned()),
            "{path} from {origin}"
        );
    }
}

/// `parley keys create | list | revoke` against the real binary, and a server that takes the
/// key, then refuses it once revoked.
#[cfg(unix)]
#[tokio::test]
async fn the_keys_command_manages_keys() {
    use std::process::Command;
    let data = tempfile::tempdir().unwrap();
    let parley = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(args)
            .arg("--data-dir")
            .arg(data.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    // A server already running, with no key yet: open for interact.
    let store = parley_server::store::open(None, data.path()).await.unwrap();
    let state = AppState::new(vec![demo()], Signer::new([9; 32]), store)
        .await
        .unwrap();
    let router = app(state.clone(), &Options { widget_dir: None });
    let launch = || Some(json!({ "request": { "type": "launch" } }));
    let (status, _, _) = call(&router, "POST", "/interact", launch(), &[]).await;
    assert_eq!(status, StatusCode::OK);

    let (ok, key, log) = parley(&[
        "keys",
        "create",
        "--project",
        "pizza",
        "--scope",
        "secret",
        "--name",
        "ops",
    ]);
    assert!(ok, "{log}");
    let key = key.trim().to_owned();
    assert!(key.starts_with("VF.DM."), "{key}");
    let id = key[6..].split('_').next().unwrap().to_owned();
    let (ok, list, _) = parley(&["keys", "list"]);
    assert!(ok);
    assert!(
        list.contains(&id) && list.contains("secret") && list.contains("ops"),
        "{list}"
    );
    assert!(!list.contains(&key), "the list never shows a key");
    let (ok, _, log) = parley(&["keys", "create", "--project", "pizza", "--scope", "root"]);
    assert!(!ok && log.contains("public"), "{log}");

    // The running server sees the new key within five seconds (no reload asked), and then
    // refuses keyless requests: no request with a key is needed for that.
    let mut locked = false;
    for _ in 0..40 {
        let (status, _, _) = call(&router, "POST", "/interact", launch(), &[]).await;
        if status == StatusCode::UNAUTHORIZED {
            locked = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        locked,
        "a key created by another process locks the project within 8 s"
    );
    let auth = [("authorization", key.as_str())];
    let (status, _, body) = call(&router, "GET", "/state/user/ann", None, &auth).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_user"))
    );

    let (ok, _, log) = parley(&["keys", "revoke", &id]);
    assert!(ok, "{log}");
    let (ok, _, log) = parley(&["keys", "revoke", &id]);
    assert!(!ok && log.contains("no live key"), "{log}");
    state.keys().reload().await;
    let (status, _, _) = call(&router, "GET", "/state/user/ann", None, &auth).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = call(&router, "POST", "/interact", launch(), &[]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "revoking the only key does not reopen the project"
    );
}

/// Voiceflow's shapes on the routes both runtimes have: the public route's `{ trace }`, the
/// keyed route's `?verbose=true`, text traces with slate, the publishing settings and the
/// transcript call Voiceflow's web widget makes, CORS on every answer.
#[tokio::test]
async fn voiceflow_shapes_on_the_shared_routes() {
    let s = server().await;
    let r = &s.router;
    let launch = json!({ "action": { "type": "launch" } });
    let (status, _, answer) = call(
        r,
        "POST",
        "/public/pizza/state/user/vf-1/interact",
        Some(launch.clone()),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let traces = answer["trace"].as_array().expect("the {trace} envelope");
    let text = &traces[0];
    assert_eq!(text["type"], "text");
    assert!(text["time"].as_u64().is_some(), "{text}");
    assert_eq!(text["payload"]["delay"], 600);
    let slate = &text["payload"]["slate"];
    assert!(slate["id"].is_string() && slate["messageDelayMilliseconds"] == 600);
    // Bold as Voiceflow writes it (`fontWeight: "700"`), the message as plain text.
    let leaves = slate["content"][0]["children"].as_array().unwrap();
    assert!(
        leaves
            .iter()
            .any(|l| l["text"] == "Pizza Palace" && l["fontWeight"] == "700"),
        "{slate}"
    );
    assert!(!text["payload"]["message"].as_str().unwrap().contains("**"));

    // The keyed route: a bare array, or `{ state, trace, request }` when verbose.
    let (_, _, bare) = call(
        r,
        "POST",
        "/state/user/vf-2/interact",
        Some(launch.clone()),
        &[],
    )
    .await;
    assert!(bare.is_array(), "{bare}");
    // Verbose hands the state out only to a secret key (who may read it anyway).
    let (_, _, verbose) = call(
        r,
        "POST",
        "/state/user/vf-2/interact?verbose=true",
        Some(json!({ "action": { "type": "text", "payload": "what's on the menu?" } })),
        &[],
    )
    .await;
    assert!(
        verbose["trace"].is_array() && verbose.get("state").is_none(),
        "no key, no state: {verbose}"
    );
    let db = Db::new(Backend::Sqlite).await;
    let (app_state, keyed) = db.server(vec![demo()]).await;
    let secret = db.key(&app_state, Scope::Secret, 100, 100).await;
    let r = &keyed;
    let with_secret = [("authorization", secret.as_str())];
    call(
        r,
        "POST",
        "/state/user/vf-2/interact",
        Some(launch.clone()),
        &with_secret,
    )
    .await;
    let (_, _, verbose) = call(
        r,
        "POST",
        "/state/user/vf-2/interact?verbose=true",
        Some(json!({ "action": { "type": "text", "payload": "what's on the menu?" } })),
        &with_secret,
    )
    .await;
    assert!(verbose["trace"].is_array(), "{verbose}");
    assert!(verbose["state"]["stack"].is_array(), "{verbose}");
    assert_eq!(verbose["request"]["type"], "intent", "{verbose}");
    assert_eq!(verbose["state"]["variables"]["user_id"], "vf-2");
    assert_eq!(verbose["state"]["variables"]["sessions"], 1);
    let r = &s.router;

    // What Voiceflow's widget calls besides interact.
    let (status, _, publishing) = call(r, "GET", "/public/pizza/publishing", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{publishing}");
    assert_eq!(publishing["title"], "Pizza Palace", "{publishing}");
    assert_eq!(publishing["color"], "#c2410c", "{publishing}");
    assert!(
        publishing
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string),
        "every publishing value is a string: {publishing}"
    );
    let (status, _, ack) = call(
        r,
        "POST",
        "/public/pizza/transcripts",
        Some(
            json!({ "os": "Linux", "browser": "Chrome", "device": "desktop", "sessionID": "vf-1" }),
        ),
        &[],
    )
    .await;
    assert_eq!((status, ack), (StatusCode::OK, json!({})));

    // CORS: the preflight allows what Voiceflow's clients send; errors and 404s carry it too.
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/state/user/u/interact")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,sessionid,versionid,platform",
        )
        .body(Body::empty())
        .unwrap();
    let response = r.clone().oneshot(preflight).await.unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-headers")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for header in [
        "authorization",
        "content-type",
        "sessionid",
        "versionid",
        "platform",
    ] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
    for (method, uri) in [
        ("POST", "/public/nope/state/user/u/interact"),
        ("GET", "/public/pizza/nothing-here"),
        ("POST", "/feedback/pizza/user/u"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("origin", "https://shop.example")
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let response = r.clone().oneshot(request).await.unwrap();
        assert!(response.status().is_client_error(), "{uri}");
        assert!(
            response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{method} {uri}: no CORS header on the error"
        );
    }
}

/// How Voiceflow's stateless clients start: `request: null`, their own initial state, and a
/// used state with its stack emptied (runtime-client-js's second `start()`).
#[tokio::test]
async fn stateless_starts_as_voiceflow_clients_send_them() {
    let s = server().await;
    let r = &s.router;
    let said_first = |answer: &Value| said(&answer["trace"])[0].clone();
    for body in [json!({ "request": null }), json!({})] {
        let (status, _, answer) = call(r, "POST", "/interact", Some(body.clone()), &[]).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer}");
        assert!(said_first(&answer).contains("Pizza Palace"), "{answer}");
        // No maximum state age here: the state carries no clock reading, so the same launch
        // gives the same bytes at any time.
        assert!(answer["state"].get("signedAt").is_none(), "{answer}");
    }
    // Voiceflow's initial state, built by the client: only settable variables are taken.
    let initial = json!({
        "stack": [], "storage": {},
        "variables": { "customer_name": "Kim", "total": 1000 }
    });
    let (status, _, answer) = call(
        r,
        "POST",
        "/interact/development",
        Some(json!({ "state": initial, "request": null, "config": { "tts": false, "stripSSML": true } })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["state"]["variables"]["customer_name"], "Kim");
    assert_ne!(answer["state"]["variables"]["total"], 1000);
    // A used state, signature kept, stack emptied: a new conversation.
    let mut used = answer["state"].clone();
    used["stack"] = json!([]);
    let (status, _, again) = call(
        r,
        "POST",
        "/interact",
        Some(json!({ "state": used, "request": null })),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert!(said_first(&again).contains("Kim"), "{again}");
    // Any other edit is still refused.
    let mut edited = answer["state"].clone();
    edited["variables"]["total"] = json!(1);
    let (status, _, refused) = call(
        r,
        "POST",
        "/interact",
        Some(json!({ "state": edited, "action": { "type": "text", "payload": "hi" } })),
        &[],
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str().unwrap()),
        (StatusCode::CONFLICT, "state_forged")
    );
}

/// The public route without a key: closed by `publicAccess: false`, and limited per client.
#[tokio::test]
async fn the_keyless_public_route_has_its_own_guards() {
    let launch = || Some(json!({ "action": { "type": "launch" } }));
    let public_route = "/public/pizza/state/user/a/interact";
    // A project with keys that turns public access off: every request needs a key.
    let mut closed: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    closed["publicAccess"] = json!(false);
    let db = Db::new(Backend::Sqlite).await;
    let (app_state, r) = db
        .server(vec![
            compile(serde_json::from_value::<Project>(closed).unwrap()).unwrap(),
        ])
        .await;
    let (status, _, _) = call(&r, "POST", public_route, launch(), &[]).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "no key yet: open like any project without keys"
    );
    let key = db.key(&app_state, Scope::Public, 100, 100).await;
    let (status, _, body) = call(&r, "POST", public_route, launch(), &[]).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "key_required")
    );
    let (status, _, _) = call(
        &r,
        "POST",
        public_route,
        launch(),
        &[("authorization", &key)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // `publicAccess: true` opens a keyed project's public route; the state stays unreadable
    // there and with a public key: `?verbose=true` hands it only to a secret key.
    let mut open: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    open["publicAccess"] = json!(true);
    let db = Db::new(Backend::Sqlite).await;
    let (app_state, r) = db
        .server(vec![
            compile(serde_json::from_value::<Project>(open).unwrap()).unwrap(),
        ])
        .await;
    let key = db.key(&app_state, Scope::Public, 100, 100).await;
    let (status, _, _) = call(&r, "POST", public_route, launch(), &[]).await;
    assert_eq!(status, StatusCode::OK, "publicAccess: true");
    let text = || Some(json!({ "action": { "type": "text", "payload": "hi" } }));
    let verbose = format!("{public_route}?verbose=true");
    let (_, _, keyless) = call(&r, "POST", &verbose, text(), &[]).await;
    let (_, _, public) = call(
        &r,
        "POST",
        "/state/user/a/interact?verbose=true",
        text(),
        &[("authorization", &key)],
    )
    .await;
    for answer in [keyless, public] {
        assert!(
            answer["trace"].is_array() && answer.get("state").is_none(),
            "{answer}"
        );
    }

    // A project's own rate per client address on the keyless public route.
    let mut slow: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    slow["publicRequestsPerMinute"] = json!(2);
    let s = server_with(vec![
        compile(serde_json::from_value::<Project>(slow).unwrap()).unwrap(),
    ])
    .await;
    for _ in 0..2 {
        let (status, _, _) = call(&s.router, "POST", public_route, launch(), &[]).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _, body) = call(&s.router, "POST", public_route, launch(), &[]).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // The other routes of a project without keys are not limited by it.
    for _ in 0..3 {
        let (status, _, _) = call(&s.router, "POST", "/state/user/b/interact", launch(), &[]).await;
        assert_eq!(status, StatusCode::OK);
    }
}
