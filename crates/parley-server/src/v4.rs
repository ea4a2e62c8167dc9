//! Voiceflow's current Conversations API: v4 sessions, and turns answered whole or streamed as
//! server-sent events; and the legacy stream (`/v2/project/{projectID}/user/{userID}/interact/
//! stream`), which Voiceflow's documentation marks deprecated but clients still call.
//!
//! - `POST /v4/project/{projectID}/session` (and `…/environment/{environmentID}/session`) with
//!   `{ userID }` starts a new conversation for that user and answers `{ sessionKey }`: a key
//!   scoped to that user and conversation ([`SessionClaims`]), the credential of the turns. A
//!   new session for the same user ends the old one. Without a project key it follows the public
//!   route's rules (the project's origins, a rate per client address), so a page need not hold
//!   a project key.
//! - `POST /v4/interact` answers `{ traces }`; `POST /v4/interact/stream` sends one
//!   `event: trace` frame per trace **as the engine makes it** (a text before an API call goes
//!   out before the call returns), then one `event: end` with `{}`. Every trace carries `time`
//!   and the turn's `turnID`.
//!
//! A streamed turn runs in a task of its own: a client that goes away mid-stream does not stop
//! it, so the turn is stored exactly once. Its frames wait in an unbounded channel; a turn's
//! output is bounded (its step budget, at most 8 API or model calls, a model's answer at most
//! 64 KB), so a slow reader costs at most one turn's traces.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use parley_engine::initial_state;
use parley_protocol::{Config, Object, Request, Trace};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, Body, Query};
use crate::stateful::{TurnAsk, store_error, user_turn};
use crate::store::{Session, StoreError};
use crate::target::{Interact, SessionClaims, SessionTarget, Target, UserTarget};
use crate::{AppState, random_seed};

/// Body of a session start.
#[derive(Debug, Deserialize)]
pub(crate) struct StartSession {
    #[serde(rename = "userID")]
    user_id: String,
}

/// `POST /v4/project/{projectID}/session`: a new conversation for the user, and its key.
pub(crate) async fn start_session(
    State(app): State<AppState>,
    target: Target<Interact>,
    Body(body): Body<StartSession>,
) -> Result<Json<Value>, ApiError> {
    let user = crate::target::checked_user(body.user_id)?;
    let (project, version) = (&target.project, &target.version);
    let lock = app.user_lock(&project.id, &user);
    let _one_at_a_time = app.wait_for_user(lock).await?;
    let id = crate::signing::to_hex(&random_seed()?.to_be_bytes());
    // Held as a turn holds its user (across servers too): a start that raced another server's
    // turn would make that turn's write a conflict after its API calls ran.
    let store = app.store();
    let mut held = store
        .hold(&project.id, &user, app.limits().user_wait())
        .await
        .map_err(store_error)?;
    let started = async {
        let stored = held.load().await.map_err(store_error)?;
        if stored.is_none() {
            app.admit_new_session(&project.id, target.client, target.keyless)
                .await?;
        }
        // A new conversation, from the version's initial state.
        let session = Session {
            version: version.id().to_owned(),
            state: initial_state(version, random_seed()?),
            last_request: None,
            session_key: Some(id.clone()),
        };
        match held.save(&session, stored.map(|(_, r)| r)).await {
            Ok(_) => Ok(()),
            // Under the hold, only a writer that held nothing (an admin's delete).
            Err(StoreError::Conflict) => Err(ApiError::conflict(
                "state_conflict",
                "the conversation changed while the session started: try again",
            )),
            Err(e) => Err(store_error(e)),
        }
    }
    .await;
    held.release().await;
    started?;
    let claims = SessionClaims {
        project: project.id.clone(),
        user,
        version: version.id().to_owned(),
        id,
        open: target.keyless,
    };
    Ok(Json(json!({ "sessionKey": claims.to_key(&app) })))
}

/// Body of a v4 turn: `action`, `variables` to set first, `config`. (`state` is Voiceflow's
/// for conversations it keeps elsewhere; Parley keeps the state itself and ignores it.)
#[derive(Debug, Deserialize)]
pub(crate) struct V4Request {
    action: Request,
    #[serde(default)]
    variables: Option<Object>,
    #[serde(default)]
    config: Option<Config>,
}

/// A turn's id, put on each of its traces as `turnID`.
fn turn_id() -> Result<String, ApiError> {
    Ok(crate::signing::to_hex(&random_seed()?.to_be_bytes()))
}

fn with_turn_id(mut trace: Trace, turn: &str) -> Trace {
    trace.extra.insert("turnID".to_owned(), turn.into());
    trace
}

/// `POST /v4/interact`: one turn of the session's conversation, answered `{ traces }`.
pub(crate) async fn interact(
    State(app): State<AppState>,
    session: SessionTarget,
    headers: HeaderMap,
    Body(body): Body<V4Request>,
) -> Result<Json<Value>, ApiError> {
    let turn = turn_id()?;
    let ask = TurnAsk {
        action: body.action,
        variables: body.variables.as_ref(),
        config: body.config.as_ref(),
        // Parley's own header, as on the legacy routes: a retry of a turn the server did take
        // (a stream cut off mid-answer) gets that turn's traces instead of taking it twice.
        request_id: crate::target::request_id_of(&headers),
        session: Some(&session.session),
    };
    let done = user_turn(&app, &session.target, ask, None).await?;
    let traces: Vec<Trace> = done
        .traces
        .into_iter()
        .map(|t| with_turn_id(t, &turn))
        .collect();
    Ok(Json(json!({ "traces": traces })))
}

/// `POST /v4/interact/stream`: the same turn as server-sent events.
pub(crate) async fn interact_stream(
    State(app): State<AppState>,
    session: SessionTarget,
    headers: HeaderMap,
    Body(body): Body<V4Request>,
) -> Result<Response, ApiError> {
    let ask = StreamAsk {
        action: body.action,
        variables: body.variables,
        config: body.config,
        request_id: crate::target::request_id_of(&headers),
        session: Some(session.session),
        turn_id: Some(turn_id()?),
        send_state: false,
    };
    stream_turn(app, session.target, ask).await
}

/// Query of the legacy stream.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LegacyQuery {
    /// `true`: the conversation's state is sent as an `event: state` frame before the end.
    #[serde(default)]
    state: Option<String>,
    /// `true`: an LLM block's answer streams as `completion` traces.
    #[serde(default)]
    completion_events: Option<String>,
}

/// Body of the legacy stream: `action` (or `request`), `variables`, `config`.
#[derive(Debug, Deserialize)]
pub(crate) struct LegacyRequest {
    #[serde(alias = "request")]
    action: Request,
    #[serde(default)]
    variables: Option<Object>,
    #[serde(default)]
    config: Option<Config>,
}

/// `POST /v2/project/{projectID}/user/{userID}/interact/stream`: a stateful turn, streamed
/// (with a key, as the keyed route; the path names the project).
pub(crate) async fn legacy_stream(
    State(app): State<AppState>,
    target: UserTarget<Interact>,
    Query(query): Query<LegacyQuery>,
    headers: HeaderMap,
    Body(body): Body<LegacyRequest>,
) -> Result<Response, ApiError> {
    let request_id = crate::target::request_id_of(&headers);
    let mut config = body.config;
    if query.completion_events.as_deref() == Some("true") {
        config
            .get_or_insert_with(Config::default)
            .extra
            .insert("completionEvents".to_owned(), true.into());
    }
    let ask = StreamAsk {
        action: body.action,
        variables: body.variables,
        config,
        request_id,
        session: None,
        turn_id: None,
        // The state only to a secret key (as `GET /state/user/{userID}`).
        send_state: query.state.as_deref() == Some("true") && target.secret,
    };
    stream_turn(app, target, ask).await
}

/// A streamed turn's request, owned by the task that takes it.
#[derive(Debug)]
struct StreamAsk {
    action: Request,
    variables: Option<Object>,
    config: Option<Config>,
    request_id: Option<String>,
    session: Option<String>,
    /// v4: the `turnID` each trace carries.
    turn_id: Option<String>,
    /// Legacy: an `event: state` frame with the conversation's state before the end.
    send_state: bool,
}

/// A streamed answer under construction.
struct Streamed {
    rx: tokio::sync::mpsc::UnboundedReceiver<Event>,
}

impl IntoResponse for Streamed {
    fn into_response(self) -> Response {
        let events = futures_util::stream::unfold(self.rx, |mut rx| async move {
            rx.recv()
                .await
                .map(|event| (Ok::<_, Infallible>(event), rx))
        });
        let mut response = Sse::new(events)
            .keep_alive(KeepAlive::default())
            .into_response();
        // A proxy in front (nginx buffers what it proxies by default) passes each frame on as
        // it comes, instead of the whole answer at its end.
        response.headers_mut().insert(
            "x-accel-buffering",
            axum::http::HeaderValue::from_static("no"),
        );
        response
    }
}

/// Takes the turn in a task of its own and streams what it says: an `event: trace` frame per
/// trace, then (`send_state`) `event: state` with the conversation's state, then `event: end`
/// with `{}`; or `event: error` with the error's code and message.
async fn stream_turn(
    app: AppState,
    target: UserTarget<Interact>,
    ask: StreamAsk,
) -> Result<Response, ApiError> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    // Whether the stream has begun: until its first frame, a refusal is answered as the error it
    // is (its status, `Retry-After`), not as a 200 carrying an `event: error`.
    let (begun_tx, begun) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    let begun_tx = std::sync::Arc::new(std::sync::Mutex::new(Some(begun_tx)));
    let begin = {
        let begun_tx = begun_tx.clone();
        move |result: Result<(), ApiError>| -> Option<ApiError> {
            let sender = begun_tx.lock().unwrap_or_else(|p| p.into_inner()).take();
            match sender {
                Some(sender) => sender.send(result).err().and_then(Result::err),
                None => result.err(),
            }
        }
    };
    let first = begin.clone();
    tokio::spawn(async move {
        let frames = tx.clone();
        let turn = ask.turn_id.clone();
        let mut said = move |traces: Vec<Trace>| {
            if traces.is_empty() {
                return;
            }
            first(Ok(()));
            for trace in traces {
                let trace = match &turn {
                    Some(turn) => with_turn_id(trace, turn),
                    None => trace,
                };
                let frame = Event::default()
                    .event("trace")
                    .json_data(&trace)
                    .unwrap_or_else(|_| Event::default().event("trace").data("{}"));
                // A client that went away no longer reads: the turn goes on and is stored.
                let _gone = frames.send(frame);
            }
        };
        let turn_ask = TurnAsk {
            action: ask.action,
            variables: ask.variables.as_ref(),
            config: ask.config.as_ref(),
            request_id: ask.request_id,
            session: ask.session.as_deref(),
        };
        let outcome = user_turn(&app, &target, turn_ask, Some(&mut said)).await;
        // The turn is stored (or refused): the user's lock goes before the last frames.
        drop(target);
        let last = match outcome {
            Ok(done) => {
                begin(Ok(()));
                if ask.send_state
                    && let Ok(frame) = Event::default().event("state").json_data(&done.state)
                {
                    let _gone = tx.send(frame);
                }
                Event::default().event("end").data("{}")
            }
            // Refused before any frame: the handler answers the error itself.
            Err(e) => match begin(Err(e)) {
                None => return,
                Some(e) => Event::default()
                    .event("error")
                    .json_data(json!({ "code": e.code, "message": e.message }))
                    .unwrap_or_else(|_| Event::default().event("error").data("{}")),
            },
        };
        let _gone = tx.send(last);
    });
    match begun.await {
        Ok(Ok(())) => Ok(Streamed { rx }.into_response()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ApiError::internal(
            "the streamed turn ended before it began",
        )),
    }
}
