//! The stateless flavour: the client keeps the (signed) state and sends it with each request.

use axum::Json;
use axum::extract::State;
use parley_engine::{CompiledVersion, initial_state as engine_initial_state, set_variables};
use parley_protocol::{Object, StatelessRequest, StatelessResponse};

use crate::error::{ApiError, Body};
use crate::target::{Interact, Target};
use crate::turn::{shape, take_turn, turn_context};
use crate::{AppState, random_seed};

/// `GET /interact/state`: the state of a conversation that has not started, signed.
pub(crate) async fn initial_state(
    State(app): State<AppState>,
    target: Target<Interact>,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let state = engine_initial_state(&target.version, random_seed()?);
    Ok(Json(sign(
        &app,
        &target.project.id,
        target.version.id(),
        state,
        None,
    )))
}

/// `POST /interact`: one turn. The same state and request always give the same answer (no
/// clock reading, no user id: see [`turn_context`]).
pub(crate) async fn interact(
    State(app): State<AppState>,
    target: Target<Interact>,
    Body(body): Body<StatelessRequest>,
) -> Result<Json<StatelessResponse>, ApiError> {
    let Target {
        project,
        version,
        platform,
        base,
        secret,
        ..
    } = target;
    // With a maximum age, the conversation's start time travels in its states (see
    // `signing::SIGNED_AT_KEY`): kept from the state given, read from the clock only when the
    // conversation starts here (see `sign`).
    let mut signed_at = None;
    let max_age = app.limits().state_max_age_of(&project.id);
    let state = match body.state {
        Some(state) => match app.signer().verify_fresh(
            &project.id,
            version.id(),
            state.clone(),
            max_age,
            crate::keys::now(),
        ) {
            Ok((verified, at)) => {
                signed_at = at;
                Some(verified)
            }
            // Voiceflow's initial state (`{ stack: [], storage: {}, variables: {…} }`), which a
            // client builds itself, or an old state whose stack it emptied to start over
            // (runtime-client-js's second `start()`): a new conversation, with the variables
            // a client may set. Nothing else of such a state is read.
            Err(_) if state.stack.is_empty() => Some(starting_state(
                &version,
                &state.variables,
                app.seed(None, &body.request),
            )?),
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let seed = app.seed(state.as_ref(), &body.request);
    let mut ctx = turn_context(seed, None, None, platform, body.config.as_ref());
    ctx.debug = crate::turn::asks_debug(body.config.as_ref())
        && crate::turn::debug_allowed(secret, app.keys().locked(&project.id), &project, &version);
    let outcome = take_turn(
        &version,
        state,
        body.request.clone(),
        ctx,
        app.tools(&version, body.config.as_ref()),
    )
    .await?;
    Ok(Json(StatelessResponse {
        state: sign(&app, &project.id, version.id(), outcome.state, signed_at),
        request: Some(outcome.request.unwrap_or(body.request)),
        trace: shape(outcome.traces, body.config.as_ref(), None, base.as_deref()),
        extra: Object::new(),
    }))
}

/// Signs a state the server hands out. Only a project with a maximum state age stamps its
/// states with the conversation's start time (kept from the state given, else read from the
/// clock): without one, a stateless answer reads no clock, and the same state and request give
/// the same bytes.
fn sign(
    app: &AppState,
    project: &str,
    version: &str,
    state: parley_protocol::State,
    signed_at: Option<i64>,
) -> parley_protocol::State {
    if app.limits().state_max_age_of(project).is_some() {
        app.signer().sign_at(project, version, state, signed_at)
    } else {
        app.signer().sign(project, version, state)
    }
}

/// A fresh state with the variables of `given` that the project lets a client set (the others,
/// such as the defaults an initial state lists, are the project's own and are left out).
fn starting_state(
    version: &CompiledVersion,
    given: &Object,
    seed: u64,
) -> Result<parley_protocol::State, ApiError> {
    let settable: Object = given
        .iter()
        .filter(|(name, _)| version.is_settable(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    Ok(set_variables(version, None, &settable, true, seed)?)
}
