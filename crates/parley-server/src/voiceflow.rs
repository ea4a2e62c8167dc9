//! The routes Voiceflow's web widget (`@voiceflow/react-chat`) calls besides interact, on the
//! public route: its publishing settings at load, and a transcript on the first turn.
//!
//! The widget awaits `GET /public/{projectID}/publishing` before it renders (a failure is only
//! logged in the page, but a body of the wrong shape makes its `load()` throw), and fires
//! `POST /public/{projectID}/transcripts` without catching the answer: anything but a 2xx is an
//! uncaught error in the host page. Parley keeps no transcripts (it has no dashboard to show
//! them in): the call is acknowledged and logged, and `docs/voiceflow.md` says so.

use axum::Json;
use parley_protocol::Object;
use serde_json::{Map, Value};

use crate::error::{ApiError, Body};
use crate::target::{Interact, Target};

/// `GET /public/{projectID}/publishing`: the assistant's look, from the project's `assistant`
/// settings, in the keys and types Voiceflow's widget validates (strings only; keys it does not
/// know are left out). A path (`/demo/images/logo.svg`) is made absolute against the address the
/// client reached the server at (see `target::base_of`).
pub(crate) async fn publishing(target: Target<Interact>) -> Json<Value> {
    let project = &target.project;
    // A picture given as a path on this server is made absolute: the widget reads it on a page
    // of another origin.
    let absolute = |mut url: String| {
        if let Some(base) = &target.base {
            crate::turn::on_server(&mut url, base);
        }
        url
    };
    let assistant = project.assistant.clone().unwrap_or_default();
    let mut settings = Map::new();
    let title = assistant.title.unwrap_or_else(|| project.name.clone());
    settings.insert("title".into(), title.into());
    for (key, value) in [
        ("description", assistant.description),
        ("color", assistant.color),
        ("image", assistant.image.map(absolute)),
        ("avatar", assistant.avatar.map(absolute)),
    ] {
        if let Some(value) = value {
            settings.insert(key.into(), value.into());
        }
    }
    Json(Value::Object(settings))
}

/// `POST /public/{projectID}/transcripts`: acknowledged (`{}`, as the widget ignores the body)
/// and logged; nothing is kept.
pub(crate) async fn transcripts(
    target: Target<Interact>,
    Body(body): Body<Object>,
) -> Result<Json<Value>, ApiError> {
    let session = body
        .get("sessionID")
        .and_then(Value::as_str)
        .unwrap_or_default();
    tracing::info!(
        project = %target.project.id,
        session = session.chars().take(64).collect::<String>(),
        "transcript announced by the client (not kept)"
    );
    Ok(Json(Value::Object(Map::new())))
}
