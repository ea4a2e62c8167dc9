//! Parley's dialog engine: it runs a project's flow graph one turn at a time.
//!
//! Key decision: the engine is sans-IO. [`step`] takes a compiled version, the conversation's
//! state and the input, and returns the new state, the traces, and maybe an [`Effect`] for the
//! caller to perform; time, the random seed ([`Context`]) and the results of API calls
//! ([`Input::ApiResult`]) come in through the call. It depends on no async runtime, network,
//! clock or global RNG, so the stateless and the stateful endpoints of the server share one
//! deterministic step: the same state and input always give the same output.
//!
//! The pieces: [`project`] is the file format (with a JSON Schema); [`compile`] validates a
//! project (every problem, located) and compiles it; `blocks` holds one file per block kind
//! behind one enum; `runtime` is the interpreter; `session` maps the engine's view of a
//! conversation to the wire state and checks client-sent states; `expr` runs expressions in a
//! sandboxed Rhai; `nlu` is the built-in intent classifier and entity extractor.

mod blocks;
mod compile;
mod expr;
mod js;
mod nlu;
pub mod project;
mod runtime;
mod session;
mod template;
mod turn;
mod validate;
pub mod voiceflow;

pub use blocks::*;
pub use compile::{BUILTIN_VARIABLES, CompiledProject, CompiledVersion};
pub use nlu::{BUILTIN_ENTITIES, Match};
pub use project::Project;
pub use runtime::{Dialogue, check_state, initial_state, set_variables, step};
pub use turn::{
    ApiResult, Context, Effect, HttpRequest, Input, LlmMessage, LlmRequest, LlmResult, Step,
    StepError, Turn,
};
pub use validate::{Diagnostic, Location, Report, Severity, compile};
