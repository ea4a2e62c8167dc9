//! `docs/voiceflow.md` against the code. Every route of its route table marked *same* or
//! *differs* is in `openapi.json` and served by the real router (neither its catch-all 404 nor a
//! 405); every route marked *not supported* gets one of those; every path of `openapi.json` is in
//! the table (as a Voiceflow route, or as one of Parley's own); the preflight allows every request
//! header the headers table supports, and the router's 404 carries CORS headers. The other sections
//! (request and trace types, config, state) are prose checked by the conformance
//! scenarios (`e2e/voiceflow.cjs`) and the HTTP tests, not here.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use parley_engine::{Project, compile};
use parley_server::signing::Signer;
use parley_server::store::SqliteStore;
use parley_server::{AppState, BUNDLED_DEMO, Options, app};
use serde_json::Value;
use tower::ServiceExt;

const TABLE: &str = include_str!("../../../docs/voiceflow.md");
const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Same,
    Differs,
    NotSupported,
    ParleyOnly,
}

#[derive(Debug)]
struct Row {
    method: String,
    path: String,
    status: Status,
}

/// The rows of the `## Routes` section: `` | `METHOD /path` | status … | … | ``.
fn routes() -> Vec<Row> {
    let section = TABLE
        .split("\n## ")
        .find(|s| s.starts_with("Routes"))
        .expect("docs/voiceflow.md has a `## Routes` section");
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let route = cells[0].trim_matches('`');
        let (method, path) = route
            .split_once(' ')
            .unwrap_or_else(|| panic!("`{route}` is not `METHOD /path`"));
        let status = cells
            .get(1)
            .map(|s| s.trim_matches('*').to_lowercase())
            .unwrap_or_default();
        let status = if status.starts_with("same") {
            Status::Same
        } else if status.starts_with("differs") {
            Status::Differs
        } else if status.starts_with("not supported") {
            Status::NotSupported
        } else if status.starts_with("parley only") {
            Status::ParleyOnly
        } else {
            panic!(
                "`{route}`: the status `{status}` is none of same, differs, not supported, parley only"
            )
        };
        rows.push(Row {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
        });
    }
    assert!(rows.len() > 20, "only {} route rows read", rows.len());
    rows
}

/// `/state/user/{userID}` and `/state/user/{user_id}` are the same route.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// A concrete address for a route template: the demo project, its production version.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|s| match s {
            "{projectID}" => "pizza",
            "{versionID}" | "{tag}" | "{environmentID}" => "production",
            "{userID}" | "{sessionID}" => "compat-table-user",
            "{name}" => "logo.svg",
            s if s.starts_with('{') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn openapi_routes() -> BTreeSet<(String, String)> {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                routes.insert((method.to_uppercase(), shape(path)));
            }
        }
    }
    routes
}

async fn router() -> (Router, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap();
    let demo = compile(Project::from_json(BUNDLED_DEMO).unwrap()).unwrap();
    let state = AppState::new(vec![demo], Signer::new([7; 32]), Arc::new(store))
        .await
        .unwrap();
    (app(state, &Options { widget_dir: None }), data)
}

/// Whether the router serves `method uri`: not when it answers 405, or its catch-all 404
/// (`not_found`). A handler's own 404 (an unknown user, say) means the route is there.
async fn served(router: &Router, method: &str, uri: &str) -> (bool, String) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = if method == "GET" || method == "DELETE" {
        Body::empty()
    } else {
        request = request.header("content-type", "application/json");
        Body::from("{}")
    };
    let response = router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let code = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["code"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let missing = status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && code == "not_found");
    (!missing, format!("{status} {code}"))
}

#[tokio::test]
async fn every_route_the_table_supports_is_served_and_documented() {
    let (router, _data) = router().await;
    let documented = openapi_routes();
    let mut problems = Vec::new();
    for row in routes().iter().filter(|r| {
        matches!(
            r.status,
            Status::Same | Status::Differs | Status::ParleyOnly
        )
    }) {
        if !documented.contains(&(row.method.clone(), shape(&row.path))) {
            problems.push(format!(
                "{} {} is not in openapi.json",
                row.method, row.path
            ));
        }
        let (served, got) = served(&router, &row.method, &concrete(&row.path)).await;
        if !served {
            problems.push(format!("{} {} answers {got}", row.method, row.path));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_route_the_table_does_not_support_is_not_served() {
    let (router, _data) = router().await;
    let mut problems = Vec::new();
    for row in routes().iter().filter(|r| r.status == Status::NotSupported) {
        let (served, got) = served(&router, &row.method, &concrete(&row.path)).await;
        if served {
            problems.push(format!(
                "{} {} is marked not supported but answers {got}",
                row.method, row.path
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_route_in_openapi_is_in_the_table() {
    let table: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.clone(), shape(&r.path)))
        .collect();
    let missing: Vec<String> = openapi_routes()
        .difference(&table)
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "in openapi.json, not in docs/voiceflow.md: {}",
        missing.join(", ")
    );
}

/// The statuses of every table of the page (the second cell of each row).
fn all_statuses() -> Vec<String> {
    TABLE
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("|---"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let status = cells.get(1)?.trim_matches('*').to_lowercase();
            ["same", "differs", "not supported", "parley only"]
                .into_iter()
                .find(|s| status.starts_with(s))
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn the_counts_line_is_right() {
    let statuses = all_statuses();
    let n = |s: &str| statuses.iter().filter(|x| *x == s).count();
    let line = format!(
        "**Counts:** {} same, {} differs, {} not supported (and {} of Parley's own).",
        n("same"),
        n("differs"),
        n("not supported"),
        n("parley only")
    );
    assert!(
        TABLE.lines().any(|l| l == line),
        "docs/voiceflow.md should say:\n{line}"
    );
}

/// The request headers of the `## Headers` section marked same or differs (`` `name` `` first
/// in the row, a header's name: no spaces), lowercased.
fn supported_headers() -> Vec<String> {
    let section = TABLE
        .split("\n## ")
        .find(|s| s.starts_with("Headers"))
        .expect("docs/voiceflow.md has a `## Headers` section");
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let status = cells.get(1)?.to_lowercase();
            let name = cells[0]
                .trim_start_matches('`')
                .split(['`', ' ', ':'])
                .next()?;
            (status.starts_with("same") || status.starts_with("differs"))
                .then(|| name.to_lowercase())
        })
        .collect()
}

#[tokio::test]
async fn a_browser_may_send_every_header_the_table_supports() {
    let (router, _data) = router().await;
    let headers = supported_headers();
    for name in [
        "authorization",
        "versionid",
        "sessionid",
        "platform",
        "content-type",
    ] {
        assert!(
            headers.contains(&name.to_owned()),
            "`{name}` is not in the headers table"
        );
    }
    // What a page on another origin asks before react-chat's first call (every call of it
    // carries `content-type: application/json`, so every one is preflighted).
    let wanted: Vec<&str> = headers
        .iter()
        .map(String::as_str)
        .filter(|h| *h != "origin")
        .collect();
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/public/pizza/state/user/compat-table-user/interact")
        .header("origin", "http://127.0.0.1:9")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", wanted.join(","))
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_lowercase();
    for name in &wanted {
        assert!(
            allowed.split(',').any(|a| a.trim() == *name),
            "the preflight does not allow `{name}`: {allowed:?}"
        );
    }
    // And the answers carry CORS headers, the router's own 404 included.
    let request = Request::builder()
        .uri("/no/such/route")
        .header("origin", "http://127.0.0.1:9")
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(
        response
            .headers()
            .contains_key("access-control-allow-origin"),
        "a 404 without CORS headers: a page cannot read it"
    );
}
