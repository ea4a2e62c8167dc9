//! The user's action: `{ "type": string, "payload"?: any }`.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::Object;
use crate::message::{RawMessage, non_null, parse_payload, to_payload};

/// A request: what the user (or the host page, or a button) did.
///
/// Deserialising checks the payload of the known types (`launch`, `text`, `intent`, `event`) and
/// fails with a [`RequestError`] message when it does not fit; every other type is kept whole as
/// [`RequestKind::Action`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawMessage", into = "RawMessage")]
pub struct Request {
    pub kind: RequestKind,
    /// Top-level fields besides `type` and `payload`, kept for the round trip.
    pub extra: Object,
}

/// The typed meaning of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestKind {
    /// `launch`: start, or restart, the conversation. The payload is optional.
    Launch(Option<LaunchPayload>),
    /// `text`: typed text, for the runtime's NLU.
    Text(String),
    /// `intent`: the client already knows the intent (an external NLU, or a button).
    Intent(IntentPayload),
    /// `no-reply`: the user stayed silent past the `no-reply` trace's timeout.
    NoReply(Option<Value>),
    /// `event`: a named event raised by the host page.
    Event(EventPayload),
    /// Any other type: a button's `path-…` request, a custom action's path (`success`, …) or a
    /// type this crate does not know. Kept whole.
    Action {
        kind: String,
        payload: Option<Value>,
    },
}

/// Payload of `launch`. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persona: Option<Value>,
    /// Variables the client asks to set at launch (the runtime keeps only those the project
    /// declares settable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Object>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `intent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentPayload {
    pub intent: IntentName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<IntentEntity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Number>,
    /// `label`, `actions`, `data` and the like, carried by buttons.
    #[serde(flatten)]
    pub extra: Object,
}

/// `{ "name": "order_pizza" }` inside an intent payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentName {
    pub name: String,
    #[serde(flatten)]
    pub extra: Object,
}

/// A filled slot: `{ "name": "size", "value": "large" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentEntity {
    pub name: String,
    pub value: String,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `event`: `{ "event": { "name": "page_view" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPayload {
    pub event: EventName,
    #[serde(flatten)]
    pub extra: Object,
}

/// `{ "name": … }` inside an event payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventName {
    pub name: String,
    #[serde(flatten)]
    pub extra: Object,
}

/// Why a request was refused: its type and what is wrong with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub kind: String,
    pub reason: String,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid `{}` request: {}", self.kind, self.reason)
    }
}

impl std::error::Error for RequestError {}

impl Request {
    pub fn new(kind: RequestKind) -> Self {
        Self {
            kind,
            extra: Object::new(),
        }
    }

    /// `{ "type": "launch" }`.
    pub fn launch() -> Self {
        Self::new(RequestKind::Launch(None))
    }

    /// `{ "type": "text", "payload": text }`.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new(RequestKind::Text(text.into()))
    }

    /// `{ "type": "no-reply" }`.
    pub fn no_reply() -> Self {
        Self::new(RequestKind::NoReply(None))
    }

    /// A request of any other type, such as a custom action's path `{ "type": "success" }`.
    pub fn action(kind: impl Into<String>, payload: Option<Value>) -> Self {
        Self::new(RequestKind::Action {
            kind: kind.into(),
            payload,
        })
    }

    /// The wire `type`.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            RequestKind::Launch(_) => "launch",
            RequestKind::Text(_) => "text",
            RequestKind::Intent(_) => "intent",
            RequestKind::NoReply(_) => "no-reply",
            RequestKind::Event(_) => "event",
            RequestKind::Action { kind, .. } => kind,
        }
    }

    /// The label a button put in its request (`payload.label`), which a client shows as the
    /// user's message when the button is clicked.
    pub fn label(&self) -> Option<&str> {
        let payload_extra = match &self.kind {
            RequestKind::Intent(p) => Some(&p.extra),
            RequestKind::Launch(p) => p.as_ref().map(|p| &p.extra),
            RequestKind::Event(p) => Some(&p.extra),
            RequestKind::Action {
                payload: Some(Value::Object(map)),
                ..
            } => Some(map),
            RequestKind::Text(_) | RequestKind::NoReply(_) | RequestKind::Action { .. } => None,
        };
        payload_extra?.get("label")?.as_str()
    }
}

impl TryFrom<RawMessage> for Request {
    type Error = RequestError;

    fn try_from(raw: RawMessage) -> Result<Self, Self::Error> {
        let error = |reason: String| RequestError {
            kind: raw.kind.clone(),
            reason,
        };
        let kind = match raw.kind.as_str() {
            "launch" => RequestKind::Launch(parse_payload(&raw.payload).map_err(error)?),
            "text" => match &raw.payload {
                Some(Value::String(text)) => RequestKind::Text(text.clone()),
                _ => return Err(error("the payload must be a string".into())),
            },
            "intent" => RequestKind::Intent(parse_payload(&raw.payload).map_err(error)?),
            "no-reply" => RequestKind::NoReply(raw.payload),
            "event" => RequestKind::Event(parse_payload(&raw.payload).map_err(error)?),
            "" => return Err(error("the type must not be empty".into())),
            _ => RequestKind::Action {
                kind: raw.kind,
                payload: raw.payload,
            },
        };
        Ok(Request {
            kind,
            extra: raw.extra,
        })
    }
}

impl From<Request> for RawMessage {
    fn from(request: Request) -> Self {
        let (kind, payload) = match request.kind {
            RequestKind::Launch(p) => ("launch".to_owned(), p.map(|p| to_payload(&p))),
            RequestKind::Text(text) => ("text".to_owned(), Some(Value::String(text))),
            RequestKind::Intent(p) => ("intent".to_owned(), Some(to_payload(&p))),
            RequestKind::NoReply(payload) => ("no-reply".to_owned(), non_null(payload)),
            RequestKind::Event(p) => ("event".to_owned(), Some(to_payload(&p))),
            RequestKind::Action { kind, payload } => (kind, payload),
        };
        RawMessage::new(kind, payload, request.extra)
    }
}
