//! What the widget keeps between page loads: the runtime's state and the visible transcript,
//! under a key namespaced by project, version and user, with a schema version, a time to live
//! and a size cap. Reading is defensive: corrupt, old-schema, foreign or expired data is
//! discarded with a reason (the widget warns in the console and starts over), never a crash.
//!
//! Plain Rust (the storage itself, `localStorage` or another, is the caller's).

use crate::conversation::{Delivery, Entry};
use crate::json::{Build, Json, Read};
use crate::turn_view::{ButtonView, bubble_of};

/// Bumped when the stored shape changes; older data is discarded.
pub const SCHEMA: u32 = 2;

/// The storage key of one conversation.
pub fn storage_key(project: &str, version: &str, user: &str) -> String {
    format!("parley:{SCHEMA}:{project}:{version}:{user}")
}

/// One saved conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub schema: u32,
    /// The key it was saved under: data copied under another key is foreign.
    pub key: String,
    /// Milliseconds since the epoch.
    pub saved_at: f64,
    /// The runtime's state, opaque.
    pub state: Option<Json>,
    pub entries: Vec<Entry>,
    /// The quick replies on offer.
    pub choices: Vec<ButtonView>,
    pub ended: bool,
    /// The v4 session key of a streaming runtime (`Conversation::session`).
    pub session: Option<String>,
    /// Tabs of one browser share the conversation (`crate::controller`): each save counts up,
    /// names the tab that wrote it, and says whether that tab has a request in flight (then
    /// no other tab sends until its answer is saved).
    pub rev: u64,
    pub tab: u64,
    pub busy: bool,
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

/// Where the browser keeps conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// Survives the tab and the browser: the default.
    Local,
    /// Survives reloads of this tab only.
    Session,
    /// Nothing survives a reload.
    Memory,
}

/// How and where one conversation is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Persistence {
    pub kind: StorageKind,
    pub key: String,
    pub ttl_ms: f64,
    /// The largest saved text, in bytes (the oldest lines go first).
    pub cap: usize,
}

impl Persistence {
    /// Local storage, a week, 256 KB.
    pub fn local(key: String) -> Persistence {
        Persistence {
            kind: StorageKind::Local,
            key,
            ttl_ms: 7.0 * 86_400_000.0,
            cap: 256 * 1024,
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl Persistence {
    /// The storage, if the page may use it (a sandboxed frame or a browser's privacy setting
    /// can forbid it: then nothing is saved, and nothing breaks).
    fn storage(&self) -> Option<web_sys::Storage> {
        let window = web_sys::window()?;
        match self.kind {
            StorageKind::Local => window.local_storage().ok().flatten(),
            StorageKind::Session => window.session_storage().ok().flatten(),
            StorageKind::Memory => None,
        }
    }

    /// The saved conversation, if there is a usable one; unusable data is removed with a
    /// console warning.
    pub fn load(&self) -> Option<Saved> {
        let storage = self.storage()?;
        let text = storage.get_item(&self.key).ok().flatten()?;
        match decode(&text, &self.key, js_sys::Date::now(), self.ttl_ms) {
            Ok(saved) => Some(saved),
            Err(discard) => {
                web_sys::console::warn_1(&format!("parley: {discard}; starting over").into());
                let _ = storage.remove_item(&self.key);
                None
            }
        }
    }

    pub fn save(&self, saved: &Saved) {
        let Some(storage) = self.storage() else {
            return;
        };
        let written = encode(saved, self.cap).map(|text| storage.set_item(&self.key, &text));
        if !matches!(written, Some(Ok(()))) {
            // Over the cap or the browser's quota: better no copy than a stale one.
            let _ = storage.remove_item(&self.key);
            web_sys::console::warn_1(&"parley: the conversation could not be saved".into());
        }
    }

    pub fn clear(&self) {
        if let Some(storage) = self.storage() {
            let _ = storage.remove_item(&self.key);
        }
    }
}

/// Natively (the logic's tests) there is no storage: nothing is kept.
#[cfg(not(target_arch = "wasm32"))]
impl Persistence {
    pub fn load(&self) -> Option<Saved> {
        None
    }

    pub fn save(&self, _saved: &Saved) {}

    pub fn clear(&self) {}
}

/// A transcript line as saved: a user's message with its delivery, or the trace a bot bubble
/// showed (re-read on restore, so the saved shape does not follow the widget's internals).
fn entry_json(entry: &Entry) -> Json {
    match entry {
        Entry::User {
            text,
            delivery,
            request,
            at,
            ..
        } => {
            let mut fields = vec![
                ("user", Json::of_str(text)),
                (
                    "delivery",
                    Json::of_str(match delivery {
                        Delivery::Sent => "sent",
                        // Still sending when saved: it shows as failed, for a retry after the
                        // reload.
                        Delivery::Sending | Delivery::Failed => "failed",
                        Delivery::Refused => "refused",
                    }),
                ),
            ];
            // What a retry after a reload sends: a button's request, not its label as text.
            if let Some(request) = request {
                fields.push(("request", request.clone()));
            }
            stamped(fields, *at)
        }
        Entry::Bot { trace, at, .. } => stamped(vec![("bot", trace.clone())], *at),
    }
}

/// A saved line's fields, with the time it came (`at`, ms) once it has one.
fn stamped(mut fields: Vec<(&str, Json)>, at: f64) -> Json {
    if at > 0.0 {
        fields.push(("at", Json::of_f64(at)));
    }
    Json::object(fields)
}

/// The time a saved line came: 0 (the restore's time shows) when it has none, as lines
/// saved before lines kept their times, or none that makes sense.
fn saved_time(item: &Json) -> f64 {
    item.field("at")
        .and_then(|t| t.number())
        .and_then(crate::conversation::valid_time)
        .unwrap_or(0.0)
}

fn choice_json(button: &ButtonView) -> Json {
    Json::object(vec![
        ("label", Json::of_str(&button.label)),
        ("request", button.request.clone()),
    ])
}

fn to_json(saved: &Saved, entries: &[Entry]) -> Json {
    let mut fields = vec![
        ("schema", Json::of_f64(f64::from(saved.schema))),
        ("key", Json::of_str(&saved.key)),
        ("savedAt", Json::of_f64(saved.saved_at)),
        ("ended", Json::of_bool(saved.ended)),
        ("rev", Json::of_f64(saved.rev as f64)),
        ("tab", Json::of_f64(saved.tab as f64)),
        ("busy", Json::of_bool(saved.busy)),
        (
            "entries",
            Json::array(entries.iter().map(entry_json).collect()),
        ),
        (
            "choices",
            Json::array(saved.choices.iter().map(choice_json).collect()),
        ),
    ];
    if let Some(state) = &saved.state {
        fields.push(("state", state.clone()));
    }
    if let Some(session) = &saved.session {
        fields.push(("session", Json::of_str(session)));
    }
    Json::object(fields)
}

/// Writes a conversation, dropping its oldest entries until it fits in `cap` bytes. `None`
/// when even the state alone does not fit (nothing is saved then).
pub fn encode(saved: &Saved, cap: usize) -> Option<String> {
    let mut first = 0;
    loop {
        let text = to_json(saved, &saved.entries[first..]).to_text();
        if text.len() <= cap {
            return Some(text);
        }
        let left = saved.entries.len() - first;
        if left == 0 {
            return None;
        }
        first += (left / 4).max(1);
    }
}

fn corrupt(why: &str) -> Discard {
    Discard::Corrupt(why.to_owned())
}

/// Reads a saved conversation, if it can be used.
pub fn decode(text: &str, key: &str, now: f64, ttl_ms: f64) -> Result<Saved, Discard> {
    let value = Json::parse(text).ok_or_else(|| corrupt("not JSON"))?;
    let schema = value
        .field("schema")
        .and_then(|s| s.number())
        .filter(|s| s.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(s))
        .map_or(0, |s| s as u32);
    if schema != SCHEMA {
        return Err(Discard::OldSchema(schema));
    }
    let saved_key = value
        .field("key")
        .and_then(|k| k.text())
        .ok_or_else(|| corrupt("no key"))?;
    if saved_key != key {
        return Err(Discard::Foreign(saved_key));
    }
    let saved_at = value
        .field("savedAt")
        .and_then(|t| t.number())
        .ok_or_else(|| corrupt("no time"))?;
    if !(saved_at.is_finite() && now - saved_at <= ttl_ms && saved_at <= now + 60_000.0) {
        return Err(Discard::Expired);
    }
    let state = value.field("state");
    if state.as_ref().is_some_and(|s| !s.is_map()) {
        return Err(corrupt("the state is not an object"));
    }
    let list = value
        .field("entries")
        .and_then(|e| e.items())
        .ok_or_else(|| corrupt("no entries"))?;
    let mut entries = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let id = i as u64 + 1;
        if let Some(trace) = item.field("bot") {
            if !trace.is_map() {
                return Err(corrupt("a bot entry is not a trace"));
            }
            // A line that shows nothing now (an extension the page no longer has, a type this
            // build no longer draws) is skipped: the rest of the conversation still stands.
            if let Some(bubble) = bubble_of(&trace) {
                entries.push(Entry::Bot {
                    id,
                    bubble,
                    trace,
                    at: saved_time(item),
                });
            }
        } else if let Some(text) = item.field("user").and_then(|t| t.text()) {
            let delivery = match item.field("delivery").and_then(|d| d.text()).as_deref() {
                Some("sent") => Delivery::Sent,
                Some("failed") => Delivery::Failed,
                Some("refused") => Delivery::Refused,
                _ => return Err(corrupt("an entry has no delivery")),
            };
            let request = item.field("request").filter(Read::is_map);
            entries.push(Entry::User {
                id,
                text,
                delivery,
                request,
                at: saved_time(item),
            });
        } else {
            return Err(corrupt("an entry is neither the user's nor the bot's"));
        }
    }
    let count = |key| {
        value
            .field(key)
            .and_then(|n| n.number())
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map_or(0, |n| n as u64)
    };
    let mut choices = Vec::new();
    for item in value
        .field("choices")
        .and_then(|c| c.items())
        .unwrap_or_default()
    {
        match (
            item.field("label").and_then(|l| l.text()),
            item.field("request"),
        ) {
            (Some(label), Some(request)) if request.is_map() => {
                choices.push(ButtonView { label, request });
            }
            _ => return Err(corrupt("a quick reply has no label or request")),
        }
    }
    Ok(Saved {
        schema,
        key: saved_key,
        saved_at,
        state,
        entries,
        choices,
        ended: value.field("ended").and_then(|e| e.flag()).unwrap_or(false),
        session: value.field("session").and_then(|k| k.text()),
        rev: count("rev"),
        tab: count("tab"),
        busy: value.field("busy").and_then(|b| b.flag()).unwrap_or(false),
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
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
            entries: (1..=entries as u64)
                .map(|id| {
                    if id % 2 == 1 {
                        Entry::Bot {
                            id,
                            bubble: Bubble::Text(from_markdown("Hi **there**")),
                            trace: json!({ "type": "text", "payload": { "message": "Hi **there**" } }),
                            at: 999.0 * DAY + id as f64 * 1_000.0,
                        }
                    } else {
                        Entry::User {
                            id,
                            text: format!("message {id}"),
                            delivery: if id == 2 { Delivery::Failed } else { Delivery::Sent },
                            request: Some(json!({ "type": "path-b-1", "payload": { "label": "B" } })),
                            at: 999.0 * DAY + id as f64 * 1_000.0,
                        }
                    }
                })
                .collect(),
            choices: vec![ButtonView {
                label: "Order".into(),
                request: json!({ "type": "path-a-0", "payload": { "label": "Order" } }),
            }],
            ended: false,
            // A streaming runtime's session comes back with the conversation.
            session: Some("vf-session.1".into()),
            rev: 7,
            tab: 42,
            busy: true,
        }
    }

    #[test]
    fn a_conversation_comes_back_exactly() {
        let key = storage_key("pizza", "development", "u1");
        let text = encode(&saved(6), 100_000).unwrap();
        assert_eq!(decode(&text, &key, 1_000.5 * DAY, 7.0 * DAY), Ok(saved(6)));
    }

    #[test]
    fn each_line_keeps_the_time_it_came() {
        let key = storage_key("pizza", "development", "u1");
        let text = encode(&saved(2), 100_000).unwrap();
        let times = |text: &str| {
            let saved = decode(text, &key, 1_000.5 * DAY, 7.0 * DAY).unwrap();
            saved.entries.iter().map(Entry::at).collect::<Vec<_>>()
        };
        assert_eq!(times(&text), [999.0 * DAY + 1_000.0, 999.0 * DAY + 2_000.0]);
        // Saved before lines kept their times, or a time that makes no sense: none (the
        // transcript then shows the restore's), and the rest of the line stands.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        for instead in [
            None,
            Some(json!("noon")),
            Some(json!(-5)),
            Some(json!(1e300)),
            Some(json!(null)),
        ] {
            let mut old = value.clone();
            let first = old["entries"][0].as_object_mut().unwrap();
            first.remove("at");
            if let Some(v) = &instead {
                first.insert("at".into(), v.clone());
            }
            let old = serde_json::to_string(&old).unwrap();
            assert_eq!(times(&old), [0.0, 999.0 * DAY + 2_000.0], "{instead:?}");
        }
        // Lines not stamped yet are saved without a time.
        let mut unstamped = saved(2);
        for e in &mut unstamped.entries {
            let (Entry::Bot { at, .. } | Entry::User { at, .. }) = e;
            *at = 0.0;
        }
        assert!(!encode(&unstamped, 100_000).unwrap().contains("\"at\""));
    }

    #[test]
    fn bad_data_is_discarded_with_a_reason() {
        let key = storage_key("pizza", "development", "u1");
        let now = 1_000.0 * DAY;
        let good = encode(&saved(2), 100_000).unwrap();
        assert!(matches!(
            decode("{not json", &key, now, DAY),
            Err(Discard::Corrupt(_))
        ));
        assert!(matches!(
            decode("null", &key, now, DAY),
            Err(Discard::OldSchema(0))
        ));
        assert!(matches!(
            decode(r#"{"schema": 2, "key": 5}"#, &key, now, DAY),
            Err(Discard::Corrupt(_))
        ));
        assert_eq!(
            decode(
                &good.replace("\"schema\":2", "\"schema\":0"),
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
        let full = encode(&saved(400), usize::MAX).unwrap();
        let capped = encode(&saved(400), full.len() / 2).unwrap();
        assert!(capped.len() <= full.len() / 2);
        let back = decode(&capped, &saved(1).key, 1_000.0 * DAY, DAY).unwrap();
        assert!(back.entries.len() < 400 && !back.entries.is_empty());
        let text_of = |e: Option<&Entry>| match e {
            Some(Entry::User { text, .. }) => text.clone(),
            _ => String::new(),
        };
        assert_eq!(
            text_of(back.entries.last()),
            text_of(saved(400).entries.last()),
            "the newest are kept"
        );
        assert_eq!(back.state, saved(1).state);
        assert_eq!(encode(&saved(0), 10), None, "not even the state fits");
    }

    #[test]
    fn garbage_entries_are_corrupt() {
        let key = storage_key("pizza", "development", "u1");
        let now = 1_000.0 * DAY;
        let good = encode(&saved(2), 100_000).unwrap();
        for (from, to) in [
            ("\"delivery\":\"failed\"", "\"delivery\":\"maybe\""),
            ("\"bot\":", "\"robot\":"),
            ("\"bot\":{", "\"bot\":[{"),
            ("\"entries\":[", "\"entries\":{\"x\":["),
        ] {
            let bad = good.replacen(from, to, 1);
            assert_ne!(bad, good, "{from}");
            assert!(
                matches!(decode(&bad, &key, now, DAY), Err(Discard::Corrupt(_))),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn a_line_that_shows_nothing_now_is_skipped_not_the_conversation() {
        // An extension's line, saved while the page had the extension, read without it.
        let key = storage_key("pizza", "development", "u1");
        let good = encode(&saved(4), 100_000).unwrap();
        let gone = good.replacen("\"type\":\"text\"", "\"type\":\"calendar\"", 1);
        let back = decode(&gone, &key, 1_000.0 * DAY, DAY).unwrap();
        assert_eq!(back.entries.len(), 3);
        assert_eq!(back.entries[..], saved(4).entries[1..]);
        assert_eq!(back.state, saved(4).state);
    }

    #[test]
    fn a_failed_button_click_keeps_its_request() {
        let key = storage_key("pizza", "development", "u1");
        let back = decode(
            &encode(&saved(2), 100_000).unwrap(),
            &key,
            1_000.0 * DAY,
            DAY,
        );
        assert!(matches!(
            &back.unwrap().entries[1],
            Entry::User { delivery: Delivery::Failed, request: Some(r), .. } if r["type"] == "path-b-1"
        ));
    }
}
