//! `config.debug` on a server not told `--debug-traces` (a process of its own: the switch is
//! process-wide, and tests/debug_traces.rs turns it on): a keyless deployment gives its
//! visitors no `debug` traces, whatever version they name. The bundled demo is one version
//! behind both aliases, as every Voiceflow import is: `production` is the `development`
//! version, so before the switch its visitors got each API call's URL, headers and body.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use parley_engine::{Project, compile};
use parley_server::keys::Scope;
use parley_server::signing::Signer;
use parley_server::store::{SqliteStore, Store};
use parley_server::{AppState, BUNDLED_DEMO, Options, app};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A stateless text turn that asks for debug traces (and lets them through `excludeTypes`):
/// its traces.
async fn turn(router: &axum::Router, version: Option<&str>, key: Option<&str>) -> Vec<Value> {
    let mut request = Request::builder()
        .method("POST")
        .uri("/interact")
        .header("content-type", "application/json");
    if let Some(version) = version {
        request = request.header("versionID", version);
    }
    if let Some(key) = key {
        request = request.header("authorization", key);
    }
    let body = json!({
        "request": { "type": "text", "payload": "I'd like a large pizza please" },
        "config": { "debug": true, "excludeTypes": ["block", "flow"] },
    });
    let response = router
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    answer["trace"].as_array().unwrap().clone()
}

fn has_debug(traces: &[Value]) -> bool {
    traces.iter().any(|t| t["type"] == "debug")
}

#[tokio::test]
async fn a_keyless_deployment_gives_visitors_none_unless_told() {
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap());
    let project: Project = serde_json::from_str(BUNDLED_DEMO).unwrap();
    let state = AppState::new(
        vec![compile(project).unwrap_or_else(|r| panic!("{r}"))],
        Signer::new([3; 32]),
        store.clone(),
    )
    .await
    .unwrap();
    let router = app(state.clone(), &Options { widget_dir: None });
    for version in [None, Some("development"), Some("production")] {
        let traces = turn(&router, version, None).await;
        // The turn itself is answered.
        assert!(traces.iter().any(|t| t["type"] == "text"), "{version:?}");
        assert!(!has_debug(&traces), "{version:?}: {traces:?}");
    }
    // A secret key still gets them (the project is locked from then on).
    let (record, key) = parley_server::keys::generate("pizza", Scope::Secret, "test", 100, 100);
    store.create_key(&record).await.unwrap();
    state.keys().reload().await;
    assert!(has_debug(
        &turn(&router, Some("production"), Some(&key)).await
    ));
}
