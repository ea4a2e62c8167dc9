//! What the runtime answers: an ordered array of traces `{ "type", "payload"?, "time"? }`.

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use crate::message::{RawMessage, non_null, parse_payload, to_payload};
use crate::{Object, Request};

/// One trace of a turn.
///
/// Deserialising never fails on a well-formed `{ "type": string }` object: unknown types become
/// [`TraceKind::Custom`] and known types with a payload that does not fit become
/// [`TraceKind::Invalid`], so a client can skip them and render the rest of the turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawMessage", into = "RawMessage")]
pub struct Trace {
    pub kind: TraceKind,
    /// When the runtime produced it (milliseconds since the epoch), if it says.
    pub time: Option<Number>,
    /// Other top-level fields; a custom action keeps its `paths` and `defaultPath` here.
    pub extra: Object,
}

/// The typed meaning of a trace.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceKind {
    /// `text`: a bot message, plain (`message`) and optionally rich (`slate`).
    Text(TextPayload),
    /// `speak`: a message that may hold SSML, or an audio clip.
    Speak(SpeakPayload),
    /// `visual`: an image.
    Visual(VisualPayload),
    /// `cardV2`: a card with a title, a description, an image and buttons.
    CardV2(Card),
    /// `carousel`: a row of cards.
    Carousel(CarouselPayload),
    /// `choice`: quick-reply buttons.
    Choice(ChoicePayload),
    /// `no-reply`: send a `no-reply` request after `timeout` seconds of silence.
    NoReply(NoReplyPayload),
    /// `end`: the conversation is over.
    End(Option<Value>),
    /// `path`, `flow`, `block`, `debug`, `log`, `goto`: diagnostics, never rendered.
    Diagnostic {
        kind: Diagnostic,
        payload: Option<Value>,
    },
    /// Any other type: a custom action (with `paths` / `defaultPath` in [`Trace::extra`]; a trace
    /// with `paths` is one whatever its type), `knowledgeBase`, `completion`, or a type a newer
    /// runtime invented. Kept whole.
    Custom {
        kind: String,
        payload: Option<Value>,
    },
    /// A known type whose payload does not have the shape its type promises.
    Invalid {
        kind: String,
        payload: Option<Value>,
        reason: String,
    },
}

/// The diagnostic trace types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    Path,
    Flow,
    Block,
    Debug,
    Log,
    Goto,
}

impl Diagnostic {
    pub const ALL: [Diagnostic; 6] = [
        Diagnostic::Path,
        Diagnostic::Flow,
        Diagnostic::Block,
        Diagnostic::Debug,
        Diagnostic::Log,
        Diagnostic::Goto,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Diagnostic::Path => "path",
            Diagnostic::Flow => "flow",
            Diagnostic::Block => "block",
            Diagnostic::Debug => "debug",
            Diagnostic::Log => "log",
            Diagnostic::Goto => "goto",
        }
    }

    fn from_type(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == kind)
    }
}

/// Payload of `text`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextPayload {
    /// The plain message (may hold markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The rich-text form, when the runtime sends one; render it in preference to `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slate: Option<SlateContent>,
    /// How long to show the typing indicator before this message, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Number>,
    /// Whether the message was written by a generative model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai: Option<bool>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A slate rich-text value: `{ "id", "content": [elements], "messageDelayMilliseconds"? }`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlateContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<SlateNode>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A node of a slate tree: an element with children, a text leaf, or something else (kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SlateNode {
    Element(SlateElement),
    Text(SlateText),
    Other(Value),
}

/// An element: a paragraph (no `type`), a `link` (with `url`), a list, a heading…
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlateElement {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub element_type: Option<String>,
    pub children: Vec<SlateNode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A text leaf with its marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlateText {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bold: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub italic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub underline: Option<bool>,
    #[serde(
        rename = "strikeThrough",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub strike_through: Option<bool>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `speak`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpeakPayload {
    /// The message; may hold SSML, which a text client strips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// An audio URL, when the runtime synthesised speech or the block plays audio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// `message` or `audio`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub speak_type: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `visual`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VisualPayload {
    /// `image` is the one a web client renders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visual_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    #[serde(flatten)]
    pub extra: Object,
}

/// An image's intrinsic size, so a client can reserve its space before it loads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    pub width: Number,
    pub height: Number,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `cardV2`, and one card of a carousel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<CardDescription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Button>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A card's description: plain text and, optionally, its slate form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CardDescription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slate: Option<Vec<SlateNode>>,
    #[serde(flatten)]
    pub extra: Object,
}

/// A button of a card or a choice: clicking it sends `request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    pub name: String,
    pub request: Request,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `carousel`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarouselPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    pub cards: Vec<Card>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `choice`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChoicePayload {
    pub buttons: Vec<Button>,
    #[serde(flatten)]
    pub extra: Object,
}

/// Payload of `no-reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoReplyPayload {
    /// Seconds of silence after which the client sends `{ "type": "no-reply" }`.
    pub timeout: Number,
    #[serde(flatten)]
    pub extra: Object,
}

impl NoReplyPayload {
    pub fn timeout_secs(&self) -> Option<f64> {
        self.timeout.as_f64().filter(|t| t.is_finite() && *t >= 0.0)
    }
}

impl TextPayload {
    pub fn delay_ms(&self) -> Option<f64> {
        self.delay
            .as_ref()
            .and_then(Number::as_f64)
            .filter(|d| d.is_finite() && *d >= 0.0)
    }
}

/// One of a custom action's paths, as its trace lists them: `{ "event": { "type": "success" } }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomActionPath {
    /// The request type that resumes the flow along this path.
    pub request_type: String,
}

impl Trace {
    pub fn new(kind: TraceKind) -> Self {
        Self {
            kind,
            time: None,
            extra: Object::new(),
        }
    }

    /// A plain `text` trace.
    pub fn text(message: impl Into<String>) -> Self {
        Self::new(TraceKind::Text(TextPayload {
            message: Some(message.into()),
            ..TextPayload::default()
        }))
    }

    /// The wire `type`.
    pub fn type_name(&self) -> &str {
        match &self.kind {
            TraceKind::Text(_) => "text",
            TraceKind::Speak(_) => "speak",
            TraceKind::Visual(_) => "visual",
            TraceKind::CardV2(_) => "cardV2",
            TraceKind::Carousel(_) => "carousel",
            TraceKind::Choice(_) => "choice",
            TraceKind::NoReply(_) => "no-reply",
            TraceKind::End(_) => "end",
            TraceKind::Diagnostic { kind, .. } => kind.as_str(),
            TraceKind::Custom { kind, .. } | TraceKind::Invalid { kind, .. } => kind,
        }
    }

    /// The paths a custom action trace offers (`paths: [{ event: { type } }]`), in order.
    /// Empty for any other trace, and for entries without a string `event.type`.
    pub fn action_paths(&self) -> Vec<CustomActionPath> {
        let Some(Value::Array(paths)) = self.extra.get("paths") else {
            return Vec::new();
        };
        paths
            .iter()
            .filter_map(|p| p.get("event")?.get("type")?.as_str())
            .map(|t| CustomActionPath {
                request_type: t.to_owned(),
            })
            .collect()
    }

    /// The index into [`Trace::action_paths`] to follow when the host does not answer.
    pub fn default_path(&self) -> Option<u64> {
        self.extra.get("defaultPath")?.as_u64()
    }
}

impl From<RawMessage> for Trace {
    fn from(mut raw: RawMessage) -> Self {
        // `time` is part of the contract; anything else stays in `extra`.
        let time = match raw.extra.remove("time") {
            Some(Value::Number(n)) => Some(n),
            Some(other) => {
                raw.extra.insert("time".to_owned(), other);
                None
            }
            None => None,
        };
        let typed = |parsed: Result<TraceKind, String>, raw: &RawMessage| {
            parsed.unwrap_or_else(|reason| TraceKind::Invalid {
                kind: raw.kind.clone(),
                payload: raw.payload.clone(),
                reason,
            })
        };
        let p = &raw.payload;
        // A custom action's type is the author's choice and may collide with a built-in one;
        // its `paths` say what it is.
        let custom_action = matches!(raw.extra.get("paths"), Some(Value::Array(_)));
        let kind = match raw.kind.as_str() {
            _ if custom_action => TraceKind::Custom {
                kind: raw.kind.clone(),
                payload: raw.payload.clone(),
            },
            "text" => typed(parse_payload(p).map(TraceKind::Text), &raw),
            "speak" => typed(parse_payload(p).map(TraceKind::Speak), &raw),
            "visual" => typed(parse_payload(p).map(TraceKind::Visual), &raw),
            "cardV2" => typed(parse_payload(p).map(TraceKind::CardV2), &raw),
            "carousel" => typed(parse_payload(p).map(TraceKind::Carousel), &raw),
            "choice" => typed(parse_payload(p).map(TraceKind::Choice), &raw),
            "no-reply" => typed(parse_payload(p).map(TraceKind::NoReply), &raw),
            "end" => TraceKind::End(raw.payload.clone()),
            other => match Diagnostic::from_type(other) {
                Some(kind) => TraceKind::Diagnostic {
                    kind,
                    payload: raw.payload.clone(),
                },
                None => TraceKind::Custom {
                    kind: raw.kind.clone(),
                    payload: raw.payload.clone(),
                },
            },
        };
        Trace {
            kind,
            time,
            extra: raw.extra,
        }
    }
}

impl From<Trace> for RawMessage {
    fn from(trace: Trace) -> Self {
        let kind = trace.type_name().to_owned();
        let payload = match trace.kind {
            TraceKind::Text(p) => Some(to_payload(&p)),
            TraceKind::Speak(p) => Some(to_payload(&p)),
            TraceKind::Visual(p) => Some(to_payload(&p)),
            TraceKind::CardV2(p) => Some(to_payload(&p)),
            TraceKind::Carousel(p) => Some(to_payload(&p)),
            TraceKind::Choice(p) => Some(to_payload(&p)),
            TraceKind::NoReply(p) => Some(to_payload(&p)),
            TraceKind::End(payload) => non_null(payload),
            TraceKind::Diagnostic { payload, .. }
            | TraceKind::Custom { payload, .. }
            | TraceKind::Invalid { payload, .. } => payload,
        };
        let mut extra = trace.extra;
        if let Some(time) = trace.time {
            extra.insert("time".to_owned(), Value::Number(time));
        }
        RawMessage::new(kind, payload, extra)
    }
}
