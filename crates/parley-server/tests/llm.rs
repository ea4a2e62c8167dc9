//! LLM blocks against an OpenAI-compatible server on loopback: a stub that speaks the exact
//! wire format of `POST /v1/chat/completions` with `stream: true` (role chunk, content chunks,
//! the finish chunk, `data: [DONE]`), its errors, slow tokens and a dropped connection, driven by
//! the real client code. No model is downloaded: none can be installed here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use parley_engine::{CompiledProject, compile};
use parley_server::llm::LlmClient;
use parley_server::signing::Signer;
use parley_server::store::SqliteStore;
use parley_server::{AppState, Options, app};
use serde_json::{Value, json};
use tower::ServiceExt;

/// How the stub answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// "Yes, " "we " "deliver." then [DONE].
    Answer,
    /// The same, 300 ms between tokens.
    Slow,
    /// 401 with OpenAI's error body.
    Refuse,
    /// Two content chunks, then the connection closes without [DONE].
    Drop,
}

#[derive(Debug, Default)]
struct Seen {
    bodies: Vec<Value>,
    authorization: Vec<String>,
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": "tiny", "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }]
    });
    format!("data: {chunk}\n\n")
}

/// An OpenAI-compatible chat completions server on loopback.
async fn model_server(mode: Mode) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = seen.clone();
    let route = axum::routing::post(move |headers: HeaderMap, body: String| {
        let log = log.clone();
        async move {
            {
                let mut log = log.lock().unwrap();
                log.bodies.push(serde_json::from_str(&body).unwrap());
                log.authorization.push(
                    headers
                        .get("authorization")
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default(),
                );
            }
            if mode == Mode::Refuse {
                let error = json!({ "error": { "message": "Incorrect API key provided",
                    "type": "invalid_request_error", "code": "invalid_api_key" } });
                return (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response();
            }
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(8);
            tokio::spawn(async move {
                let pause = if mode == Mode::Slow { 300 } else { 5 };
                let _ = tx
                    .send(Ok(chunk(
                        json!({ "role": "assistant", "content": "" }),
                        None,
                    )))
                    .await;
                let tokens = ["Yes, ", "we ", "deliver."];
                for (i, token) in tokens.iter().enumerate() {
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    if mode == Mode::Drop && i == 2 {
                        // The connection goes away mid-answer.
                        let _ = tx.send(Err(std::io::Error::other("gone"))).await;
                        return;
                    }
                    let _ = tx.send(Ok(chunk(json!({ "content": token }), None))).await;
                }
                let _ = tx.send(Ok(chunk(json!({}), Some("stop")))).await;
                let _ = tx.send(Ok("data: [DONE]\n\n".to_owned())).await;
            });
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(stream))
                .unwrap()
        }
    });
    let router = Router::new().route("/v1/chat/completions", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

fn project() -> CompiledProject {
    let project = json!({
        "id": "pizza", "name": "Ask",
        "versions": [{ "id": "v1", "startFlow": "main",
            "variables": [{ "name": "question", "default": null }, { "name": "answer", "default": null }],
            "flows": [{ "id": "main", "start": "hello", "blocks": [
                { "id": "hello", "type": "text", "texts": ["Ask me."], "next": "wait" },
                { "id": "wait", "type": "capture", "variable": "question", "next": "think" },
                { "id": "think", "type": "llm", "system": "You answer for Pizza Palace.",
                  "prompt": "{question}", "history": 4, "temperature": 0.2, "maxTokens": 50,
                  "timeoutMs": 5000, "variable": "answer", "next": "wait", "failure": "sorry" },
                { "id": "sorry", "type": "text", "texts": ["I cannot answer now."], "next": "wait" }
            ] }] }]
    });
    compile(serde_json::from_value(project).unwrap()).unwrap()
}

async fn server(llm: Option<LlmClient>) -> (Router, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap();
    let state = AppState::new(vec![project()], Signer::new([5; 32]), Arc::new(store))
        .await
        .unwrap()
        .with_llm(llm);
    (app(state, &Options { widget_dir: None }), data)
}

async fn turn(router: &Router, user: &str, action: Value, config: Value) -> Vec<Value> {
    let request = Request::post(format!("/state/user/{user}/interact"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "action": action, "config": config }).to_string(),
        ))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn texts(traces: &[Value]) -> Vec<(String, bool)> {
    traces
        .iter()
        .filter(|t| t["type"] == "text")
        .map(|t| {
            (
                t["payload"]["message"].as_str().unwrap().to_owned(),
                t["payload"]["ai"] == true,
            )
        })
        .collect()
}

fn client(base: &str) -> LlmClient {
    LlmClient::new(base, Some("tiny".into()), Some("sk-test".into())).unwrap()
}

#[tokio::test]
async fn an_llm_block_says_the_models_answer() {
    let (base, seen) = model_server(Mode::Answer).await;
    let (r, _data) = server(Some(client(&base))).await;
    let launch = json!({ "type": "launch" });
    assert_eq!(
        texts(&turn(&r, "a", launch, json!({})).await),
        [("Ask me.".to_owned(), false)]
    );
    let traces = turn(
        &r,
        "a",
        json!({ "type": "text", "payload": "do you deliver?" }),
        json!({}),
    )
    .await;
    assert_eq!(texts(&traces), [("Yes, we deliver.".to_owned(), true)]);
    // What the model was asked: the exact request of the chat completions API.
    let seen = seen.lock().unwrap();
    let body = &seen.bodies[0];
    assert_eq!(body["model"], "tiny");
    assert_eq!(body["stream"], true);
    assert_eq!(body["temperature"], 0.2);
    assert_eq!(body["max_tokens"], 50);
    assert_eq!(
        body["messages"],
        json!([
            { "role": "system", "content": "You answer for Pizza Palace." },
            { "role": "assistant", "content": "Ask me." },
            { "role": "user", "content": "do you deliver?" }
        ])
    );
    assert_eq!(seen.authorization[0], "Bearer sk-test");
}

#[tokio::test]
async fn completion_events_stream_the_answer_as_it_is_written() {
    let (base, _) = model_server(Mode::Slow).await;
    let (r, _data) = server(Some(client(&base))).await;
    let key = {
        let request = Request::post("/v4/project/pizza/session")
            .header("content-type", "application/json")
            .body(Body::from(json!({ "userID": "b" }).to_string()))
            .unwrap();
        let response = r.clone().oneshot(request).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&bytes).unwrap()["sessionKey"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let stream = |action: Value| {
        Request::post("/v4/interact/stream")
            .header("content-type", "application/json")
            .header("authorization", &key)
            .body(Body::from(
                json!({ "action": action, "config": { "completionEvents": true } }).to_string(),
            ))
            .unwrap()
    };
    let response = r
        .clone()
        .oneshot(stream(json!({ "type": "launch" })))
        .await
        .unwrap();
    response.into_body().collect().await.unwrap();
    let sent = Instant::now();
    let response = r
        .clone()
        .oneshot(stream(
            json!({ "type": "text", "payload": "do you deliver?" }),
        ))
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut buffer = String::new();
    let mut frames: Vec<(Value, Duration)> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        buffer.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: "))
                && block.contains("event: trace")
            {
                frames.push((serde_json::from_str(data).unwrap(), sent.elapsed()));
            }
        }
    }
    let shapes: Vec<String> = frames
        .iter()
        .map(|(t, _)| match t["type"].as_str().unwrap() {
            "completion" => format!(
                "completion {} {}",
                t["payload"]["state"].as_str().unwrap(),
                t["payload"]["content"].as_str().unwrap_or_default()
            ),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(
        shapes,
        [
            "completion start ",
            "completion content Yes, ",
            "completion content we ",
            "completion content deliver.",
            "completion end "
        ],
        "one completion, its pieces, and no finished text besides"
    );
    // The first piece arrives while the model is still writing (300 ms between tokens).
    let first_piece = frames[1].1;
    let end = frames[4].1;
    assert!(
        end >= first_piece + Duration::from_millis(500),
        "the first piece after {first_piece:?}, the end after {end:?}"
    );
}

#[tokio::test]
async fn a_model_that_fails_takes_the_failure_path() {
    for mode in [Mode::Refuse, Mode::Drop] {
        let (base, _) = model_server(mode).await;
        let (r, _data) = server(Some(client(&base))).await;
        turn(&r, "c", json!({ "type": "launch" }), json!({})).await;
        let traces = turn(
            &r,
            "c",
            json!({ "type": "text", "payload": "hello?" }),
            json!({}),
        )
        .await;
        assert_eq!(
            texts(&traces),
            [("I cannot answer now.".to_owned(), false)],
            "{mode:?}"
        );
        // With completion events the pieces that came are kept, closed by an end.
        if mode == Mode::Drop {
            let traces = turn(
                &r,
                "c",
                json!({ "type": "text", "payload": "again?" }),
                json!({ "completionEvents": true }),
            )
            .await;
            let kinds: Vec<&str> = traces
                .iter()
                .map(|t| {
                    t["payload"]["state"]
                        .as_str()
                        .unwrap_or(t["type"].as_str().unwrap())
                })
                .collect();
            assert_eq!(
                kinds,
                ["start", "content", "content", "end", "text"],
                "{traces:?}"
            );
            // The end of a cut-off answer says it was cut off.
            assert!(traces[3]["payload"]["error"].is_string(), "{traces:?}");
        }
    }
    // No model configured: the failure path too.
    let (r, _data) = server(None).await;
    turn(&r, "d", json!({ "type": "launch" }), json!({})).await;
    let traces = turn(
        &r,
        "d",
        json!({ "type": "text", "payload": "hello?" }),
        json!({}),
    )
    .await;
    assert_eq!(texts(&traces), [("I cannot answer now.".to_owned(), false)]);
}
