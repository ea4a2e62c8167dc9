//! What the widget keeps between page loads: the runtime's state and the visible transcript,
//! under a key namespaced by project, version and user, with a schema version, a time to live
//! and a size cap. Reading is defensive: corrupt, old-schema, foreign or expired data is
//! discarded with a reason (the widget warns in the console and starts over), never a crash.
//!
//! Plain Rust (the storage itself, `localStorage` or another, is the caller's).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::conversation::Entry;

/// Bumped when the stored shape changes; older data is discarded.
pub const SCHEMA: u32 = 1;

/// The storage key of one conversation.
pub fn storage_key(project: &str, version: &str, user: &str) -> String {
    format!("parley:{SCHEMA}:{project}:{version}:{user}")
}

/// One saved conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub schema: u32,
    /// The key it was saved under: data copied under another key is foreign.
    pub key: String,
    /// Milliseconds since the epoch.
    pub saved_at: f64,
    /// The runtime's state, opaque.
    pub state: Option<Value>,
    pub entries: Vec<Entry>,
    pub ended: bool,
}

/// Why saved data was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discard {
    Corrupt(String),
    OldSchema(u32),
    Foreign(String),
    Expired,
}

impl std::fmt::Display for Discard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discard::Corrupt(why) => write!(f, "the saved conversation is corrupt ({why})"),
            Discard::OldSchema(v) => write!(f, "the saved conversation has the old schema {v}"),
            Discard::Foreign(key) => write!(f, "the saved conversation belongs to {key}"),
            Discard::Expired => write!(f, "the saved conversation has expired"),
        }
    }
}

/// Writes a conversation, dropping its oldest entries until it fits in `cap` bytes. `None`
/// when even the state alone does not fit (nothing is saved then).
pub fn encode(mut saved: Saved, cap: usize) -> Option<String> {
    loop {
        let text = serde_json::to_string(&saved).ok()?;
        if text.len() <= cap {
            return Some(text);
        }
        if saved.entries.is_empty() {
            return None;
        }
        let drop = (saved.entries.len() / 4).max(1);
        saved.entries.drain(..drop);
    }
}

/// Reads a saved conversation, if it can be used.
pub fn decode(text: &str, key: &str, now: f64, ttl_ms: f64) -> Result<Saved, Discard> {
    let value: Value = serde_json::from_str(text).map_err(|e| Discard::Corrupt(e.to_string()))?;
    let schema = value.get("schema").and_then(Value::as_u64).unwrap_or(0) as u32;
    if schema != SCHEMA {
        return Err(Discard::OldSchema(schema));
    }
    let saved: Saved =
        serde_json::from_value(value).map_err(|e| Discard::Corrupt(e.to_string()))?;
    if saved.key != key {
        return Err(Discard::Foreign(saved.key));
    }
    if !(saved.saved_at.is_finite()
        && now - saved.saved_at <= ttl_ms
        && saved.saved_at <= now + 60_000.0)
    {
        return Err(Discard::Expired);
    }
    if saved.state.as_ref().is_some_and(|s| !s.is_object()) {
        return Err(Discard::Corrupt("the state is not an object".to_owned()));
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::Delivery;
    use crate::rich_text::from_markdown;
    use crate::turn_view::Bubble;
    use serde_json::json;

    const DAY: f64 = 86_400_000.0;

    fn saved(entries: usize) -> Saved {
        Saved {
            schema: SCHEMA,
            key: storage_key("pizza", "development", "u1"),
            saved_at: 1_000.0 * DAY,
            state: Some(json!({ "stack": [], "storage": {}, "variables": {}, "signature": "abc" })),
            entries: (0..entries as u64)
                .map(|id| {
                    if id % 2 == 0 {
                        Entry::Bot {
                            id,
                            bubble: Bubble::Text(from_markdown("Hi **there**")),
                        }
                    } else {
                        Entry::User {
                            id,
                            text: format!("message {id}"),
                            delivery: Delivery::Sent,
                        }
                    }
                })
                .collect(),
            ended: false,
        }
    }

    #[test]
    fn a_conversation_comes_back_exactly() {
        let key = storage_key("pizza", "development", "u1");
        let text = encode(saved(6), 100_000).unwrap();
        assert_eq!(decode(&text, &key, 1_000.5 * DAY, 7.0 * DAY), Ok(saved(6)));
    }

    #[test]
    fn bad_data_is_discarded_with_a_reason() {
        let key = storage_key("pizza", "development", "u1");
        let now = 1_000.0 * DAY;
        let good = encode(saved(2), 100_000).unwrap();
        assert!(matches!(
            decode("{not json", &key, now, DAY),
            Err(Discard::Corrupt(_))
        ));
        assert!(matches!(
            decode("null", &key, now, DAY),
            Err(Discard::OldSchema(0))
        ));
        assert!(matches!(
            decode(r#"{"schema": 1, "key": 5}"#, &key, now, DAY),
            Err(Discard::Corrupt(_))
        ));
        assert_eq!(
            decode(
                &good.replace("\"schema\":1", "\"schema\":0"),
                &key,
                now,
                DAY
            ),
            Err(Discard::OldSchema(0))
        );
        let other = storage_key("pizza", "production", "u1");
        assert!(matches!(
            decode(&good, &other, now, DAY),
            Err(Discard::Foreign(_))
        ));
        assert_eq!(
            decode(&good, &key, now + 2.0 * DAY, DAY),
            Err(Discard::Expired)
        );
        assert_eq!(
            decode(&good, &key, now - DAY, DAY),
            Err(Discard::Expired),
            "saved in the future"
        );
        let bad_state = good
            .replace("\"state\":{", "\"state\":[{")
            .replace("\"signature\":\"abc\"}", "\"signature\":\"abc\"}]");
        assert!(matches!(
            decode(&bad_state, &key, now, DAY),
            Err(Discard::Corrupt(_))
        ));
    }

    #[test]
    fn the_size_cap_drops_the_oldest_entries_first() {
        let full = encode(saved(400), usize::MAX).unwrap();
        let capped = encode(saved(400), full.len() / 2).unwrap();
        assert!(capped.len() <= full.len() / 2);
        let back: Saved = serde_json::from_str(&capped).unwrap();
        assert!(back.entries.len() < 400 && !back.entries.is_empty());
        assert_eq!(
            back.entries.last(),
            saved(400).entries.last(),
            "the newest are kept"
        );
        assert_eq!(back.state, saved(1).state);
        assert_eq!(encode(saved(0), 10), None, "not even the state fits");
    }
}
