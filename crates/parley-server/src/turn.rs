//! One turn as the server takes it: the engine's step, the API calls it asks for, and the
//! response shaped by the request's `config`.

use parley_engine::{ApiResult, CompiledVersion, Context, Effect, Input, step};
use parley_protocol::{Config, Request, State, Trace, TraceKind, strip_ssml};

use crate::error::ApiError;
use crate::http::ApiCaller;

/// API calls one turn may make (a flow that calls in a loop is cut short: each further call
/// fails, so the flow takes its failure path).
const MAX_CALLS_PER_TURN: usize = 8;

/// The outcome of a turn.
#[derive(Debug)]
pub struct Outcome {
    pub state: State,
    pub traces: Vec<Trace>,
    /// The request as understood (`text` resolved to an `intent`).
    pub request: Option<Request>,
}

/// Runs the engine until the turn no longer waits for an API call.
pub async fn take_turn(
    version: &CompiledVersion,
    state: Option<State>,
    request: Request,
    seed: u64,
    caller: &ApiCaller,
) -> Result<Outcome, ApiError> {
    let ctx = Context { seed };
    let mut turn = step(version, state.as_ref(), Input::Request(request), &ctx)?;
    let understood = turn.request.take();
    let mut traces = std::mem::take(&mut turn.traces);
    let mut calls = 0;
    while let Some(Effect::Http(http)) = turn.effect.take() {
        calls += 1;
        let result = if calls > MAX_CALLS_PER_TURN {
            ApiResult::Failed {
                reason: format!("more than {MAX_CALLS_PER_TURN} API calls in one turn"),
            }
        } else {
            caller.call(&http).await
        };
        turn = step(version, Some(&turn.state), Input::ApiResult(result), &ctx)?;
        traces.append(&mut turn.traces);
    }
    Ok(Outcome {
        state: turn.state,
        traces,
        request: understood,
    })
}

/// Applies `config`: `excludeTypes` (by default `block`, `debug` and `flow`, as Voiceflow's
/// runtime does), `stopTypes` (the turn ends at the first trace of one of them, which is kept),
/// and `stripSSML` (default true: SSML tags are removed from `speak` messages). `tts` asks for
/// audio this server does not synthesise; `speak` traces keep their text.
pub fn shape(traces: Vec<Trace>, config: Option<&Config>) -> Vec<Trace> {
    let default = Config::default();
    let config = config.unwrap_or(&default);
    let excluded = |t: &str| match &config.exclude_types {
        Some(types) => types.iter().any(|x| x == t),
        None => matches!(t, "block" | "debug" | "flow"),
    };
    let mut out = Vec::with_capacity(traces.len());
    for mut trace in traces {
        let stop = config
            .stop_types
            .as_ref()
            .is_some_and(|types| types.iter().any(|t| t == trace.type_name()));
        if config.strips_ssml()
            && let TraceKind::Speak(speak) = &mut trace.kind
            && let Some(message) = &mut speak.message
        {
            *message = strip_ssml(message);
        }
        if !excluded(trace.type_name()) {
            out.push(trace);
        }
        if stop {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traces() -> Vec<Trace> {
        serde_json::from_value(serde_json::json!([
            { "type": "block", "payload": {} },
            { "type": "text", "payload": { "message": "one" } },
            { "type": "debug", "payload": { "message": "d" } },
            { "type": "speak", "payload": { "message": "<speak>two</speak>" } },
            { "type": "choice", "payload": { "buttons": [] } },
            { "type": "text", "payload": { "message": "three" } }
        ]))
        .unwrap()
    }

    fn types(traces: &[Trace]) -> Vec<&str> {
        traces.iter().map(Trace::type_name).collect()
    }

    #[test]
    fn config_shapes_the_turn() {
        assert_eq!(
            types(&shape(traces(), None)),
            ["text", "speak", "choice", "text"]
        );
        let config: Config = serde_json::from_value(serde_json::json!({
            "excludeTypes": ["text"], "stopTypes": ["choice"], "stripSSML": false
        }))
        .unwrap();
        let shaped = shape(traces(), Some(&config));
        assert_eq!(types(&shaped), ["block", "debug", "speak", "choice"]);
        let TraceKind::Speak(speak) = &shaped[2].kind else {
            panic!()
        };
        assert_eq!(speak.message.as_deref(), Some("<speak>two</speak>"));
        let TraceKind::Speak(speak) = &shape(traces(), None)[1].kind else {
            panic!()
        };
        assert_eq!(speak.message.as_deref(), Some("two"));
    }
}
