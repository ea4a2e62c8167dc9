//! Talking to a Dialog API runtime (Parley's or Voiceflow's), in either flavour: the calls are
//! the ones Voiceflow's own clients make (`@voiceflow/sdk-runtime`, inside its web widget).
//!
//! Building a call is plain Rust (tested natively); sending it uses the browser's `fetch`.

use crate::json::{Build, Json, Read};

/// Where the runtime is and how to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The runtime's base URL, e.g. `https://general-runtime.voiceflow.com` or `""` for the
    /// page's own origin.
    pub url: String,
    /// The project, which the public route names.
    pub project: String,
    /// The `versionID` the page gave; without one the stateless flavour asks for
    /// `development` and the stateful one names none (as Voiceflow's widget: the runtime's
    /// default, Voiceflow's published version).
    pub version: Option<String>,
    pub api_key: Option<String>,
    /// The stateful flavour's user id; `None` for the stateless flavour.
    pub user: Option<String>,
    /// Stateful turns go to Voiceflow's current API (a v4 session, turns streamed as
    /// server-sent events with `completion` traces) while the runtime offers it (the `stream`
    /// option, on unless turned off).
    pub stream: bool,
}

/// An HTTP call, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub stateful: bool,
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Diagnostic traces the widget never shows: asked to be left off the wire.
pub const EXCLUDED_TYPES: [&str; 5] = ["block", "debug", "flow", "path", "log"];

impl Endpoint {
    /// The page's own origin, stateless, version `development`, no key.
    pub fn same_origin() -> Endpoint {
        Endpoint {
            url: String::new(),
            project: String::new(),
            version: None,
            api_key: None,
            user: None,
            stream: false,
        }
    }

    /// Whether a turn streams: stateful, and asked for.
    pub fn streams(&self) -> bool {
        self.stream && self.user.is_some()
    }

    /// The headers every call names: the JSON body, and the `versionID` asked for.
    fn headers(&self) -> Vec<(String, String)> {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        match (&self.version, &self.user) {
            (Some(version), _) => headers.push(("versionID".to_owned(), version.clone())),
            (None, None) => headers.push(("versionID".to_owned(), "development".to_owned())),
            (None, Some(_)) => {}
        }
        headers
    }

    /// A v4 session for the user, `POST {url}/v4/project/{projectID}/session` with
    /// `{ userID }` (`…/environment/{versionID}/session` when the page names a version): a new
    /// conversation, and the key its turns are sent with. A page with a project key sends it;
    /// without one the runtime applies its public route's rules.
    pub fn session_call(&self) -> Call {
        let mut headers = self.headers();
        if let Some(key) = &self.api_key {
            headers.push(("authorization".to_owned(), key.clone()));
        }
        let user = self.user.as_deref().unwrap_or_default();
        let mut url = format!(
            "{}/v4/project/{}/",
            self.url.trim_end_matches('/'),
            encode_path(&self.project)
        );
        if let Some(version) = &self.version {
            url.push_str("environment/");
            url.push_str(&encode_path(version));
            url.push('/');
        }
        url.push_str("session");
        Call {
            stateful: true,
            method: "POST",
            url,
            headers,
            body: Json::object(vec![("userID", Json::of_str(user))]).to_text(),
        }
    }

    /// A turn of the v4 session `session`, streamed: `POST {url}/v4/interact/stream` with the
    /// session key as `authorization` and `{ action, config }`, the config asking for an LLM's
    /// answer as `completion` traces. `request_id` as in [`Endpoint::call`].
    pub fn stream_call(&self, session: &str, request: &Json, request_id: &str) -> Call {
        let mut headers = self.headers();
        headers.extend([
            ("accept".to_owned(), "text/event-stream".to_owned()),
            ("authorization".to_owned(), session.to_owned()),
            ("x-parley-request-id".to_owned(), request_id.to_owned()),
        ]);
        let config = Json::object(vec![
            ("excludeTypes", excluded()),
            ("completionEvents", Json::of_bool(true)),
        ]);
        Call {
            stateful: true,
            method: "POST",
            url: format!("{}/v4/interact/stream", self.url.trim_end_matches('/')),
            headers,
            body: Json::object(vec![("action", request.clone()), ("config", config)]).to_text(),
        }
    }

    /// The call for one turn, with a `config` that keeps diagnostics off the wire.
    /// Stateless: `POST {url}/interact` with the state as it was received (opaque).
    /// Stateful, as Voiceflow's widget calls it: without a key the public route
    /// `POST {url}/public/{projectID}/state/user/{userID}/interact` (a key is a secret; a
    /// public page has none), with one the keyed route
    /// `POST {url}/state/user/{userID}/interact?verbose=true` with `authorization` and
    /// `sessionID`; the body is `{ action, config }` either way.
    /// `request_id` goes out as `x-parley-request-id` in the stateful flavour: a retry with the
    /// same id is answered from the runtime's record instead of taking the turn twice.
    pub fn call(&self, state: Option<&Json>, request: &Json, request_id: &str) -> Call {
        let config = ("config", Json::object(vec![("excludeTypes", excluded())]));
        let base = self.url.trim_end_matches('/');
        let (url, body) = match &self.user {
            Some(user) => {
                let user = encode_path(user);
                let url = match self.api_key {
                    Some(_) => format!("{base}/state/user/{user}/interact?verbose=true"),
                    None => format!(
                        "{base}/public/{}/state/user/{user}/interact",
                        encode_path(&self.project)
                    ),
                };
                (url, vec![("action", request.clone()), config])
            }
            None => {
                let mut body = vec![("request", request.clone()), config];
                if let Some(state) = state {
                    body.push(("state", state.clone()));
                }
                (format!("{base}/interact"), body)
            }
        };
        let mut headers = self.headers();
        if let Some(key) = &self.api_key {
            headers.push(("authorization".to_owned(), key.clone()));
        }
        if let Some(user) = &self.user {
            if self.api_key.is_some() {
                headers.push(("sessionID".to_owned(), user.clone()));
            }
            headers.push(("x-parley-request-id".to_owned(), request_id.to_owned()));
        }
        Call {
            stateful: self.user.is_some(),
            method: "POST",
            url,
            headers,
            body: Json::object(body).to_text(),
        }
    }
}

/// [`EXCLUDED_TYPES`], as the config names them.
fn excluded() -> Json {
    Json::array(EXCLUDED_TYPES.iter().map(|t| Json::of_str(t)).collect())
}

/// A user id as one path segment: letters, digits and `-_.~` as they are, the rest
/// percent-encoded.
fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            // By hand: a `{:02X}` would bring in the hex formatter for this one use.
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

/// Why a call did not give a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No answer: offline, the server is down, CORS refused.
    Unreachable(String),
    /// The runtime answered with an error.
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    /// The answer is not a Dialog API answer.
    Malformed(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable(why) => write!(f, "the chat server cannot be reached ({why})"),
            ClientError::Refused {
                status,
                code,
                message,
            } => match status {
                // An `event: error` frame of a stream that had begun (its status was 200).
                0 => write!(
                    f,
                    "the chat server's stream ended in an error ({code}: {message})"
                ),
                _ => write!(
                    f,
                    "the chat server refused the message ({status} {code}: {message})"
                ),
            },
            ClientError::Malformed(why) => {
                write!(f, "the chat server's answer is not understood ({why})")
            }
        }
    }
}

impl ClientError {
    /// Whether the conversation cannot go on, so that a retry would never work: its state
    /// refused (forged, unsigned, expired: 409, but not `state_conflict`, which asks for the
    /// request again), gone (410), the project or version gone (404), the key refused
    /// (401/403). A new chat is the way out. Anything else (offline, 5xx, 429, a garbled
    /// answer) may pass on a retry.
    pub fn fatal(&self) -> bool {
        match self {
            ClientError::Refused { status, code, .. } => match status {
                401 | 403 | 404 | 410 => true,
                409 => code != "state_conflict",
                _ => code == "state_expired",
            },
            _ => false,
        }
    }
}

/// The state to keep and the traces to show.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The new state (stateless); the stateful flavour's runtime keeps it.
    pub state: Option<Json>,
    pub traces: Vec<Json>,
}

/// Reads an answer (or an error body) from its status and text: stateless
/// `{ state, trace }`; stateful, a bare trace array (the keyed route), the public route's
/// `{ trace }` envelope, or the verbose `{ state, trace, request }` (the runtime keeps the
/// state: it is not read).
pub fn read_answer(status: u16, text: &str, stateful: bool) -> Result<Answer, ClientError> {
    let value = Json::parse(text);
    if !(200..300).contains(&status) {
        return Err(refusal(status, value.as_ref(), text));
    }
    let malformed = |why: &str| ClientError::Malformed(why.to_owned());
    let value = value.ok_or_else(|| malformed("not JSON"))?;
    if stateful {
        let traces = value
            .items()
            .or_else(|| value.field("trace")?.items())
            .ok_or_else(|| malformed("no trace list"))?;
        return Ok(Answer {
            state: None,
            traces,
        });
    }
    // The state stays opaque (a Voiceflow state is not ours to rewrite).
    let state = value
        .field("state")
        .filter(Read::is_map)
        .ok_or_else(|| malformed("no state"))?;
    let traces = value
        .field("trace")
        .and_then(|t| t.items())
        .ok_or_else(|| malformed("no trace list"))?;
    Ok(Answer {
        state: Some(state),
        traces,
    })
}

/// An error answer: its `{ code, message }`, else its first words.
fn refusal(status: u16, value: Option<&Json>, text: &str) -> ClientError {
    let field = |key| value?.field(key)?.text();
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => ClientError::Refused {
            status,
            code,
            message,
        },
        _ => ClientError::Refused {
            status,
            code: "http_error".to_owned(),
            message: text.chars().take(200).collect(),
        },
    }
}

/// Reads a session start's answer: the `sessionKey`.
pub fn read_session(status: u16, text: &str) -> Result<String, ClientError> {
    let value = Json::parse(text);
    if !(200..300).contains(&status) {
        return Err(refusal(status, value.as_ref(), text));
    }
    value
        .and_then(|v| v.field("sessionKey")?.text())
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ClientError::Malformed("no sessionKey".to_owned()))
}

/// One server-sent event: its name (`message` when the stream names none) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub event: String,
    pub data: String,
}

/// The longest line or event a stream may send (a trace is a few KB; a model's whole answer is
/// at most 64 KB): past it the stream is refused rather than held in memory.
const MAX_FRAME_BYTES: usize = 1 << 20;

/// Server-sent events cut from a body as its bytes arrive (the WHATWG `text/event-stream`
/// rules: lines end in CRLF, LF or CR, an event ends at a blank line, `data` lines join with
/// newlines, a comment starts with `:`, one space after the colon is dropped). Unlike
/// `EventSource`, an event with a name and no data (Voiceflow's `event: end`) is kept.
#[derive(Debug, Default)]
pub struct Frames {
    buf: String,
    event: Option<String>,
    data: Option<String>,
    /// The last text ended in a CR: an LF first in the next is the same line end.
    after_cr: bool,
}

impl Frames {
    /// Takes the next text (the browser decodes the body); answers the events it completes.
    pub fn push(&mut self, text: &str) -> Result<Vec<Frame>, ClientError> {
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let text = match text.strip_prefix('\n') {
            Some(rest) if self.after_cr => rest,
            _ => text,
        };
        self.after_cr = text.ends_with('\r');
        self.buf.push_str(text);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(at) = self.buf.as_bytes()[start..]
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
        {
            let end = start + at;
            let bytes = self.buf.as_bytes();
            let width = match (bytes[end], bytes.get(end + 1)) {
                (b'\r', Some(b'\n')) => 2,
                _ => 1,
            };
            // Cut at ASCII line ends: whole characters.
            let line = crate::part(&self.buf, start..end).to_owned();
            self.line(&line, &mut out);
            start = end + width;
        }
        self.buf.drain(..start);
        let held = self.buf.len() + self.data.as_ref().map_or(0, String::len);
        if held > MAX_FRAME_BYTES {
            return Err(ClientError::Malformed(
                "a streamed event is over 1 MB".to_owned(),
            ));
        }
        Ok(out)
    }

    fn line(&mut self, line: &str, out: &mut Vec<Frame>) {
        if line.is_empty() {
            let (event, data) = (self.event.take(), self.data.take());
            if event.is_some() || data.is_some() {
                out.push(Frame {
                    event: event.unwrap_or_else(|| "message".to_owned()),
                    data: data.unwrap_or_default(),
                });
            }
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            // An empty name is the default one.
            "event" => self.event = (!value.is_empty()).then(|| value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }
}

/// A network failure (a `TypeError`, whose message says why) as the visitor's error.
#[cfg(target_arch = "wasm32")]
fn unreachable(e: wasm_bindgen::JsValue) -> ClientError {
    let message = js_sys::Reflect::get(&e, &"message".into())
        .ok()
        .and_then(|m| m.as_string());
    ClientError::Unreachable(e.as_string().or(message).unwrap_or_default())
}

/// `fetch`es a call: its status and its body's text. The request leaves at the call, not when
/// the future is first polled: a turn's request (the launch, at the first opening) goes out
/// before the view is drawn.
#[cfg(target_arch = "wasm32")]
fn exchange(
    call: &Call,
) -> impl std::future::Future<Output = Result<(u16, String), ClientError>> + use<> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    let sent = fetch(call);
    async move {
        let response: web_sys::Response = JsFuture::from(sent?)
            .await
            .map_err(unreachable)?
            .unchecked_into();
        let text = JsFuture::from(response.text().map_err(unreachable)?)
            .await
            .map_err(unreachable)?
            .as_string()
            .unwrap_or_default();
        Ok((response.status(), text))
    }
}

#[cfg(target_arch = "wasm32")]
fn fetch(call: &Call) -> Result<js_sys::Promise, ClientError> {
    let init = web_sys::RequestInit::new();
    init.set_method(call.method);
    init.set_mode(web_sys::RequestMode::Cors);
    init.set_body(&wasm_bindgen::JsValue::from_str(&call.body));
    let request = web_sys::Request::new_with_str_and_init(&call.url, &init).map_err(unreachable)?;
    for (name, value) in &call.headers {
        request.headers().set(name, value).map_err(unreachable)?;
    }
    let window = web_sys::window().ok_or_else(|| ClientError::Unreachable("no window".into()))?;
    Ok(window.fetch_with_request(&request))
}

/// Sends a turn on the plain route (sent at the call, see [`exchange`]): its answer.
#[cfg(target_arch = "wasm32")]
pub fn send(call: &Call) -> impl std::future::Future<Output = Result<Answer, ClientError>> + use<> {
    let exchange = exchange(call);
    let stateful = call.stateful;
    async move {
        let (status, text) = exchange.await?;
        read_answer(status, &text, stateful)
    }
}

/// Starts a v4 session ([`Endpoint::session_call`]): its key.
#[cfg(target_arch = "wasm32")]
pub async fn start_session(call: &Call) -> Result<String, ClientError> {
    let (status, text) = exchange(call).await?;
    read_session(status, &text)
}

/// What a streamed turn says, as it arrives.
#[derive(Debug)]
pub enum Streamed {
    /// A trace (an `event: trace` whose data is a JSON object; the other events of no use to
    /// the widget are skipped).
    Trace(Json),
    /// Its `end`.
    Ended,
    /// A refusal before the stream (the runtime's error), an `error` event, a stream that stops
    /// before its `end`, or an answer that is no stream. What arrived was handed on before.
    Failed(ClientError),
}

/// Sends a streamed turn; `on` hears each event as it arrives, then how it ended (once).
///
/// `XMLHttpRequest`, not `fetch`: its `progress` events hand over the text as it arrives,
/// decoded, with no read loop in the app (`fetch`'s reader loop, an async state machine with
/// the bytes copied and decoded in wasm, weighed 0.9 KB gzip more of the 120 KB budget).
#[cfg(target_arch = "wasm32")]
pub fn stream(call: &Call, mut on: impl FnMut(Streamed) + 'static) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let xhr = match web_sys::XmlHttpRequest::new() {
        Ok(xhr) => xhr,
        Err(e) => return on(Streamed::Failed(unreachable(e))),
    };
    if let Err(e) = xhr.open(call.method, &call.url) {
        return on(Streamed::Failed(unreachable(e)));
    }
    for (name, value) in &call.headers {
        let _ = xhr.set_request_header(name, value);
    }
    let mut frames = Frames::default();
    let mut read = 0;
    let mut over = false;
    let listener = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
        // The request itself, from the event: a listener holding it would make a cycle that
        // keeps the request, its text and the listener alive after the turn.
        let Some(x) = event
            .current_target()
            .map(|t| t.unchecked_into::<web_sys::XmlHttpRequest>())
        else {
            return;
        };
        if over {
            return;
        }
        let kind = event.type_();
        let loaded = kind == "load";
        let status = x.status().unwrap_or(0);
        let text: js_sys::JsString = js_sys::Reflect::get(&x, &"responseText".into())
            .map(|t| t.unchecked_into())
            .unwrap_or_else(|_| js_sys::JsString::from(""));
        let end = if kind == "error" || kind == "abort" {
            Some(Streamed::Failed(ClientError::Unreachable(cut_off())))
        } else if !(200..300).contains(&status) {
            // A refusal: read whole, once it is all there.
            loaded.then(|| {
                let text = String::from(text);
                Streamed::Failed(refusal(status, Json::parse(&text).as_ref(), &text))
            })
        } else {
            // Only what is new crosses into the app.
            let new = String::from(text.slice(read, text.length()));
            read = text.length();
            match frames.push(&new) {
                Err(e) => Some(Streamed::Failed(e)),
                Ok(list) => {
                    let mut end = None;
                    for frame in list {
                        match frame.event.as_str() {
                            "end" => end = Some(Streamed::Ended),
                            "error" => {
                                let value = Json::parse(&frame.data);
                                end =
                                    Some(Streamed::Failed(refusal(0, value.as_ref(), &frame.data)));
                            }
                            "trace" => {
                                match Json::parse(&frame.data).filter(Read::is_map) {
                                    Some(trace) => on(Streamed::Trace(trace)),
                                    None => web_sys::console::warn_1(
                                        &"parley: a streamed trace that is not a JSON object was skipped"
                                            .into(),
                                    ),
                                }
                            }
                            _ => {}
                        }
                        if end.is_some() {
                            break;
                        }
                    }
                    // Ended with no `end` (or not a stream at all).
                    end.or_else(|| {
                        loaded.then(|| Streamed::Failed(ClientError::Unreachable(cut_off())))
                    })
                }
            }
        };
        if let Some(end) = end {
            over = true;
            on(end);
        }
    })
    .into_js_value();
    for kind in ["progress", "load", "error", "abort"] {
        let _ = xhr.add_event_listener_with_callback(kind, listener.unchecked_ref());
    }
    // It throws only when not opened, which it is.
    let _ = xhr.send_with_opt_str(Some(&call.body));
}

#[cfg(target_arch = "wasm32")]
fn cut_off() -> String {
    "the answer was cut off before its end".to_owned()
}

/// Outside a browser there is no `fetch`: native builds (the logic's tests) never send.
#[cfg(not(target_arch = "wasm32"))]
pub fn send(
    _call: &Call,
) -> impl std::future::Future<Output = Result<Answer, ClientError>> + use<> {
    async { Err(ClientError::Unreachable("not in a browser".to_owned())) }
}

#[cfg(not(target_arch = "wasm32"))]
pub async fn start_session(_call: &Call) -> Result<String, ClientError> {
    Err(ClientError::Unreachable("not in a browser".to_owned()))
}

#[cfg(not(target_arch = "wasm32"))]
pub fn stream(_call: &Call, mut on: impl FnMut(Streamed) + 'static) {
    on(Streamed::Failed(ClientError::Unreachable(
        "not in a browser".to_owned(),
    )));
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::json::request;
    use serde_json::{Value, json};

    /// The value of header `name` in `call`.
    fn header(call: &Call, name: &str) -> Option<String> {
        call.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            url: "https://runtime.example/".into(),
            project: "pizza".into(),
            version: Some("production".into()),
            api_key: Some("VF.DM.123".into()),
            user: None,
            stream: false,
        }
    }

    #[test]
    fn builds_the_stateless_call() {
        let state =
            json!({ "stack": [], "storage": {}, "variables": { "x": 1 }, "signature": "ab" });
        let call = endpoint().call(Some(&state), &request("text", Some(json!("hi"))), "r-1");
        assert_eq!(call.url, "https://runtime.example/interact");
        assert!(
            call.headers
                .contains(&("versionID".into(), "production".into()))
        );
        assert!(
            call.headers
                .contains(&("authorization".into(), "VF.DM.123".into()))
        );
        let body: Value = serde_json::from_str(&call.body).unwrap();
        assert_eq!(
            body["state"], state,
            "the state goes back exactly as received"
        );
        assert_eq!(body["request"], json!({ "type": "text", "payload": "hi" }));
        assert_eq!(body["config"]["excludeTypes"][0], "block");
        let first = endpoint().call(None, &request("launch", None), "r-2");
        let body: Value = serde_json::from_str(&first.body).unwrap();
        assert!(body.field("state").is_none());
    }

    #[test]
    fn builds_the_stateful_calls_voiceflows_widget_makes() {
        let launch = request("launch", None);
        // Without a key: the public route, no `authorization`, no `sessionID`.
        let public = Endpoint {
            api_key: None,
            user: Some("user 1/é".into()),
            ..endpoint()
        }
        .call(None, &launch, "r-1");
        assert_eq!(
            public.url,
            "https://runtime.example/public/pizza/state/user/user%201%2F%C3%A9/interact"
        );
        assert!(public.stateful);
        assert_eq!(header(&public, "versionID").as_deref(), Some("production"));
        assert_eq!(header(&public, "authorization"), None);
        assert_eq!(header(&public, "sessionID"), None);
        assert_eq!(
            header(&public, "x-parley-request-id").as_deref(),
            Some("r-1")
        );
        let body: Value = serde_json::from_str(&public.body).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["action", "config"], "sdk-runtime's body keys");
        assert_eq!(body["action"], json!({ "type": "launch" }));
        // With a key: the keyed route, verbose, with the key and the session.
        let keyed = Endpoint {
            user: Some("u-1".into()),
            ..endpoint()
        }
        .call(None, &launch, "r-2");
        assert_eq!(
            keyed.url,
            "https://runtime.example/state/user/u-1/interact?verbose=true"
        );
        assert_eq!(
            header(&keyed, "authorization").as_deref(),
            Some("VF.DM.123")
        );
        assert_eq!(header(&keyed, "sessionID").as_deref(), Some("u-1"));
        // No `versionID` given: none sent (the runtime's default), as Voiceflow's widget does;
        // the stateless flavour names `development`.
        let unversioned = Endpoint {
            version: None,
            ..endpoint()
        };
        let stateful = Endpoint {
            user: Some("u-1".into()),
            ..unversioned.clone()
        };
        assert_eq!(
            header(&stateful.call(None, &launch, "r-3"), "versionID"),
            None
        );
        let stateless = unversioned.call(None, &launch, "r-4");
        assert_eq!(
            header(&stateless, "versionID").as_deref(),
            Some("development")
        );
    }

    #[test]
    fn reads_answers_and_errors() {
        let ok = read_answer(200, r#"{"state":{"stack":[],"storage":{},"variables":{},"signature":"s"},"request":null,"trace":[{"type":"text","payload":{"message":"Hi"}}]}"#, false).unwrap();
        assert_eq!(ok.state.unwrap()["signature"], "s");
        let turn =
            read_answer(200, r#"[{"type":"text","payload":{"message":"Hi"}}]"#, true).unwrap();
        assert_eq!((turn.state, turn.traces.len()), (None, 1));
        // The public route's envelope, and the keyed route's verbose answer.
        let public = read_answer(200, r#"{"trace":[{"type":"end"}]}"#, true).unwrap();
        assert_eq!((public.state, public.traces.len()), (None, 1));
        let verbose = read_answer(
            200,
            r#"{"state":{"stack":[]},"trace":[{"type":"end"},{"type":"end"}],"request":{"type":"launch"}}"#,
            true,
        )
        .unwrap();
        assert_eq!((verbose.state, verbose.traces.len()), (None, 2));
        for odd in [r#"{"trace":{}}"#, r#"{"state":{}}"#, "{}", "7"] {
            assert!(
                matches!(read_answer(200, odd, true), Err(ClientError::Malformed(_))),
                "{odd}"
            );
        }
        assert_eq!(ok.traces.len(), 1);
        assert_eq!(
            read_answer(409, r#"{"code":"state_forged","message":"changed"}"#, false),
            Err(ClientError::Refused {
                status: 409,
                code: "state_forged".into(),
                message: "changed".into()
            })
        );
        assert!(matches!(
            read_answer(502, "<html>Bad gateway</html>", false),
            Err(ClientError::Refused { status: 502, .. })
        ));
        // What the console and `parley:error` say: a refusal with its status; a stream's
        // `event: error` (status 0: the stream had begun) as what it is.
        let refused = |status| ClientError::Refused {
            status,
            code: "llm_failed".into(),
            message: "the model did not answer".into(),
        };
        assert_eq!(
            refused(503).to_string(),
            "the chat server refused the message (503 llm_failed: the model did not answer)"
        );
        assert_eq!(
            refused(0).to_string(),
            "the chat server's stream ended in an error (llm_failed: the model did not answer)"
        );
        assert!(matches!(
            read_answer(200, "not json", false),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            read_answer(200, r#"{"trace":[]}"#, false),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            read_answer(200, r#"{"state":{},"trace":{}}"#, false),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            read_answer(200, r#"{"state":[],"trace":[]}"#, false),
            Err(ClientError::Malformed(_))
        ));
    }

    #[test]
    fn builds_the_v4_session_and_stream_calls() {
        let public = Endpoint {
            api_key: None,
            user: Some("user 1".into()),
            stream: true,
            ..endpoint()
        };
        assert!(public.streams());
        assert!(
            !Endpoint {
                user: None,
                ..public.clone()
            }
            .streams(),
            "the stateless flavour does not stream"
        );
        let start = public.session_call();
        assert_eq!(
            start.url, "https://runtime.example/v4/project/pizza/environment/production/session",
            "the version the page names"
        );
        let unversioned = Endpoint {
            version: None,
            ..public.clone()
        };
        assert_eq!(
            unversioned.session_call().url,
            "https://runtime.example/v4/project/pizza/session"
        );
        assert_eq!(
            header(&start, "authorization"),
            None,
            "no key on a public page"
        );
        assert_eq!(header(&start, "versionID").as_deref(), Some("production"));
        let body: Value = serde_json::from_str(&start.body).unwrap();
        assert_eq!(body, json!({ "userID": "user 1" }));
        let keyed = Endpoint {
            user: Some("u".into()),
            ..endpoint()
        };
        assert_eq!(
            header(&keyed.session_call(), "authorization").as_deref(),
            Some("VF.DM.123")
        );
        let turn = public.stream_call("the-session", &request("text", Some(json!("hi"))), "r-9");
        assert_eq!(turn.url, "https://runtime.example/v4/interact/stream");
        assert_eq!(
            header(&turn, "authorization").as_deref(),
            Some("the-session")
        );
        assert_eq!(
            header(&turn, "accept").as_deref(),
            Some("text/event-stream")
        );
        assert_eq!(header(&turn, "x-parley-request-id").as_deref(), Some("r-9"));
        let body: Value = serde_json::from_str(&turn.body).unwrap();
        assert_eq!(body["action"], json!({ "type": "text", "payload": "hi" }));
        assert_eq!(body["config"]["completionEvents"], true);
        assert_eq!(body["config"]["excludeTypes"][0], "block");
        assert_eq!(
            read_session(200, r#"{"sessionKey":"k.1"}"#),
            Ok("k.1".to_owned())
        );
        assert!(matches!(
            read_session(200, r#"{"sessionKey":""}"#),
            Err(ClientError::Malformed(_))
        ));
        assert!(matches!(
            read_session(404, r#"{"code":"not_found","message":"no route"}"#),
            Err(ClientError::Refused { status: 404, .. })
        ));
    }

    /// Voiceflow's documented completion stream (`completion_events=true`: ids, a name, one
    /// JSON per `data` line, an `end` with no data), cut into chunks at every possible byte.
    #[test]
    fn reads_server_sent_events_however_the_bytes_are_cut() {
        let stream = concat!(
            "event: trace\nid: 1\ndata: {\"type\":\"completion\",\"payload\":{\"state\":\"start\"},\"time\":1725899197143}\n\n",
            "event: trace\nid: 2\ndata: {\"type\":\"completion\",\"payload\":{\"state\":\"content\",\"content\":\"Welcome to our servi\u{e7}e. \"},\"time\":1725899197144}\n\n",
            ": a comment, and a keep-alive\n\n",
            "event: trace\r\nid: 3\r\ndata: {\"type\":\"completion\",\"payload\":{\"state\":\"end\"}}\r\n\r\n",
            "event: end\nid: 4\n\n",
        );
        let want = |frames: &[Frame]| {
            let names: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
            assert_eq!(names, ["trace", "trace", "trace", "end"]);
            let second: Value = serde_json::from_str(&frames[1].data).unwrap();
            assert_eq!(
                second["payload"]["content"],
                "Welcome to our servi\u{e7}e. "
            );
            assert_eq!(frames[3].data, "");
        };
        let mut whole = Frames::default();
        want(&whole.push(stream).unwrap());
        for (cut, _) in stream.char_indices().skip(1) {
            let mut frames = Frames::default();
            let mut got = frames.push(&stream[..cut]).unwrap();
            got.extend(frames.push(&stream[cut..]).unwrap());
            want(&got);
        }
        let mut one_by_one = Frames::default();
        let got: Vec<Frame> = stream
            .chars()
            .flat_map(|c| one_by_one.push(c.encode_utf8(&mut [0; 4])).unwrap())
            .collect();
        want(&got);
        // Lines of data join; a bare CR ends a line; no name is `message`.
        let mut frames = Frames::default();
        let got = frames.push("data: one\rdata:two\n\ndata\n\n").unwrap();
        assert_eq!(
            got,
            [
                Frame {
                    event: "message".into(),
                    data: "one\ntwo".into()
                },
                Frame {
                    event: "message".into(),
                    data: "".into()
                }
            ]
        );
        // A CR last ends its line at once (an LF first in the next text is the same end), and
        // an empty event name is the default.
        let mut frames = Frames::default();
        let mut got = frames.push("event: end\r\r").unwrap();
        assert_eq!(got.len(), 1, "dispatched without waiting for more");
        got.extend(frames.push("\ndata: x\r").unwrap());
        got.extend(frames.push("\n\r\nevent:\ndata: y\n\n").unwrap());
        let names: Vec<(&str, &str)> = got
            .iter()
            .map(|f| (f.event.as_str(), f.data.as_str()))
            .collect();
        assert_eq!(names, [("end", ""), ("message", "x"), ("message", "y")]);
        // A stream that never ends its line is refused, not held.
        let mut endless = Frames::default();
        let chunk = "x".repeat(64 * 1024);
        let refused = (0..20).find_map(|_| endless.push(&chunk).err());
        assert!(matches!(refused, Some(ClientError::Malformed(_))));
    }
}
