//! Request and response bodies of the two flavours, `config`, and the error body.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Object, Request, State, Trace};

/// `config` of an interact call: how the runtime shapes the response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Generate speech audio for `speak` traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts: Option<bool>,
    /// Strip SSML from messages (the runtime's default is `true`).
    #[serde(rename = "stripSSML", default, skip_serializing_if = "Option::is_none")]
    pub strip_ssml: Option<bool>,
    /// End the turn at the first trace of a type in `stopTypes`… of any type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_all: Option<bool>,
    /// Trace types that end the turn early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_types: Option<Vec<String>>,
    /// Trace types left out of the response (clients commonly send `["block", "debug", "flow"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_types: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Object,
}

impl Config {
    /// Whether SSML is to be stripped: `stripSSML` defaults to true.
    pub fn strips_ssml(&self) -> bool {
        self.strip_ssml.unwrap_or(true)
    }

    /// Whether a trace of this type is to be left out of the response.
    pub fn excludes(&self, trace_type: &str) -> bool {
        self.exclude_types
            .as_deref()
            .is_some_and(|types| types.iter().any(|t| t == trace_type))
    }
}

/// Body of the stateless `POST /interact`.
///
/// The request comes under `request` (older clients) or `action` (newer ones; it wins when both
/// are there, as for the stateful body); none, or `null`, means `launch`, as in Voiceflow's
/// runtime (`@voiceflow/runtime-client-js` starts with `request: null`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatelessRequest {
    /// No state means: start from the beginning.
    pub state: Option<State>,
    pub request: Request,
    /// The key it came under; `None` when there was none (or it was `null`).
    pub request_key: Option<ActionKey>,
    pub config: Option<Config>,
    pub extra: Object,
}

#[derive(Serialize, Deserialize)]
struct StatelessWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<State>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<Config>,
    #[serde(flatten)]
    extra: Object,
}

impl<'de> Deserialize<'de> for StatelessRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut wire = StatelessWire::deserialize(deserializer)?;
        // `Option<Value>` reads `null` as `None`: a `null` request is no request.
        let picked = pick(wire.action.take(), wire.request.take(), &mut wire.extra);
        let request_key = picked.as_ref().map(|(_, key)| *key);
        let request = match picked {
            Some((value, _)) => Request::deserialize(value).map_err(D::Error::custom)?,
            None => Request::launch(),
        };
        Ok(StatelessRequest {
            state: wire.state,
            request,
            request_key,
            config: wire.config,
            extra: wire.extra,
        })
    }
}

impl Serialize for StatelessRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let request = serde_json::to_value(&self.request).map_err(S::Error::custom)?;
        let mut extra = self.extra.clone();
        let (action, request) = match self.request_key {
            Some(key) => place(request, key, &mut extra),
            None => (None, None),
        };
        StatelessWire {
            state: self.state.clone(),
            action,
            request,
            config: self.config.clone(),
            extra,
        }
        .serialize(serializer)
    }
}

/// Response of the stateless `POST /interact`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatelessResponse {
    pub state: State,
    /// The request as the runtime understood it (Voiceflow echoes a `text` resolved by its NLU
    /// as an `intent`); `null` in some Voiceflow answers.
    #[serde(default)]
    pub request: Option<Request>,
    pub trace: Vec<Trace>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Under which key a stateful body carried its request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ActionKey {
    /// `action`: what newer clients send.
    #[default]
    Action,
    /// `request`: what older clients send.
    Request,
}

/// Body of the stateful `POST /state/user/{userID}/interact`.
///
/// Newer clients send the request under `action`, older ones under `request`; both are accepted.
/// When both are present `action` wins (as in Voiceflow's runtime) and `request` stays in
/// `extra`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatefulRequest {
    pub action: Request,
    /// The key it came under, so that the body re-serialises as it was.
    pub action_key: ActionKey,
    pub config: Option<Config>,
    /// `state.variables`: variables the client asks to set before the turn.
    pub state: Option<StatefulVariables>,
    pub extra: Object,
}

/// `{ "variables": {…} }` in a stateful body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatefulVariables {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Object>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Serialize, Deserialize)]
struct StatefulWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config: Option<Config>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<StatefulVariables>,
    #[serde(flatten)]
    extra: Object,
}

impl<'de> Deserialize<'de> for StatefulRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut wire = StatefulWire::deserialize(deserializer)?;
        let (value, action_key) = pick(wire.action.take(), wire.request.take(), &mut wire.extra)
            .ok_or_else(|| D::Error::missing_field("action"))?;
        let action = Request::deserialize(value).map_err(D::Error::custom)?;
        Ok(StatefulRequest {
            action,
            action_key,
            config: wire.config,
            state: wire.state,
            extra: wire.extra,
        })
    }
}

impl Serialize for StatefulRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let action = serde_json::to_value(&self.action).map_err(S::Error::custom)?;
        let mut extra = self.extra.clone();
        let (action, request) = place(action, self.action_key, &mut extra);
        StatefulWire {
            action,
            request,
            config: self.config.clone(),
            state: self.state.clone(),
            extra,
        }
        .serialize(serializer)
    }
}

/// The request of a body that may carry it under `action` or `request`: `action` wins, and a
/// `request` beside it stays in `extra` (so the body re-serialises as it came).
fn pick(
    action: Option<Value>,
    request: Option<Value>,
    extra: &mut Object,
) -> Option<(Value, ActionKey)> {
    match (action, request) {
        (Some(action), other) => {
            if let Some(request) = other {
                extra.insert("request".to_owned(), request);
            }
            Some((action, ActionKey::Action))
        }
        (None, Some(request)) => Some((request, ActionKey::Request)),
        (None, None) => None,
    }
}

/// [`pick`]'s inverse: the `action` and `request` members to write.
fn place(request: Value, key: ActionKey, extra: &mut Object) -> (Option<Value>, Option<Value>) {
    match key {
        ActionKey::Action => (Some(request), extra.remove("request")),
        ActionKey::Request => (None, Some(request)),
    }
}

/// Every error answer: `{ "code": "stable_code", "message": "what a human should know" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable and machine-readable, such as `invalid_body` or `state_forged`.
    pub code: String,
    /// For a human; never internals.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}
