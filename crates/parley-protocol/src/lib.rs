//! Wire types of the Dialog API that Parley speaks: the Voiceflow-compatible contract described in
//! `shared/protocol.md`.
//!
//! The widget and the runtime both depend on this crate, so they cannot disagree on the wire. It
//! depends on serde and serde_json only and builds for `wasm32-unknown-unknown`.
//!
//! # Key decisions
//!
//! - **Lossless.** Every object keeps the fields it does not know in an `extra` map, and every
//!   trace or request type it does not know is kept whole ([`TraceKind::Custom`],
//!   [`RequestKind::Action`]). Parsing and re-serialising a message gives the same JSON, up to one
//!   normalisation: a `null` in an optional field we model is written back as an absent field.
//! - **Requests are strict, traces are lenient.** A request of a known type with a malformed
//!   payload is an error (the runtime answers 400 with the message). A trace of a known type with
//!   a malformed payload is kept as [`TraceKind::Invalid`] with the reason, so one odd trace from a
//!   runtime never makes a client drop the whole turn.
//! - **Numbers stay numbers.** Numeric fields that runtimes send sometimes as integers and
//!   sometimes as floats (`delay`, `timeout`, `time`) are [`serde_json::Number`], so they
//!   round-trip exactly; accessors give them as `f64`.

mod body;
mod message;
pub mod read;
mod request;
mod ssml;
mod state;
mod trace;

pub use body::{
    ActionKey, Config, ErrorBody, StatefulRequest, StatefulVariables, StatelessRequest,
    StatelessResponse,
};
pub use request::{
    EventName, EventPayload, IntentEntity, IntentName, IntentPayload, LaunchPayload, Request,
    RequestError, RequestKind,
};
pub use ssml::strip_ssml;
pub use state::{Frame, State};
pub use trace::{
    Button, Card, CardDescription, CarouselPayload, ChoicePayload, CustomActionPath, Diagnostic,
    Dimensions, NoReplyPayload, SlateContent, SlateElement, SlateNode, SlateText, SpeakPayload,
    TextPayload, Trace, TraceKind, VisualPayload,
};

/// A JSON object: what every `extra` map holds.
pub type Object = serde_json::Map<String, serde_json::Value>;
