//! The stateful flavour: the server keeps each user's state; the client names the user.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use parley_engine::{CompiledProject, CompiledVersion, check_state, set_variables};
use parley_protocol::{Object, StatefulRequest, Trace};

use crate::auth::{Caller, Need};
use crate::error::{ApiError, Body};
use crate::store::{Revision, Session, StoreError};
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

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict => ApiError::conflict(
            "state_conflict",
            "the conversation changed while this request was handled (another server wrote \
             it): send the request again",
        ),
        StoreError::Failed(_) => ApiError::internal(e),
    }
}

async fn load(
    app: &AppState,
    project: &str,
    user: &str,
) -> Result<Option<(Session, Revision)>, ApiError> {
    app.store().load(project, user).await.map_err(store_error)
}

/// Writes a session if it is still at revision `expected`; a `state_conflict` error if another
/// process wrote it in between.
async fn save(
    app: &AppState,
    project: &str,
    user: &str,
    session: Session,
    expected: Option<Revision>,
) -> Result<(), ApiError> {
    app.store()
        .save(project, user, &session, expected)
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// Stores a state an admin set (no request to replay) over the stored one, and answers it.
async fn store_state(
    app: &AppState,
    project: &str,
    version: &CompiledVersion,
    user: &str,
    state: parley_protocol::State,
    expected: Option<Revision>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let session = Session {
        version: version.id().to_owned(),
        state: state.clone(),
        last_request: None,
    };
    save(app, project, user, session, expected).await?;
    Ok(Json(state))
}

/// The request's project (once the caller may do `need`), version and user.
fn target(
    app: &AppState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    caller: &Caller,
    need: Need,
) -> Result<(Arc<CompiledProject>, Arc<CompiledVersion>, String), ApiError> {
    let project = app.authorize(params, caller, need)?;
    let version = version_of(&project, params, headers)?;
    Ok((project, version, user_of(params)?))
}

/// How many times a turn is taken again when another process wrote the conversation first.
const CONFLICT_RETRIES: usize = 3;

/// `POST /state/user/{userID}/interact`: one turn of that user's conversation; answers the
/// trace array. With an `x-parley-request-id` header, a retry of the last request gets the same
/// answer instead of taking the turn again.
pub(crate) async fn interact(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<StatefulRequest>,
) -> Result<Json<Vec<Trace>>, ApiError> {
    let (project, version, user) = target(&app, &params, &headers, &caller, Need::Interact)?;
    let request_id = headers
        .get("x-parley-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;

    // This process takes one request of a user at a time; another process sharing the
    // database may still write between this read and this write. Then the write is refused
    // and the turn is taken again on what the other one wrote.
    let mut attempt = 0;
    loop {
        let stored = load(&app, &project.id, &user).await?;
        let revision = stored.as_ref().map(|(_, r)| *r);
        if let (Some(id), Some((session, _))) = (&request_id, &stored)
            && let Some((last_id, traces)) = &session.last_request
            && id == last_id
        {
            return Ok(Json(traces.clone()));
        }
        // A session of another version starts over: its state may not fit this version.
        let mut state = stored
            .filter(|(s, _)| s.version == version.id())
            .map(|(s, _)| s.state);
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
        let outcome = take_turn(
            &version,
            state,
            body.action.clone(),
            seed,
            app.caller(&version),
        )
        .await?;
        let traces = shape(outcome.traces, body.config.as_ref());
        let session = Session {
            version: version.id().to_owned(),
            state: outcome.state,
            last_request: request_id.clone().map(|id| (id, traces.clone())),
        };
        match save(&app, &project.id, &user, session, revision).await {
            Ok(()) => return Ok(Json(traces)),
            Err(e) if e.code == "state_conflict" && attempt < CONFLICT_RETRIES => {
                attempt += 1;
                // A random pause, so the two writers do not collide again in lockstep.
                let jitter = random_seed()? % (4_000 * attempt as u64);
                tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `GET /state/user/{userID}`: the stored state.
pub(crate) async fn get_state(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let (project, _, user) = target(&app, &params, &headers, &caller, Need::Admin)?;
    match load(&app, &project.id, &user).await? {
        Some((session, _)) => Ok(Json(session.state)),
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
    caller: Caller,
    Body(state): Body<parley_protocol::State>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let (project, version, user) = target(&app, &params, &headers, &caller, Need::Admin)?;
    check_state(&version, &state)?;
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;
    let revision = load(&app, &project.id, &user).await?.map(|(_, r)| r);
    store_state(&app, &project.id, &version, &user, state, revision).await
}

/// `DELETE /state/user/{userID}`: forgets the conversation; the next request starts over.
pub(crate) async fn delete_state(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    let (project, _, user) = target(&app, &params, &headers, &caller, Need::Admin)?;
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;
    let deleted = app
        .store()
        .delete(&project.id, &user)
        .await
        .map_err(store_error)?;
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
    caller: Caller,
    Body(variables): Body<Object>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let (project, version, user) = target(&app, &params, &headers, &caller, Need::Admin)?;
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = lock.lock().await;
    let stored = load(&app, &project.id, &user).await?;
    let revision = stored.as_ref().map(|(_, r)| *r);
    let current = stored
        .filter(|(s, _)| s.version == version.id())
        .map(|(s, _)| s.state);
    let state = set_variables(
        &version,
        current.as_ref(),
        &variables,
        false,
        random_seed()?,
    )?;
    store_state(&app, &project.id, &version, &user, state, revision).await
}
