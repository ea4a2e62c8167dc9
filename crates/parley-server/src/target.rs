//! The one way into a conversation route: who calls ([`Caller`]), for which project and
//! version, and, on the stateful routes, for which user, with that user's lock held.
//!
//! Every Dialog API handler starts the same way (the path's parameters, the headers, the caller,
//! the authorisation, the version, the user id, the user's lock); the extractors here do it once,
//! so a route cannot forget a step. Like [`Caller`] they are `FromRequestParts`, so they run
//! before the body is read, and a refused caller is answered without reading it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use parley_engine::{CompiledProject, CompiledVersion};

use crate::AppState;
use crate::auth::{Caller, Need};
use crate::error::ApiError;

/// What a route needs of its caller, as a type: [`Interact`] or [`Admin`].
pub(crate) trait Access: Send + Sync + 'static {
    const NEED: Need;
}

/// A turn of a conversation.
#[derive(Debug)]
pub(crate) struct Interact;

/// Reading or writing stored state.
#[derive(Debug)]
pub(crate) struct Admin;

impl Access for Interact {
    const NEED: Need = Need::Interact;
}

impl Access for Admin {
    const NEED: Need = Need::Admin;
}

/// The longest user id accepted, in bytes (of its UTF-8 form).
pub(crate) const MAX_USER_ID: usize = 256;

/// A route's project (once the caller may do `A` with it) and version.
#[derive(Debug)]
pub(crate) struct Target<A> {
    pub(crate) project: Arc<CompiledProject>,
    pub(crate) version: Arc<CompiledVersion>,
    /// Whether the route is the public one (`/public/{projectID}/…`), which Voiceflow's web
    /// widget calls without a key and whose answers have Voiceflow's public shapes.
    pub(crate) public_route: bool,
    /// The `platform` header Voiceflow's clients send (`webchat`, …), for the built-in variable.
    pub(crate) platform: Option<String>,
    access: PhantomData<A>,
}

/// A stateful route's target: the project, the version and the user, with the user's lock held
/// for as long as this value lives (a user's requests run one at a time in this process).
#[derive(Debug)]
pub(crate) struct UserTarget<A> {
    pub(crate) project: Arc<CompiledProject>,
    pub(crate) version: Arc<CompiledVersion>,
    pub(crate) user: String,
    pub(crate) public_route: bool,
    pub(crate) platform: Option<String>,
    _one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
    access: PhantomData<A>,
}

async fn params_of(parts: &mut Parts, app: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map(|Path(params)| params)
        .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
}

impl<A: Access> FromRequestParts<AppState> for Target<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = params_of(parts, app).await?;
        let caller = Caller::from_request_parts(parts, app).await?;
        let project = app.authorize(&params, &caller, A::NEED)?;
        let version = crate::version_of(&project, &params, &parts.headers)?;
        let platform = parts
            .headers
            .get("platform")
            .and_then(|v| v.to_str().ok())
            .filter(|p| !p.is_empty() && p.len() <= 64)
            .map(str::to_owned);
        Ok(Target {
            project,
            version,
            public_route: params.contains_key("project_id"),
            platform,
            access: PhantomData,
        })
    }
}

impl<A: Access> FromRequestParts<AppState> for UserTarget<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = params_of(parts, app).await?;
        let user = user_of(&params)?;
        let Target {
            project,
            version,
            public_route,
            platform,
            ..
        } = Target::<A>::from_request_parts(parts, app).await?;
        let lock = app.user_lock(&project.id, &user);
        let guard = lock.lock_owned().await;
        Ok(UserTarget {
            project,
            version,
            user,
            public_route,
            platform,
            _one_at_a_time: guard,
            access: PhantomData,
        })
    }
}

fn user_of(params: &HashMap<String, String>) -> Result<String, ApiError> {
    let user = params.get("user_id").cloned().unwrap_or_default();
    if user.is_empty() || user.len() > MAX_USER_ID || user.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_user_id",
            format!("a user id is 1 to {MAX_USER_ID} bytes, without control characters"),
        ));
    }
    Ok(user)
}
