//! The stateless flavour: the client keeps the (signed) state and sends it with each request.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use parley_engine::initial_state as engine_initial_state;
use parley_protocol::{Object, StatelessRequest, StatelessResponse};

use crate::auth::{Caller, Need};
use crate::error::{ApiError, Body};
use crate::turn::{shape, take_turn};
use crate::{AppState, random_seed, version_of};

/// `GET /interact/state`: the state of a conversation that has not started, signed.
pub(crate) async fn initial_state(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    caller: Caller,
) -> Result<Json<parley_protocol::State>, ApiError> {
    let project = app.authorize(&params, &caller, Need::Interact)?;
    let version = version_of(&project, &params, &headers)?;
    let state = engine_initial_state(&version, random_seed()?);
    Ok(Json(app.signer().sign(&project.id, version.id(), state)))
}

/// `POST /interact`: one turn. The same state and request always give the same answer.
pub(crate) async fn interact(
    State(app): State<AppState>,
    Path(params): Path<HashMap<String, String>>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<StatelessRequest>,
) -> Result<Json<StatelessResponse>, ApiError> {
    let project = app.authorize(&params, &caller, Need::Interact)?;
    let version = version_of(&project, &params, &headers)?;
    let state = body
        .state
        .map(|s| app.signer().verify(&project.id, version.id(), s))
        .transpose()?;
    // Without a state, the seed comes from the request, so the answer is still a function of
    // the request alone.
    let seed = app.seed(state.as_ref(), &body.request);
    let outcome = take_turn(
        &version,
        state,
        body.request.clone(),
        seed,
        app.caller(&version),
    )
    .await?;
    Ok(Json(StatelessResponse {
        state: app.signer().sign(&project.id, version.id(), outcome.state),
        request: Some(outcome.request.unwrap_or(body.request)),
        trace: shape(outcome.traces, body.config.as_ref()),
        extra: Object::new(),
    }))
}
