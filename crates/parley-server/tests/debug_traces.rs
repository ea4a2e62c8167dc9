//! `config.debug` (the workbench's flag, docs/protocol.md "Debug traces"): the `debug` traces
//! reach a secret key, or, on a server told so (`parley serve --debug-traces`, set in every
//! test here), any caller on the development version of a project without keys, and nobody
//! else. Without that switch: tests/debug_traces_default.rs.

use std::sync::Arc;

use axum::Router;
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

/// The demo with two versions: `development` is v2, `production` v1.
fn two_versions() -> Project {
    let mut project: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    let mut second = project["versions"][0].clone();
    second["id"] = json!("v2");
    project["versions"].as_array_mut().unwrap().push(second);
    project["aliases"] = json!({ "development": "v2", "production": "v1" });
    serde_json::from_value(project).unwrap()
}

struct Server {
    state: AppState,
    router: Router,
    store: Arc<SqliteStore>,
    _data: tempfile::TempDir,
}

async fn server() -> Server {
    parley_server::turn::allow_keyless_debug(true);
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap());
    let project = compile(two_versions()).unwrap_or_else(|r| panic!("{r}"));
    let state = AppState::new(vec![project], Signer::new([3; 32]), store.clone())
        .await
        .unwrap();
    let router = app(state.clone(), &Options { widget_dir: None });
    Server {
        state,
        router,
        store,
        _data: data,
    }
}

impl Server {
    async fn key(&self, scope: Scope) -> String {
        let (record, key) = parley_server::keys::generate("pizza", scope, "test", 100, 100);
        self.store.create_key(&record).await.unwrap();
        self.state.keys().reload().await;
        key
    }

    /// A stateless text turn that asks for debug traces; its traces.
    async fn turn(&self, version: &str, key: Option<&str>, debug: bool) -> Vec<Value> {
        let mut request = Request::builder()
            .method("POST")
            .uri("/interact")
            .header("content-type", "application/json")
            .header("versionID", version);
        if let Some(key) = key {
            request = request.header("authorization", key);
        }
        let body = json!({
            "request": { "type": "text", "payload": "I'd like a large pizza please" },
            "config": { "debug": debug, "excludeTypes": ["block", "flow"] },
        });
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        answer["trace"].as_array().unwrap().clone()
    }
}

fn debug_of<'a>(traces: &'a [Value], kind: &str) -> Option<&'a Value> {
    traces
        .iter()
        .find(|t| t["type"] == "debug" && t["payload"]["type"] == kind)
        .map(|t| &t["payload"])
}

fn has_debug(traces: &[Value]) -> bool {
    traces.iter().any(|t| t["type"] == "debug")
}

#[tokio::test]
async fn the_development_version_of_a_project_without_keys_gets_them() {
    let server = server().await;
    let traces = server.turn("development", None, true).await;
    let nlu = debug_of(&traces, "nlu").expect("an nlu debug trace");
    assert_eq!(nlu["utterance"], "I'd like a large pizza please");
    assert_eq!(nlu["match"]["intent"], "order_pizza");
    assert_eq!(nlu["match"]["slots"]["size"], "large");
    assert!(nlu["threshold"].as_f64().is_some());
    let scores: Vec<f64> = nlu["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["confidence"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first");
    assert_eq!(nlu["intents"][0]["name"], "order_pizza");
    // A new conversation: its seed, as digits.
    let seed = debug_of(&traces, "seed").expect("a seed debug trace");
    assert!(seed["seed"].as_str().unwrap().parse::<u64>().is_ok());
    // Each text trace carries its source (markdown, the engine's own delay).
    let text = traces.iter().find(|t| t["type"] == "text").unwrap();
    assert!(text["payload"]["source"]["message"].is_string());
    // Not asked: none.
    let plain = server.turn("development", None, false).await;
    assert!(!has_debug(&plain));
    assert!(plain.iter().all(|t| t["payload"].get("source").is_none()));
}

#[tokio::test]
async fn production_without_a_secret_key_does_not() {
    let server = server().await;
    assert!(!has_debug(&server.turn("production", None, true).await));
}

#[tokio::test]
async fn a_keyed_project_gives_them_to_a_secret_key_only() {
    let server = server().await;
    let public = server.key(Scope::Public).await;
    let secret = server.key(Scope::Secret).await;
    assert!(!has_debug(
        &server.turn("development", Some(&public), true).await
    ));
    assert!(has_debug(
        &server.turn("production", Some(&secret), true).await
    ));
    assert!(has_debug(
        &server.turn("development", Some(&secret), true).await
    ));
}
