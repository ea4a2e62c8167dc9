//! The stateful flavour: the server keeps each user's state; the client names the user.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use parley_engine::{CompiledProject, CompiledVersion, check_state, set_variables};
use parley_protocol::{Object, StatefulRequest, Trace};

use crate::error::{ApiError, Body};
use crate::store::{Session, SessionStore, StoreError};
use crate::turn::{shape, take_turn};
use crate::{AppState, random_seed, version_of};

/// The longest user id accepted.
const MAX_USER_ID: usize = 256;

fn user_of(params: &HashMap<String, String>) -> Result<String, ApiError> {
    let user = params.get("user_id").cloned().unwrap_or_default();
    if user.is_empty() || user.len() > MAX_USER_ID || user.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_user_id",
            format!("a user id is 1 to {MAX_USER_ID} characters, without control characters"),
        ));
    }
    Ok(user)
}

/// Runs a store call off the async threads (the store is synchronous).
async fn with_store<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&dyn SessionStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = app.store();
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

async fn load(app: &AppState, project: &str, user: &str) -> Result<Option<Session>, ApiError> {
    let (project, user) = (project.to_owned(), user.to_owned());
    with_store(app, move |store| store.load(&project, &user)).await
}

async fn save(app: &AppState, project: &str, user: &str, session: Session) -> Result<(), ApiError> {
    let (project, user) = (project.to_owned(), user.to_owned());
    with_store(app, move |store| store.save(&project, &user, &session)).await
}

/// Stores a state an admin set (no request to replay) and answers it.
async fn store_state(
    app: &AppState,
    project: &str,
    version: &CompiledVersion,
    user: &str,
    state: parley_protocol::State,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let session = Session {
        version: version.id().to_owned(),
        state: state.clone(),
        last_request: None,
    };
    save(app, project, user, session).await?;
    Ok(Json(state))
}

/// The request's project, version and user.
fn target(
    app: &AppState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<
    (
        std::sync::Arc<CompiledProject>,
        std::sync::Arc<CompiledVersion>,
        String,
    ),
    ApiError,
> {
    let project = app.project(params)?;
    let version = version_of(&project, params, headers)?;
    Ok((project, version, user_of(params)?))
}

/// `POST /state/user/{userID}/interact`: one turn of that user's conversation; answers the
/// trace array. With an `x-parley-request-id` header, a retry of the last request gets the same
/// answer instead of taking the turn again.
pub(crate) async fn interact(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    Body(body): Body<StatefulRequest>,
) -> Result<Json<Vec<Trace>>, ApiError> {
    let (project, version, user) = target(&app, &params, &headers)?;
    let request_id = headers
        .get("x-parley-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;

    let stored = load(&app, &project.id, &user).await?;
    if let (
        Some(id),
        Some(Session {
            last_request: Some((last_id, traces)),
            ..
        }),
    ) = (&request_id, &stored)
        && id == last_id
    {
        return Ok(Json(traces.clone()));
    }
    // A session of another version starts over: its state may not fit this version.
    let mut state = stored
        .filter(|s| s.version == version.id())
        .map(|s| s.state);
    let seed = app.seed(state.as_ref(), &body.action);
    if let Some(variables) = body.state.as_ref().and_then(|s| s.variables.as_ref()) {
        state = Some(set_variables(
            &version,
            state.as_ref(),
            variables,
            true,
            seed,
        )?);
    }
    let outcome = take_turn(&version, state, body.action, seed, app.caller(&version)).await?;
    let traces = shape(outcome.traces, body.config.as_ref());
    let session = Session {
        version: version.id().to_owned(),
        state: outcome.state,
        last_request: request_id.map(|id| (id, traces.clone())),
    };
    save(&app, &project.id, &user, session).await?;
    Ok(Json(traces))
}

/// `GET /state/user/{userID}`: the stored state.
pub(crate) async fn get_state(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let (project, _, user) = target(&app, &params, &headers)?;
    match load(&app, &project.id, &user).await? {
        Some(session) => Ok(Json(session.state)),
        None => Err(unknown_user(&user)),
    }
}

fn unknown_user(user: &str) -> ApiError {
    ApiError::not_found(
        "unknown_user",
        format!("there is no conversation for the user `{user}`"),
    )
}

/// `PUT /state/user/{userID}`: replaces the stored state (checked against the version first).
pub(crate) async fn put_state(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    Body(state): Body<parley_protocol::State>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let (project, version, user) = target(&app, &params, &headers)?;
    check_state(&version, &state)?;
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;
    store_state(&app, &project.id, &version, &user, state).await
}

/// `DELETE /state/user/{userID}`: forgets the conversation; the next request starts over.
pub(crate) async fn delete_state(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (project, _, user) = target(&app, &params, &headers)?;
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;
    let (p, u) = (project.id.clone(), user.clone());
    let deleted = with_store(&app, move |store| store.delete(&p, &u)).await?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(unknown_user(&user))
    }
}

/// `PATCH /state/user/{userID}/variables`: merges variables into the stored state (any declared
/// variable: this is an admin call).
pub(crate) async fn patch_variables(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    Body(variables): Body<Object>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let (project, version, user) = target(&app, &params, &headers)?;
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;
    let stored = load(&app, &project.id, &user)
        .await?
        .filter(|s| s.version == version.id());
    let state = set_variables(
        &version,
        stored.as_ref().map(|s| &s.state),
        &variables,
        false,
        random_seed()?,
    )?;
    store_state(&app, &project.id, &version, &user, state).await
}
