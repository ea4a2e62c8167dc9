//! The workbench (`/workbench`): the widget, embedded, beside everything on the wire (see the
//! README). Its page, script and stylesheet are files of `workbench/` compiled in, so any
//! `parley serve` has it; the widget itself comes from the widget directory (`/parley.js`).

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::app_state::AppState;

const PAGE: &str = include_str!("../../../workbench/index.html");
const SCRIPT: &str = include_str!("../../../workbench/workbench.js");
const STYLE: &str = include_str!("../../../workbench/workbench.css");

/// The page's own policy: scripts and styles of this server only (no `'unsafe-inline'`), the
/// wasm compiled, and any runtime the workbench is pointed at (`connect-src`), CORS permitting.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
                   img-src * data: blob:; connect-src *; base-uri 'none'; form-action 'none'; \
                   frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/workbench", get(page))
        .route("/workbench/", get(page))
        .route("/workbench/workbench.js", get(script))
        .route("/workbench/workbench.css", get(style))
        .route("/workbench/projects.json", get(projects))
}

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    let mut response = file("text/html; charset=utf-8", PAGE);
    response.headers_mut().insert(
        CONTENT_SECURITY_POLICY,
        CSP.parse().expect("a valid header"),
    );
    response
}

async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}

/// The projects the switcher offers: those that never had a key, which anyone may talk to
/// already (a locked project's id is not listed; type it in).
async fn projects(State(app): State<AppState>) -> Response {
    let open: Vec<serde_json::Value> = app
        .inner
        .projects
        .values()
        .filter(|p| !app.keys().locked(&p.id))
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "name": p.name,
                "versions": p.versions().map(|v| v.id().to_owned()).collect::<Vec<_>>(),
            })
        })
        .collect();
    (
        [(CACHE_CONTROL, "no-cache")],
        axum::Json(serde_json::json!({ "projects": open })),
    )
        .into_response()
}
