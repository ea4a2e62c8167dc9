//! Parley's runtime server: an axum service that will serve the Dialog API (stateless and
//! stateful) from project files, and that serves the built widget and its demo page.
//!
//! Key decisions (after tokio's mini-redis and axum's examples): a library plus a thin `parley`
//! binary; [`app`] builds the whole [`Router`], which is the test seam (tests send it requests
//! with `oneshot`), and [`run`] serves it on a listener the caller bound, until a shutdown future
//! resolves, so tests can bind `127.0.0.1:0` and stop the server when they are done.
//!
//! At this stage it serves the health endpoint and the built widget; the Dialog API endpoints
//! arrive with the server issue, on top of the engine.

use std::future::Future;
use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use parley_protocol::ErrorBody;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;

/// What the server serves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The built widget and demo page (trunk's `dist/`): `index.html`, the JS glue, the wasm and
    /// the CSS.
    pub widget_dir: PathBuf,
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
        if self.widget_dir.join("index.html").is_file() {
            Ok(())
        } else {
            Err(StartError::WidgetNotBuilt {
                dir: self.widget_dir.clone(),
            })
        }
    }
}

/// The whole HTTP service.
pub fn app(options: &Options) -> Router {
    Router::new()
        .route("/health", get(health))
        .fallback_service(static_files(&options.widget_dir))
}

/// Serves `listener` until `shutdown` resolves, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn health() -> Response {
    axum::Json(serde_json::json!({ "status": "ok" })).into_response()
}

/// The widget's files; a path that names no file is a JSON 404 like every other error.
fn static_files(dir: &Path) -> Router {
    let not_found = || async {
        let body = ErrorBody::new("not_found", "there is nothing at this address");
        (StatusCode::NOT_FOUND, axum::Json(body))
    };
    Router::new().fallback_service(ServeDir::new(dir).not_found_service(get(not_found)))
}
