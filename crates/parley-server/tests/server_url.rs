//! A project names its own server by paths (`/demo/images/logo.svg`, `/demo/api/estimate`), so
//! it works wherever it is served: the real `parley` binary on a port the system picks (never
//! the default 8080), a picture made absolute against the address the client used, and an API
//! call given as a path answered by the server itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// A `parley serve` child, killed when dropped.
struct Served {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(project: &Value, extra: &[&str]) -> Served {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("project.json");
    std::fs::write(&file, project.to_string()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--addr", "127.0.0.1:0", "--project"])
        .arg(&file)
        .arg("--data-dir")
        .arg(data.path())
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // "Parley is serving … at http://127.0.0.1:PORT/ (Ctrl-C stops it)"; bounded: the server
    // prints it or exits (then the pipe closes).
    let stderr = child.stderr.take().unwrap();
    let mut url = None;
    for line in BufReader::new(stderr).lines().take(50) {
        let line = line.unwrap();
        if let Some(at) = line.split(" at ").nth(1) {
            url = at
                .split_whitespace()
                .next()
                .map(|u| u.trim_end_matches('/').to_owned());
            break;
        }
    }
    let url = url.expect("the server printed its address");
    assert!(
        !url.ends_with(":8080"),
        "the test wants a port other than the default"
    );
    Served {
        child,
        url,
        _data: data,
    }
}

fn project() -> Value {
    json!({
        "id": "here", "name": "Here",
        "versions": [{ "id": "v1", "startFlow": "main",
            "settings": { "allowPrivateNetwork": true },
            "variables": [{ "name": "minutes", "default": null }],
            "flows": [{ "id": "main", "start": "logo", "blocks": [
                { "id": "logo", "type": "image", "url": "/demo/images/logo.svg", "next": "ask" },
                { "id": "ask", "type": "api_call", "method": "GET",
                  "url": "/demo/api/estimate?quantity=2", "timeoutMs": 3000,
                  "mappings": [{ "path": "minutes", "variable": "minutes" }],
                  "success": "eta", "failure": "no_eta" },
                { "id": "eta", "type": "text", "texts": ["About {minutes} minutes."], "next": "end" },
                { "id": "no_eta", "type": "text", "texts": ["No estimate."], "next": "end" },
                { "id": "end", "type": "end" }
            ] }] }]
    })
}

/// reqwest is built without a TLS provider of its own; plain HTTP on loopback needs none, but
/// the client wants one installed.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn launch(base: &str, headers: &[(&str, &str)]) -> Vec<Value> {
    let client = client();
    let mut request = client
        .post(format!("{base}/interact"))
        .header("content-type", "application/json")
        .body(json!({ "action": { "type": "launch" } }).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    body["trace"].as_array().unwrap().clone()
}

fn picture(traces: &[Value]) -> String {
    traces
        .iter()
        .find(|t| t["type"] == "visual")
        .and_then(|t| t["payload"]["image"].as_str())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn paths_name_the_server_the_project_is_served_from() {
    let served = serve(&project(), &[]);
    let traces = launch(&served.url, &[]).await;
    // The picture is absolute against the address the client used, and it is there.
    let image = picture(&traces);
    assert_eq!(image, format!("{}/demo/images/logo.svg", served.url));
    let got = client().get(&image).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/svg+xml");
    // The API call given as a path went to this server (20 + 5 × 2 minutes).
    let texts: Vec<&str> = traces
        .iter()
        .filter(|t| t["type"] == "text")
        .filter_map(|t| t["payload"]["message"].as_str())
        .collect();
    assert_eq!(texts, ["About 30 minutes."]);

    // Behind a TLS proxy the client's scheme is the proxy's.
    let traces = launch(&served.url, &[("x-forwarded-proto", "https")]).await;
    let port = served.url.rsplit(':').next().unwrap();
    assert_eq!(
        picture(&traces),
        format!("https://127.0.0.1:{port}/demo/images/logo.svg")
    );
}

#[tokio::test]
async fn a_public_url_wins_over_the_host_and_a_bad_one_is_refused() {
    let served = serve(&project(), &["--public-url", "https://chat.example.com/"]);
    let traces = launch(&served.url, &[]).await;
    assert_eq!(
        picture(&traces),
        "https://chat.example.com/demo/images/logo.svg"
    );
    // The API call still goes to the server itself, not to the public URL (which, in a test,
    // leads nowhere).
    assert!(
        traces
            .iter()
            .any(|t| t["payload"]["message"] == "About 30 minutes.")
    );

    let out = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--public-url", "ftp://example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("an http:// or https:// URL with a host"),
        "{stderr}"
    );
}
