//! What a turn takes and gives: the engine's interface, in a module of its own (the blocks and
//! the interpreter use these types; nothing here uses them back).

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
    /// `config.debug`, where the caller may have it: `debug` traces of what the NLU read in a
    /// text (every intent's score, the slots, the threshold) and of each API call and its
    /// result, for the workbench. The server decides who may (see `docs/protocol.md`).
    pub debug: bool,
}

/// What one [`crate::Dialogue::handle`] gave: the traces, and maybe an effect to perform.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub traces: Vec<Trace>,
    /// Set when the conversation suspended: perform it and hand its result to the dialogue.
    pub effect: Option<Effect>,
    /// The request as understood (typed text the NLU recognised comes back as an `intent`).
    pub request: Option<Request>,
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
