//! The server's HTTP behaviour: through the router (`oneshot`) and over one real socket.

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use parley_server::{Options, StartError, app, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

const INDEX: &str = "<!DOCTYPE html><title>Parley demo</title>";

fn widget_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), INDEX).unwrap();
    std::fs::write(dir.path().join("parley.css"), ".parley{}").unwrap();
    dir
}

fn options(dir: &Path) -> Options {
    Options {
        widget_dir: dir.to_path_buf(),
    }
}

async fn get(options: &Options, uri: &str) -> (StatusCode, String, String) {
    let response = app(options)
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn health_answers_json() {
    let dir = widget_dir();
    let (status, content_type, body) = get(&options(dir.path()), "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn serves_the_built_widget() {
    let dir = widget_dir();
    let options = options(dir.path());
    let (status, content_type, body) = get(&options, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html");
    assert_eq!(body, INDEX);
    let (status, content_type, _) = get(&options, "/parley.css").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/css");
}

#[tokio::test]
async fn unknown_paths_are_json_404s() {
    let dir = widget_dir();
    let (status, content_type, body) = get(&options(dir.path()), "/nothing/here.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    let body: parley_protocol::ErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(body.code, "not_found");
}

#[tokio::test]
async fn paths_cannot_escape_the_widget_dir() {
    let outer = tempfile::tempdir().unwrap();
    std::fs::write(outer.path().join("secret.txt"), "secret").unwrap();
    let inner = outer.path().join("dist");
    std::fs::create_dir(&inner).unwrap();
    std::fs::write(inner.join("index.html"), INDEX).unwrap();
    let (status, _, body) = get(&options(&inner), "/../secret.txt").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("secret"));
    let (status, _, body) = get(&options(&inner), "/%2e%2e/secret.txt").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("secret"));
}

#[test]
fn refuses_to_start_without_a_built_widget() {
    let empty = tempfile::tempdir().unwrap();
    let err = options(empty.path()).check().unwrap_err();
    assert!(matches!(err, StartError::WidgetNotBuilt { .. }));
    assert!(err.to_string().contains("cargo xtask demo"));
}

/// One real socket on loopback, a raw HTTP/1.1 exchange, and a graceful shutdown.
#[tokio::test]
async fn serves_over_a_real_socket_and_shuts_down() {
    let dir = widget_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, app(&options(dir.path())), async {
        let _ = stopped.await;
    }));

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with(r#"{"status":"ok"}"#), "{response}");

    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("the server stops when asked")
        .unwrap()
        .unwrap();
}
