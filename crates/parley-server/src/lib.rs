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

mod auth;
pub mod error;
pub mod http;
pub mod keys;
pub mod signing;
mod stateful;
mod stateless;
pub mod store;
pub mod turn;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use parley_engine::{CompiledProject, CompiledVersion};
use parley_protocol::ErrorBody;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::http::ApiCaller;
use crate::keys::Keys;
use crate::signing::Signer;
use crate::store::Store;

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

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    projects: BTreeMap<String, Arc<CompiledProject>>,
    signer: Signer,
    store: Arc<dyn Store>,
    keys: Keys,
    public_caller: ApiCaller,
    private_caller: ApiCaller,
    /// One lock per (project, user) with a request in flight: a user's requests run one at a
    /// time. A tokio mutex, because it is held across the turn's `.await`s (API calls, the
    /// store); the map itself is behind a std mutex held only to look an entry up.
    user_locks: Mutex<HashMap<UserKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// (project id, user id).
type UserKey = (String, String);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("projects", &self.inner.projects.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub async fn new(
        projects: Vec<CompiledProject>,
        signer: Signer,
        store: Arc<dyn Store>,
    ) -> Result<AppState, String> {
        let keys = Keys::load(store.clone()).await.map_err(|e| e.to_string())?;
        Ok(AppState {
            inner: Arc::new(Inner {
                projects: projects
                    .into_iter()
                    .map(|p| (p.id.clone(), Arc::new(p)))
                    .collect(),
                signer,
                store,
                keys,
                public_caller: ApiCaller::new(false)?,
                private_caller: ApiCaller::new(true)?,
                user_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    pub(crate) fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    pub(crate) fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// The API keys (tests and tools that create keys reload them through this).
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub(crate) fn caller(&self, version: &CompiledVersion) -> &ApiCaller {
        if version.allows_private_network() {
            &self.inner.private_caller
        } else {
            &self.inner.public_caller
        }
    }

    /// The project the path names (`/public/{projectID}/…`), or the only one this server has.
    pub(crate) fn project(&self, named: Option<&str>) -> Result<Arc<CompiledProject>, ApiError> {
        match named {
            Some(id) => self.project_named(id),
            None if self.inner.projects.len() == 1 => {
                let only = self.inner.projects.values().next().cloned();
                only.ok_or_else(|| ApiError::internal("no project loaded"))
            }
            None => Err(ApiError::bad_request(
                "project_required",
                "this server has several projects: name one in the path, /public/{projectID}/…, \
                 or send one of its API keys",
            )),
        }
    }

    pub(crate) fn project_named(&self, id: &str) -> Result<Arc<CompiledProject>, ApiError> {
        self.inner.projects.get(id).cloned().ok_or_else(|| {
            ApiError::not_found(
                "unknown_project",
                format!("there is no project `{id}` here"),
            )
        })
    }

    /// The seed for a turn: a conversation that has a state carries its own generator (the
    /// engine ignores this seed then); a new one is seeded from its first request, in both
    /// flavours, so the same conversation gives the same answers either way.
    pub(crate) fn seed(
        &self,
        state: Option<&parley_protocol::State>,
        request: &parley_protocol::Request,
    ) -> u64 {
        match state {
            Some(_) => 0,
            None => self
                .signer()
                .seed_for(&serde_json::to_vec(request).unwrap_or_default()),
        }
    }

    /// The lock that serialises one user's requests.
    pub(crate) fn user_lock(&self, project: &str, user: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .user_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Forget the locks nobody holds or waits for, so the map does not grow forever.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks
            .entry((project.to_owned(), user.to_owned()))
            .or_default()
            .clone()
    }
}

/// A random seed, for conversations whose randomness need not follow from their requests.
pub(crate) fn random_seed() -> Result<u64, ApiError> {
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(ApiError::internal)?;
    Ok(u64::from_le_bytes(seed))
}

/// The version a request names: the `versionID` header, or the path's, or `development`;
/// an id or an alias.
pub(crate) fn version_of(
    project: &CompiledProject,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Arc<CompiledVersion>, ApiError> {
    let named = params
        .get("version_id")
        .map(String::as_str)
        .or_else(|| headers.get("versionid").and_then(|v| v.to_str().ok()))
        .unwrap_or("development");
    project.version(named).cloned().ok_or_else(|| {
        ApiError::not_found(
            "unknown_version",
            format!("the project `{}` has no version `{named}`", project.id),
        )
    })
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
            HeaderName::from_static("authorization"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("versionid"),
            HeaderName::from_static("x-parley-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            axum::http::header::RETRY_AFTER,
        ]);
    let api = api_routes()
        .merge(Router::new().nest("/public/{project_id}", api_routes()))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors);
    let router = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi))
        .route("/demo/api/estimate", get(demo_estimate))
        .route("/demo/images/{name}", get(demo_image))
        .merge(api)
        .with_state(state);
    let router = match &options.widget_dir {
        Some(dir) => router.fallback_service(static_files(dir)),
        None => router.fallback(not_found),
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

/// The delivery estimate the demo project's API-call block asks for: a real HTTP endpoint, so
/// the demo exercises a real call.
async fn demo_estimate(
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let quantity: u64 = query
        .get("quantity")
        .and_then(|q| q.parse().ok())
        .unwrap_or(1);
    let minutes = 20 + 5 * quantity.min(20);
    axum::Json(serde_json::json!({ "minutes": minutes })).into_response()
}

/// The demo project's pictures (it runs on a closed network, so they are served here).
async fn demo_image(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let svg = match name.as_str() {
        "logo.svg" => include_str!("../demo-images/logo.svg"),
        "margherita.svg" => include_str!("../demo-images/margherita.svg"),
        "pepperoni.svg" => include_str!("../demo-images/pepperoni.svg"),
        "veggie.svg" => include_str!("../demo-images/veggie.svg"),
        "scooter.svg" => include_str!("../demo-images/scooter.svg"),
        _ => return not_found().await.into_response(),
    };
    ([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}

async fn not_found() -> ApiError {
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
