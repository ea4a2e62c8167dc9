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
pub mod limits;
pub mod llm;
pub mod signing;
pub mod slate;
mod stateful;
mod stateless;
pub mod store;
mod target;
pub mod turn;
mod v4;
mod voiceflow;
mod workbench;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

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
pub use crate::limits::Limits;

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
    let state_body_timeout = state.limits().body_timeout();
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
    // Voiceflow's current API: v4 sessions and turns, and the legacy stream.
    let current = Router::new()
        .route("/v4/project/{project_id}/session", post(v4::start_session))
        .route(
            "/v4/project/{project_id}/environment/{version_id}/session",
            post(v4::start_session),
        )
        .route("/v4/interact", post(v4::interact))
        .route("/v4/interact/stream", post(v4::interact_stream))
        .route(
            "/v2/project/{project}/user/{user_id}/interact/stream",
            post(v4::legacy_stream),
        );
    let api = api_routes()
        .merge(current)
        .merge(Router::new().nest("/public/{project_id}", api_routes().merge(public_only)))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors);
    let router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .route("/demo/api/estimate", get(demo::estimate))
        .route("/demo/images/{name}", get(demo::image))
        .merge(workbench::routes())
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
    let body_timeout = state_body_timeout;
    let router = router.layer(axum::middleware::from_fn(move |request, next| {
        read_body_within(body_timeout, request, next)
    }));
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

/// Reads a request's whole body within `limit` (a body sent a byte at a time would otherwise
/// hold its connection and task for as long as the client likes): a slower one gets 408 and
/// its connection is closed. The body is at most [`MAX_BODY_BYTES`] (413 above), so holding
/// it whole costs no more than the JSON extractor's own buffering.
async fn read_body_within(
    limit: Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    // Only the methods whose handlers read a body.
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH
    ) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(limit, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Ok(Err(e)) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is larger than this server accepts",
                )
                .into_response()
            } else {
                ApiError::bad_request("invalid_body", format!("the body could not be read: {e}"))
                    .into_response()
            }
        }
        Err(_) => {
            let mut response = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    limit.as_secs()
                ),
            )
            .into_response();
            // hyper closes a connection whose answer says so (the rest of the body is not read).
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }
    }
}

/// Serves `listener` with the default [`Limits`] until `shutdown` resolves (see [`run_with`]).
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with(listener, app, shutdown, &Limits::default()).await
}

/// What a connection above the cap is answered before it is closed.
fn busy_answer() -> Vec<u8> {
    let body = serde_json::to_string(&ErrorBody::new(
        "too_many_connections",
        "the server is at its connection limit: retry in a moment",
    ))
    .unwrap_or_default();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `listener` until `shutdown` resolves, then finishes the requests in flight (for at
/// most 30 s).
///
/// Key decision: the accept loop is hyper-util's connection builder with tokio's timer (what
/// axum::serve runs, without the timer, so hyper's header-read timeout never fired). Each
/// connection holds a permit of a semaphore of `max_connections`; one accepted above it is
/// answered 503 `too_many_connections` and closed at once, so the process stays under its
/// open-file limit and keeps answering the connections it has. HTTP/2 (prior knowledge)
/// connections are pinged while idle and closed when the ping goes unanswered.
pub async fn run_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: &Limits,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::ServiceExt;

    let open_files = limits::raise_open_files();
    let max_connections = limits
        .max_connections
        .unwrap_or_else(|| limits::connections_for(open_files));
    tracing::debug!("open files: {open_files}; connections at most: {max_connections}");
    let permits = Arc::new(tokio::sync::Semaphore::new(max_connections));
    // HTTP/1 only: hyper's HTTP/2 has no header or idle timer, so a cleartext HTTP/2 client
    // that answers pings could hold a connection (and a permit) for ever. Browsers speak
    // HTTP/2 only over TLS, which a proxy in front of Parley ends.
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).http1_only();
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let busy = busy_answer();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_accept_error = None::<std::time::Instant>;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of files or memory for a moment: say so (once a minute at most) and
                    // let the connections in hand finish rather than spin on accept.
                    if last_accept_error.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                        tracing::error!("accept error: {e}");
                        last_accept_error = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Best effort, never waiting: the client learns why, then the socket is closed.
            let _ = stream.try_write(&busy);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let service = hyper::service::service_fn(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                // The client's address feeds the per-client rate limits.
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                router.clone().oneshot(request.map(axum::body::Body::new))
            },
        );
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout();
        tokio::spawn(async move {
            // hyper-util reads the first bytes to tell HTTP/1 from HTTP/2 with no timer of its
            // own: a connection that never sends a byte is closed here, after the header time.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(header_timeout, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                drop(permit);
                return;
            }
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!("connection from {peer}: {e}");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after 30 s: stopping anyway");
    }
    Ok(())
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

/// How long `/ready` waits for the store's write probe.
const READY_WITHIN: Duration = Duration::from_secs(3);

/// Readiness: the projects are loaded and the session store takes a write (a server whose
/// database went read-only would otherwise say ready while every stateful turn fails).
async fn ready(
    axum::extract::State(app): axum::extract::State<AppState>,
) -> Result<Response, ApiError> {
    // A store that waits on a lock answers in time or is not ready (a probe must not hang).
    let probe = tokio::time::timeout(READY_WITHIN, app.store().probe()).await;
    probe
        .unwrap_or_else(|_| {
            Err(store::StoreError::Failed(
                "the write probe timed out".into(),
            ))
        })
        .map_err(|e| {
            tracing::error!("not ready: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the session store does not take writes",
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
    let root: Arc<Path> = dir.canonicalize().unwrap_or_else(|_| dir.to_owned()).into();
    Router::new()
        .fallback_service(
            ServeDir::new(dir)
                .precompressed_br()
                .precompressed_gzip()
                .not_found_service(get(not_found)),
        )
        .layer(axum::middleware::map_response(cache_control))
        .layer(axum::middleware::from_fn(move |request, next| {
            only_widget_files(root.clone(), request, next)
        }))
        .layer(cors)
}

/// Answers 404 for a path ServeDir must not serve: a dotfile or dot-directory anywhere in it
/// (`/.env`, `/.git/config`, trunk's `/.trunk-lock`), or a file that is, or sits behind, a
/// symlink leading out of the widget directory (checked on the file ServeDir would open, its
/// `index.html` and its `.br` / `.gz` twins).
async fn only_widget_files(
    root: Arc<Path>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(relative) = percent_decoded(request.uri().path()) else {
        return not_found().await.into_response();
    };
    let segments: Vec<&str> = relative.split('/').filter(|s| !s.is_empty()).collect();
    if segments
        .iter()
        .any(|s| s.starts_with('.') || s.contains('\\'))
    {
        return not_found().await.into_response();
    }
    let path = segments.iter().fold(root.to_path_buf(), |p, s| p.join(s));
    let mut candidates = vec![path.join("index.html")];
    for twin in ["br", "gz"] {
        let mut name = path.clone().into_os_string();
        name.push(format!(".{twin}"));
        candidates.push(PathBuf::from(name));
    }
    candidates.push(path);
    for candidate in candidates {
        // A path that does not exist is ServeDir's 404; one that exists must resolve inside.
        if let Ok(real) = tokio::fs::canonicalize(&candidate).await
            && !real.starts_with(&root)
        {
            return not_found().await.into_response();
        }
    }
    next.run(request).await
}

/// The path with its `%XX` escapes decoded, as ServeDir decodes it (`None`: not UTF-8).
fn percent_decoded(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
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
