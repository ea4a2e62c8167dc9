//! Parley's runtime server: the Dialog API (stateless and stateful, Voiceflow-compatible) over
//! HTTP, for the projects it loaded, plus the built widget and its demo page.
//!
//! Key decisions (after tokio's mini-redis and axum's examples): a library plus a thin `parley`
//! binary; [`app`] builds the whole [`Router`], which is the test seam (tests send it requests
//! with `oneshot`), and [`run`] serves it on a listener the caller bound, until a shutdown future
//! resolves. Both flavours call the same engine step ([`turn::take_turn`]); the stateless one
//! signs the state it hands out ([`signing`]), the stateful one keeps it in a [`store::Store`]
//! and serialises the requests of each user. Every route checks its caller first ([`auth`],
//! [`keys`]).

mod app_state;
mod auth;
mod demo;
pub mod error;
pub mod http;
mod key_record;
pub mod keys;
pub mod signing;
pub mod slate;
mod stateful;
mod stateless;
pub mod store;
mod target;
pub mod turn;
mod voiceflow;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::{HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parley_protocol::ErrorBody;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

pub use crate::app_state::AppState;
pub(crate) use crate::app_state::{random_seed, version_of};
use crate::error::ApiError;

/// The largest request body accepted (a stateless state travels in it).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The OpenAPI document of the routes, served at `/openapi.json` (a test checks it against the
/// router).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The demo project the binary serves when it is given none.
pub const BUNDLED_DEMO: &str = include_str!("../../../examples/projects/pizza/project.json");

/// What the server serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The built widget and demo page (trunk's `dist/`), served at `/` when present.
    pub widget_dir: Option<PathBuf>,
}

/// Why the server refuses to start.
#[derive(Debug)]
pub enum StartError {
    /// The widget directory has no `index.html`: the widget was not built.
    WidgetNotBuilt { dir: PathBuf },
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::WidgetNotBuilt { dir } => write!(
                f,
                "no built widget in {} (index.html is missing): build it with `cargo xtask demo`, \
                 or pass --widget-dir",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for StartError {}

impl Options {
    /// Checks what can be checked before binding a socket.
    pub fn check(&self) -> Result<(), StartError> {
        match &self.widget_dir {
            Some(dir) if !dir.join("index.html").is_file() => {
                Err(StartError::WidgetNotBuilt { dir: dir.clone() })
            }
            _ => Ok(()),
        }
    }
}

fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/interact/state", get(stateless::initial_state))
        .route(
            "/interact/{version_id}/state",
            get(stateless::initial_state),
        )
        .route("/interact", post(stateless::interact))
        .route("/interact/{version_id}", post(stateless::interact))
        .route("/state/user/{user_id}/interact", post(stateful::interact))
        .route(
            "/state/user/{user_id}",
            get(stateful::get_state)
                .put(stateful::put_state)
                .delete(stateful::delete_state),
        )
        .route(
            "/state/user/{user_id}/variables",
            axum::routing::patch(stateful::patch_variables),
        )
}

/// The origins whose pages may call each project (`None`: any).
type Origins = HashMap<String, Option<HashSet<String>>>;

/// Whether a page from `origin` may call the route at `path`: the project the path names, or
/// the only project, or any project (the handler then checks the key's project exactly).
fn origin_allowed(origins: &Origins, origin: &str, path: &str) -> bool {
    let allows =
        |allowed: &Option<HashSet<String>>| allowed.as_ref().is_none_or(|set| set.contains(origin));
    let named = path
        .strip_prefix("/public/")
        .and_then(|rest| rest.split('/').next());
    match named.and_then(|id| origins.get(id)) {
        Some(allowed) => allows(allowed),
        None => origins.values().any(allows),
    }
}

/// The whole HTTP service.
pub fn app(state: AppState, options: &Options) -> Router {
    let origins: Origins = state
        .inner
        .projects
        .values()
        .map(|p| {
            let allowed = (!p.allowed_origins.is_empty())
                .then(|| p.allowed_origins.iter().cloned().collect());
            (p.id.clone(), allowed)
        })
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, parts| {
            origin
                .to_str()
                .is_ok_and(|o| origin_allowed(&origins, o, parts.uri.path()))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            // What Voiceflow's web widget and runtime clients send, and ours.
            HeaderName::from_static("authorization"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("versionid"),
            HeaderName::from_static("sessionid"),
            HeaderName::from_static("platform"),
            HeaderName::from_static("x-parley-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            axum::http::header::RETRY_AFTER,
        ]);
    let public_only = Router::new()
        .route("/publishing", get(voiceflow::publishing))
        .route("/transcripts", post(voiceflow::transcripts));
    let api = api_routes()
        .merge(Router::new().nest("/public/{project_id}", api_routes().merge(public_only)))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors);
    let router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .route("/demo/api/estimate", get(demo::estimate))
        .route("/demo/images/{name}", get(demo::image))
        .merge(api)
        .with_state(state);
    // What no route takes is a JSON 404 that pages of any origin can read (a Voiceflow client
    // calling a route Parley lacks gets an answer it can handle, not a CORS failure).
    let router = match &options.widget_dir {
        Some(dir) => router.fallback_service(static_files(dir)),
        None => router.fallback_service(
            Router::new()
                .fallback(not_found)
                .layer(CorsLayer::new().allow_origin(tower_http::cors::Any)),
        ),
    };
    // Every request gets an id (the client's `x-request-id`, or a fresh UUID): it is in the
    // answer's headers and in every log line of the request.
    let request_id = HeaderName::from_static("x-request-id");
    router.layer(
        tower::ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<axum::body::Body>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        id,
                        method = %request.method(),
                        path = request.uri().path(),
                    )
                },
            ))
            .layer(PropagateRequestIdLayer::new(request_id)),
    )
}

/// Serves `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The client's address feeds the per-client rate limits of public keys.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// Liveness: the process answers.
async fn health() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// Readiness: the projects are loaded and the session store answers.
async fn ready(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> Result<Response, ApiError> {
    app.store().load("", "").await.map_err(|e| {
        tracing::error!("not ready: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the session store does not answer",
        )
    })?;
    let projects: Vec<&String> = app.inner.projects.keys().collect();
    Ok(axum::Json(serde_json::json!({ "status": "ready", "projects": projects })).into_response())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "there is nothing at this address")
}

/// The widget's files; a path that names no file is a JSON 404 like every other error.
///
/// A site of any origin may load them (the loader is a classic script, but it imports the glue
/// as a module and fetches the wasm, both of which need CORS): they are public and carry no
/// credentials, so `Access-Control-Allow-Origin: *`. Files with a content hash in their name
/// (`parley-widget-<hash>…`) never change and are cached for a year; the rest (the loader, the
/// pages) are revalidated on each use, so a new release reaches a site at once. A file with a
/// `.br` or `.gz` twin (`cargo xtask dist` writes them, brotli -q 11 and gzip -9) goes out
/// compressed to a browser that accepts it, with no compression work per request.
fn static_files(dir: &Path) -> Router {
    let not_found = || async {
        let body = ErrorBody::new("not_found", "there is nothing at this address");
        (StatusCode::NOT_FOUND, axum::Json(body))
    };
    let cors = CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::HEAD]);
    Router::new()
        .fallback_service(
            ServeDir::new(dir)
                .precompressed_br()
                .precompressed_gzip()
                .not_found_service(get(not_found)),
        )
        .layer(axum::middleware::map_response(cache_control))
        .layer(cors)
}

async fn cache_control(uri: axum::http::Uri, mut response: Response) -> Response {
    let hashed = uri
        .path()
        .rsplit('/')
        .next()
        .is_some_and(|name| name.starts_with("parley-widget-"));
    let value = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if response.status().is_success() {
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static(value),
        );
        // The body depends on Accept-Encoding (the `.br` / `.gz` twins): a shared cache must
        // not hand a brotli body to a browser that did not ask for one. (tower-http 0.6's
        // ServeDir does not say so itself.)
        headers.append(
            axum::http::header::VARY,
            axum::http::HeaderValue::from_static("accept-encoding"),
        );
    }
    response
}
