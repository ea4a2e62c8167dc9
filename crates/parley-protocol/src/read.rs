//! Reading traces without serde, over any parsed JSON value.
//!
//! The serde types of this crate are lossless and strict, and their code is large: a JSON parser,
//! a deserializer per type, buffering for the unknown fields. The widget ships to browsers under
//! a size budget, and the browser parses JSON already (`JSON.parse`). So the widget reads traces
//! through this module instead: the same wire knowledge (types, field names, what makes a
//! payload malformed), written against the small [`Json`] trait that both `serde_json::Value`
//! (the server, the tests) and the widget's wrapper of a browser value implement.
//!
//! The tests read every trace fixture both ways and check that they agree.

use serde_json::Value;

/// A parsed JSON value, as far as reading traces needs it.
pub trait Json: Clone {
    /// The member `key` of an object; `None` when absent or `null`, or when this is not an
    /// object.
    fn field(&self, key: &str) -> Option<Self>;
    fn text(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;
    fn flag(&self) -> Option<bool>;
    /// The items of an array.
    fn items(&self) -> Option<Vec<Self>>;
    /// Whether this is an object (not an array, not `null`).
    fn is_map(&self) -> bool;
}

impl Json for Value {
    fn field(&self, key: &str) -> Option<Self> {
        self.as_object()?.get(key).filter(|v| !v.is_null()).cloned()
    }
    fn text(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }
    fn number(&self) -> Option<f64> {
        self.as_f64()
    }
    fn flag(&self) -> Option<bool> {
        self.as_bool()
    }
    fn items(&self) -> Option<Vec<Self>> {
        self.as_array().cloned()
    }
    fn is_map(&self) -> bool {
        self.as_object().is_some()
    }
}

/// A button: its label and the request it sends (kept as it came, to send back unchanged).
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonRead<J> {
    pub name: String,
    pub request: J,
}

/// A card, alone (`cardV2`) or in a carousel.
#[derive(Debug, Clone, PartialEq)]
pub struct CardRead<J> {
    pub title: Option<String>,
    /// The description's plain text (may hold markdown).
    pub text: Option<String>,
    /// The description's slate nodes, when the runtime sends them.
    pub slate: Option<Vec<J>>,
    pub image_url: Option<String>,
    pub buttons: Vec<ButtonRead<J>>,
}

/// What one trace means to a client.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceRead<J> {
    Text {
        message: Option<String>,
        /// The slate content nodes, when present.
        slate: Option<Vec<J>>,
        /// Typing delay before the message, in milliseconds.
        delay_ms: Option<f64>,
    },
    Speak {
        message: Option<String>,
        src: Option<String>,
    },
    Visual {
        image: Option<String>,
        width: Option<f64>,
        height: Option<f64>,
    },
    Card(CardRead<J>),
    Carousel(Vec<CardRead<J>>),
    Choice(Vec<ButtonRead<J>>),
    NoReply {
        timeout_secs: Option<f64>,
    },
    End,
    /// `path`, `flow`, `block`, `debug`, `log`, `goto`.
    Diagnostic(String),
    /// A custom action: its type and the request types of its paths, in order.
    Action {
        kind: String,
        paths: Vec<String>,
    },
    /// Any other type (kept by the client only to say it was skipped).
    Other(String),
    /// A known type whose payload does not have the shape its type promises.
    Invalid {
        kind: String,
        reason: &'static str,
    },
}

type Read<T> = Result<T, &'static str>;

/// An optional string member: absent or `null` is `None`, another type is malformed.
fn string<J: Json>(object: &J, key: &str, what: &'static str) -> Read<Option<String>> {
    match object.field(key) {
        None => Ok(None),
        Some(v) => v.text().map(Some).ok_or(what),
    }
}

fn number<J: Json>(object: &J, key: &str, what: &'static str) -> Read<Option<f64>> {
    match object.field(key) {
        None => Ok(None),
        Some(v) => v.number().map(Some).ok_or(what),
    }
}

fn boolean<J: Json>(object: &J, key: &str, what: &'static str) -> Read<Option<bool>> {
    match object.field(key) {
        None => Ok(None),
        Some(v) => v.flag().map(Some).ok_or(what),
    }
}

fn items<J: Json>(object: &J, key: &str, what: &'static str) -> Read<Option<Vec<J>>> {
    match object.field(key) {
        None => Ok(None),
        Some(v) => v.items().map(Some).ok_or(what),
    }
}

/// A payload that must be an object.
fn object<J: Json>(payload: Option<J>) -> Read<J> {
    match payload {
        None => Err("the trace has no payload"),
        Some(p) if p.is_map() => Ok(p),
        Some(_) => Err("the payload is not an object"),
    }
}

fn button<J: Json>(b: &J) -> Read<ButtonRead<J>> {
    if !b.is_map() {
        return Err("a button is not an object");
    }
    let name =
        string(b, "name", "a button's name is not a string")?.ok_or("a button has no name")?;
    let request = b.field("request").ok_or("a button has no request")?;
    if !request.is_map()
        || string(&request, "type", "a button's request type is not a string")?.is_none()
    {
        return Err("a button's request has no type");
    }
    Ok(ButtonRead { name, request })
}

fn buttons<J: Json>(list: Vec<J>) -> Read<Vec<ButtonRead<J>>> {
    list.iter().map(button).collect()
}

fn card<J: Json>(c: &J) -> Read<CardRead<J>> {
    if !c.is_map() {
        return Err("a card is not an object");
    }
    let (text, slate) = match c.field("description") {
        None => (None, None),
        Some(d) if d.is_map() => (
            string(&d, "text", "a card's description text is not a string")?,
            items(&d, "slate", "a card's description slate is not a list")?,
        ),
        Some(_) => return Err("a card's description is not an object"),
    };
    string(c, "id", "a card's id is not a string")?;
    Ok(CardRead {
        title: string(c, "title", "a card's title is not a string")?,
        text,
        slate,
        image_url: string(c, "imageUrl", "a card's imageUrl is not a string")?,
        buttons: buttons(
            items(c, "buttons", "a card's buttons are not a list")?.unwrap_or_default(),
        )?,
    })
}

fn text<J: Json>(p: Option<J>) -> Read<TraceRead<J>> {
    let p = object(p)?;
    boolean(&p, "ai", "`ai` is not a boolean")?;
    let slate = match p.field("slate") {
        None => None,
        Some(s) if s.is_map() => {
            string(&s, "id", "the slate id is not a string")?;
            items(&s, "content", "the slate content is not a list")?
        }
        Some(_) => return Err("the slate is not an object"),
    };
    Ok(TraceRead::Text {
        message: string(&p, "message", "the message is not a string")?,
        slate,
        delay_ms: number(&p, "delay", "the delay is not a number")?
            .filter(|d| d.is_finite() && *d >= 0.0),
    })
}

fn payload_of<J: Json>(kind: &str, p: Option<J>) -> Read<TraceRead<J>> {
    match kind {
        "text" => text(p),
        "speak" => {
            let p = object(p)?;
            string(&p, "type", "the speak type is not a string")?;
            Ok(TraceRead::Speak {
                message: string(&p, "message", "the message is not a string")?,
                src: string(&p, "src", "the src is not a string")?,
            })
        }
        "visual" => {
            let p = object(p)?;
            string(&p, "visualType", "the visualType is not a string")?;
            let (width, height) = match p.field("dimensions") {
                None => (None, None),
                Some(d) if d.is_map() => (
                    Some(number(&d, "width", "a dimension is not a number")?.ok_or("no width")?),
                    Some(number(&d, "height", "a dimension is not a number")?.ok_or("no height")?),
                ),
                Some(_) => return Err("the dimensions are not an object"),
            };
            Ok(TraceRead::Visual {
                image: string(&p, "image", "the image is not a string")?,
                width,
                height,
            })
        }
        "cardV2" => card(&object(p)?).map(TraceRead::Card),
        "carousel" => {
            let p = object(p)?;
            string(&p, "layout", "the layout is not a string")?;
            let cards = items(&p, "cards", "the cards are not a list")?.ok_or("no cards")?;
            cards
                .iter()
                .map(card)
                .collect::<Read<_>>()
                .map(TraceRead::Carousel)
        }
        "choice" => {
            let p = object(p)?;
            let list = items(&p, "buttons", "the buttons are not a list")?.ok_or("no buttons")?;
            buttons(list).map(TraceRead::Choice)
        }
        "no-reply" => {
            let p = object(p)?;
            let timeout =
                number(&p, "timeout", "the timeout is not a number")?.ok_or("no timeout")?;
            Ok(TraceRead::NoReply {
                timeout_secs: Some(timeout).filter(|t| t.is_finite() && *t >= 0.0),
            })
        }
        _ => Err("not a built-in type"),
    }
}

/// Reads one trace `{ "type", "payload"?, ... }`. Never fails: what does not fit is
/// [`TraceRead::Invalid`] or [`TraceRead::Other`], so the rest of a turn still renders.
pub fn read_trace<J: Json>(trace: &J) -> TraceRead<J> {
    let Some(kind) = trace.field("type").and_then(|t| t.text()) else {
        return TraceRead::Invalid {
            kind: String::new(),
            reason: "a trace without a type",
        };
    };
    // A custom action's type is the author's choice and may collide with a built-in one; its
    // `paths` say what it is.
    if let Some(paths) = trace.field("paths").and_then(|p| p.items()) {
        let paths = paths
            .iter()
            .filter_map(|p| p.field("event")?.field("type")?.text())
            .collect();
        return TraceRead::Action { kind, paths };
    }
    let payload = trace.field("payload");
    match kind.as_str() {
        "end" => TraceRead::End,
        "path" | "flow" | "block" | "debug" | "log" | "goto" => TraceRead::Diagnostic(kind),
        "text" | "speak" | "visual" | "cardV2" | "carousel" | "choice" | "no-reply" => {
            match payload_of(&kind, payload) {
                Ok(read) => read,
                Err(reason) => TraceRead::Invalid { kind, reason },
            }
        }
        _ => TraceRead::Other(kind),
    }
}
