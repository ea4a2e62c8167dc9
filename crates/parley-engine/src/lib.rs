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
mod nlu;
pub mod project;
mod runtime;
mod session;
mod template;
mod validate;

pub use blocks::*;
pub use compile::{BUILTIN_VARIABLES, CompiledProject, CompiledVersion};
pub use nlu::{BUILTIN_ENTITIES, Match};
pub use project::Project;
pub use runtime::{check_state, initial_state, set_variables, step};
pub use validate::{Diagnostic, Location, Report, Severity, compile};

use parley_protocol::{Request, State, Trace};

/// What a turn is given.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The user's (or the client's) request.
    Request(Request),
    /// The result of the [`Effect::Http`] the previous step returned.
    ApiResult(ApiResult),
    /// The answer to the [`Effect::Llm`] the previous step returned.
    LlmResult(LlmResult),
}

/// What the caller provides besides the input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Seeds the random generator of a conversation that has no state yet; after that the
    /// generator's state travels in the conversation state.
    pub seed: u64,
    /// Unix seconds now, for the built-in `timestamp`. `None` leaves it as it was: a stateless
    /// turn reads no clock, so that its answer follows from its state and request alone.
    pub now: Option<i64>,
    /// The user's id, for the built-in `user_id` (the stateful flavour knows it).
    pub user_id: Option<String>,
    /// The client's platform (Voiceflow's clients send `platform`), for the built-in
    /// `platform`.
    pub platform: Option<String>,
    /// `config.stopAll`: every custom action waits for the client, even one set to go on.
    pub stop_all: bool,
    /// `config.stopTypes`: custom actions of these types wait for the client.
    pub stop_types: Vec<String>,
}

/// The result of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub state: State,
    pub traces: Vec<Trace>,
    /// Set when the turn suspended on an API call: perform it and call [`step`] again with
    /// [`Input::ApiResult`] and this turn's state.
    pub effect: Option<Effect>,
    /// The request as understood (typed text the NLU recognised comes back as an `intent`).
    pub request: Option<Request>,
}

/// Something the caller must do for the conversation to go on.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Http(HttpRequest),
    /// Ask a language model (an OpenAI-compatible chat completion), then step again with
    /// [`Input::LlmResult`].
    Llm(LlmRequest),
}

/// What an LLM block asks a model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    /// `system`, then the conversation's last messages, then the prompt (`user`).
    pub messages: Vec<LlmMessage>,
    /// The block's model, or `None` for the server's default.
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub timeout_ms: u32,
}

/// A chat message: `role` is `system`, `user` or `assistant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmMessage {
    pub role: String,
    pub content: String,
}

/// What came of an [`LlmRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LlmResult {
    /// The model's whole answer.
    Answer { text: String },
    /// No answer: no model configured, an error, a timeout, a cut connection.
    Failed { reason: String },
}

/// An HTTP request an API-call block wants made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout_ms: u32,
}

/// What came of an [`HttpRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiResult {
    /// An answer, of any status.
    Response { status: u16, body: String },
    /// No answer: refused, timed out, too large, unreachable.
    Failed { reason: String },
}

/// Why a turn could not be taken. The conversation's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The state is damaged, forged, or from another version.
    #[error("the state cannot be used with this version: {reason}")]
    InvalidState { reason: String },
    /// The conversation cannot take this request now.
    #[error("a `{got}` request cannot be taken now; expected: {}", expected.join(", "))]
    UnexpectedRequest { got: String, expected: Vec<String> },
    /// An API result (or a model's answer) came, but no such call is pending.
    #[error("an API result was given, but the conversation is not waiting for one")]
    UnexpectedApiResult,
    /// A client tried to set a variable the project does not let it set.
    #[error("the variable `{name}` cannot be set by the client")]
    VariableNotSettable { name: String },
}
