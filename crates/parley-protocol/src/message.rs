//! The shape shared by requests and traces: `{ "type": string, "payload"?: any, ...extra }`.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::Object;

/// A request or a trace before its payload is interpreted.
///
/// Typed requests and traces convert from and into this shape, so that their `type` tag, an
/// absent payload and any extra top-level field survive a round trip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RawMessage {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) payload: Option<Value>,
    #[serde(flatten)]
    pub(crate) extra: Object,
}

impl RawMessage {
    pub(crate) fn new(kind: impl Into<String>, payload: Option<Value>, extra: Object) -> Self {
        Self {
            kind: kind.into(),
            payload,
            extra,
        }
    }
}

/// Reads a payload of a known type. An absent payload reads as `null`, so that a payload struct
/// whose fields are all optional still parses, and a required one reports what is missing.
pub(crate) fn parse_payload<T: DeserializeOwned>(payload: &Option<Value>) -> Result<T, String> {
    let value = payload.clone().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Writes a typed payload back as JSON. Our payload types serialise to objects or strings and
/// never fail; the fallback keeps this total without a panic path.
pub(crate) fn to_payload<T: Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

/// A `null` payload is written back as an absent one (the crate's single normalisation).
pub(crate) fn non_null(payload: Option<Value>) -> Option<Value> {
    payload.filter(|v| !v.is_null())
}
