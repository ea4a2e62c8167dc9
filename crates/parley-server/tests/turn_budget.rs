//! The per-turn budget of engine work (a test binary of its own: the turn bounds are set once
//! per process).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use parley_engine::{Project, compile};
use parley_server::signing::Signer;
use parley_server::store::SqliteStore;
use parley_server::{AppState, BUNDLED_DEMO, Limits, Options, app};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A text the NLU takes far longer than 50 ms to read (in a debug build) gets 503
/// `turn_too_long`; the pool is free again afterwards and a short turn is answered.
#[tokio::test]
async fn a_turn_over_its_budget_gets_503_and_the_pool_recovers() {
    let limits = Limits {
        turn_budget_ms: 50,
        max_parallel_turns: Some(1),
        max_utterance_chars: 1_000_000,
        ..Limits::default()
    };
    parley_server::turn::configure(&limits);
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap();
    let project = compile(Project::from_json(BUNDLED_DEMO).unwrap()).unwrap();
    let state = AppState::new(vec![project], Signer::new([9; 32]), Arc::new(store))
        .await
        .unwrap()
        .with_limits(limits);
    let router = app(state, &Options { widget_dir: None });
    let send = |body: Value| {
        let router = router.clone();
        async move {
            let response = router
                .oneshot(
                    Request::post("/interact")
                        .header("content-type", "application/json")
                        .body(Body::from(body.to_string()))
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let long = json!({ "request": { "type": "text", "payload": "large ".repeat(40_000) } });
    let started = std::time::Instant::now();
    let (status, body) = send(long).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "turn_too_long");
    // Answered at the budget, not when the engine finished.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (status, body) = send(json!({ "request": { "type": "launch" } })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
