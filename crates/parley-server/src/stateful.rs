//! The stateful flavour: the server keeps each user's state; the client names the user.
//!
//! Answers take Voiceflow's shapes: the keyed route (`/state/user/{userID}/interact`) answers
//! the trace array, or `{ state, trace, request }` with `?verbose=true`; the public route
//! (`/public/{projectID}/state/user/{userID}/interact`, what Voiceflow's web widget calls)
//! answers `{ trace }`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_engine::{CompiledVersion, check_state, set_variables};
use parley_protocol::{Config, Object, Request, StatefulRequest, Trace};
use serde::Deserialize;

use crate::error::{ApiError, Body, Query};
use crate::store::{Revision, Session, StoreError};
use crate::target::{Admin, Interact, UserTarget};
use crate::turn::{run_turn, shape, turn_context};
use crate::{AppState, random_seed};

pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict => ApiError::conflict(
            "state_conflict",
            "the conversation changed while this request was handled (another server wrote \
             it): send the request again",
        ),
        StoreError::Busy(why) => user_busy(&why),
        StoreError::Failed(_) => ApiError::internal(e),
    }
}

/// 503 `user_busy`: a request gave up waiting for the user's conversation (`why`, logged).
pub(crate) fn user_busy(why: &str) -> ApiError {
    tracing::warn!("a request gave up waiting for its user: {why}");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "user_busy",
        "this conversation is busy with another request for longer than the server waits: \
         send the request again",
    )
    .retry_after(std::time::Duration::from_secs(1))
}

async fn load(
    app: &AppState,
    project: &str,
    user: &str,
) -> Result<Option<(Session, Revision)>, ApiError> {
    app.store().load(project, user).await.map_err(store_error)
}

/// Stores the state an admin's change makes of the stored one (`change` gets the stored state
/// of this version, if any), holding the user as a turn does, and answers it.
async fn store_state(
    app: &AppState,
    target: &UserTarget<Admin>,
    change: impl FnOnce(Option<parley_protocol::State>) -> Result<parley_protocol::State, ApiError>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let store = app.store();
    let mut held = store
        .hold(&target.project.id, &target.user, app.limits().user_wait())
        .await
        .map_err(store_error)?;
    let result = async {
        let stored = held.load().await.map_err(store_error)?;
        let revision = stored.as_ref().map(|(_, r)| *r);
        // A live v4 session goes on: an admin's change of the state does not end it.
        let session_key = stored.as_ref().and_then(|(s, _)| s.session_key.clone());
        let current = stored
            .filter(|(s, _)| s.version == target.version.id())
            .map(|(s, _)| s.state);
        let state = change(current)?;
        let session = Session {
            version: target.version.id().to_owned(),
            state: state.clone(),
            last_request: None,
            session_key,
        };
        held.save(&session, revision).await.map_err(store_error)?;
        Ok(Json(state))
    }
    .await;
    held.release().await;
    result
}

/// How many times a turn is taken again when another process wrote the conversation first.
const CONFLICT_RETRIES: usize = 3;

/// The query of an interact call.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InteractQuery {
    /// `?verbose=true`: answer `{ state, trace, request }` instead of the trace array.
    #[serde(default)]
    verbose: Option<String>,
}

impl InteractQuery {
    fn verbose(&self) -> bool {
        self.verbose
            .as_deref()
            .is_some_and(|v| matches!(v, "true" | "1" | ""))
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `POST /state/user/{userID}/interact`: one turn of that user's conversation. With an
/// `x-parley-request-id` header, a retry of the last request gets the same answer instead of
/// taking the turn again.
pub(crate) async fn interact(
    State(app): State<AppState>,
    target: UserTarget<Interact>,
    Query(query): Query<InteractQuery>,
    headers: HeaderMap,
    Body(body): Body<StatefulRequest>,
) -> Result<Response, ApiError> {
    let request_id = crate::target::request_id_of(&headers);
    let ask = TurnAsk {
        action: body.action.clone(),
        variables: body.state.as_ref().and_then(|s| s.variables.as_ref()),
        config: body.config.as_ref(),
        request_id,
        session: None,
    };
    let done = user_turn(&app, &target, ask, None).await?;
    // The state is for those who may read it (a secret key, as `GET /state/user/{userID}`);
    // anyone else asking for verbose (sdk-runtime always does) gets the same envelope without
    // it, which is all such clients read.
    Ok(if query.verbose() && target.secret {
        Json(serde_json::json!({
            "state": done.state, "trace": done.traces, "request": done.request
        }))
        .into_response()
    } else if query.verbose() {
        Json(serde_json::json!({ "trace": done.traces, "request": done.request })).into_response()
    } else if target.public_route {
        Json(serde_json::json!({ "trace": done.traces })).into_response()
    } else {
        Json(done.traces).into_response()
    })
}

/// What a stateful turn is asked to do.
#[derive(Debug)]
pub(crate) struct TurnAsk<'a> {
    pub(crate) action: Request,
    /// Variables to set before the turn (those the project lets a client set).
    pub(crate) variables: Option<&'a Object>,
    pub(crate) config: Option<&'a Config>,
    /// The client's id of the request (`x-parley-request-id`): a retry gets the same answer.
    pub(crate) request_id: Option<String>,
    /// A v4 session's id: the turn is refused unless it is still the user's live session.
    pub(crate) session: Option<&'a str>,
}

/// What a stateful turn did.
#[derive(Debug)]
pub(crate) struct TurnDone {
    pub(crate) state: parley_protocol::State,
    pub(crate) traces: Vec<Trace>,
    /// The request as understood.
    pub(crate) request: Request,
}

/// One turn of a user's conversation, stored: the core of every stateful route (the keyed and
/// public interact, the v2 stream, v4 interact and its stream).
///
/// With `said`, each step's traces (shaped) go to it as soon as the engine made them, which is
/// what the streaming routes send. Such a turn is not taken again after a conflict with another
/// server (its first traces are already out): the conflict is answered as an error.
pub(crate) async fn user_turn(
    app: &AppState,
    target: &UserTarget<Interact>,
    ask: TurnAsk<'_>,
    said: Option<&mut (dyn FnMut(Vec<Trace>) + Send)>,
) -> Result<TurnDone, ApiError> {
    let store = app.store();
    let mut held = store
        .hold(&target.project.id, &target.user, app.limits().user_wait())
        .await
        .map_err(store_error)?;
    let done = held_turn(app, target, ask, said, held.as_mut()).await;
    held.release().await;
    done
}

/// [`user_turn`] once the user is held.
async fn held_turn(
    app: &AppState,
    target: &UserTarget<Interact>,
    ask: TurnAsk<'_>,
    mut said: Option<&mut (dyn FnMut(Vec<Trace>) + Send)>,
    held: &mut dyn crate::store::Held,
) -> Result<TurnDone, ApiError> {
    let UserTarget {
        project,
        version,
        user,
        ..
    } = target;
    // This process takes one request of a user at a time (`target` holds the user's lock), and
    // a store shared by processes holds the user for all of them (`held`, PostgreSQL's lock):
    // the turn reads what the last one wrote and runs once. A store that cannot hold the user
    // across processes (two processes on one SQLite file) may see another write between this
    // read and this write: then the write is refused and the turn is taken again on it.
    let mut attempt = 0;
    loop {
        let stored = held.load().await.map_err(store_error)?;
        let revision = stored.as_ref().map(|(_, r)| *r);
        // A project open to anyone bounds how many sessions one address may start (each is
        // kept for the retention time).
        if stored.is_none() && attempt == 0 {
            app.admit_new_session(&project.id, target.client, target.keyless)
                .await?;
        }
        if let Some(session) = ask.session
            && stored.as_ref().and_then(|(s, _)| s.session_key.as_deref()) != Some(session)
        {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "session_ended",
                "this session key is no longer the user's session (a newer one was started, or \
                 the conversation was deleted): start a session again",
            ));
        }
        if let (Some(id), Some((session, _))) = (&ask.request_id, &stored)
            && let Some((last_id, traces)) = &session.last_request
            && id == last_id
        {
            if let Some(said) = said.as_mut() {
                said(traces.clone());
            }
            return Ok(TurnDone {
                state: session.state.clone(),
                traces: traces.clone(),
                request: ask.action.clone(),
            });
        }
        let session_key = stored.as_ref().and_then(|(s, _)| s.session_key.clone());
        // A session of another version starts over: its state may not fit this version.
        let mut state = stored
            .filter(|(s, _)| s.version == version.id())
            .map(|(s, _)| s.state);
        let seed = app.seed(state.as_ref(), &ask.action);
        if let Some(variables) = ask.variables {
            state = Some(set_variables(
                version,
                state.as_ref(),
                variables,
                true,
                seed,
            )?);
        }
        let now = now_ms();
        let mut ctx = turn_context(
            seed,
            i64::try_from(now / 1000).ok(),
            Some(user),
            target.platform.clone(),
            ask.config,
        );
        ctx.debug = crate::turn::asks_debug(ask.config)
            && crate::turn::debug_allowed(
                target.secret,
                app.keys().locked(&project.id),
                project,
                version,
            );
        // Each step's traces, shaped, go to `said` as soon as they are made (the streams); the
        // shaped ones are kept, so the turn's answer is not shaped a second time.
        let mut streamed = Vec::new();
        let base = target.base.as_deref();
        let mut forward = |traces: &[Trace]| {
            if let Some(said) = said.as_mut() {
                let shaped = shape(traces.to_vec(), ask.config, Some(now), base);
                if !shaped.is_empty() {
                    streamed.extend(shaped.iter().cloned());
                    said(shaped);
                }
            }
        };
        let outcome = run_turn(
            version,
            state,
            ask.action.clone(),
            ctx,
            app.tools(version, ask.config),
            &mut forward,
        )
        .await?;
        let traces = if said.is_some() {
            streamed
        } else {
            shape(outcome.traces, ask.config, Some(now), base)
        };
        let session = Session {
            version: version.id().to_owned(),
            state: outcome.state,
            last_request: ask.request_id.clone().map(|id| (id, traces.clone())),
            session_key,
        };
        match held.save(&session, revision).await {
            Ok(_) => {
                let request = outcome.request.unwrap_or_else(|| ask.action.clone());
                return Ok(TurnDone {
                    state: session.state,
                    traces,
                    request,
                });
            }
            // Under a hold that keeps other processes out, a conflict is a writer that held
            // nothing (an admin's delete): answered, never taken again (API calls run once).
            Err(StoreError::Conflict)
                if said.is_none() && !held.exclusive() && attempt < CONFLICT_RETRIES =>
            {
                attempt += 1;
                // A random pause, so the two writers do not collide again in lockstep.
                let jitter = random_seed()? % (4_000 * attempt as u64);
                tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
            }
            Err(e) => return Err(store_error(e)),
        }
    }
}

/// `GET /state/user/{userID}`: the stored state.
pub(crate) async fn get_state(
    State(app): State<AppState>,
    target: UserTarget<Admin>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    match load(&app, &target.project.id, &target.user).await? {
        Some((session, _)) => Ok(Json(session.state)),
        None => Err(unknown_user(&target.user)),
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
    target: UserTarget<Admin>,
    Body(state): Body<parley_protocol::State>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    check_state(&target.version, &state)?;
    store_state(&app, &target, |_| Ok(state)).await
}

/// `DELETE /state/user/{userID}`: forgets the conversation; the next request starts over.
pub(crate) async fn delete_state(
    State(app): State<AppState>,
    target: UserTarget<Admin>,
) -> Result<StatusCode, ApiError> {
    // Held as a turn holds its user (across servers too), so that a turn in flight on another
    // server ends first: a delete in the middle of it would make its write a conflict after its
    // API calls ran.
    let store = app.store();
    let held = store
        .hold(&target.project.id, &target.user, app.limits().user_wait())
        .await
        .map_err(store_error)?;
    let deleted = store.delete(&target.project.id, &target.user).await;
    held.release().await;
    let deleted = deleted.map_err(store_error)?;
    if deleted {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(unknown_user(&target.user))
    }
}

/// `PATCH /state/user/{userID}/variables`: merges variables into the stored state (any declared
/// variable: this is an admin call).
pub(crate) async fn patch_variables(
    State(app): State<AppState>,
    target: UserTarget<Admin>,
    Body(variables): Body<Object>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let version: &CompiledVersion = &target.version;
    let seed = random_seed()?;
    store_state(&app, &target, |current| {
        Ok(set_variables(
            version,
            current.as_ref(),
            &variables,
            false,
            seed,
        )?)
    })
    .await
}
