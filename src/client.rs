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
        let excluded = EXCLUDED_TYPES.iter().map(|t| Json::of_str(t)).collect();
        let config = (
            "config",
            Json::object(vec![("excludeTypes", Json::array(excluded))]),
        );
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
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        match (&self.version, &self.user) {
            (Some(version), _) => headers.push(("versionID".to_owned(), version.clone())),
            (None, None) => headers.push(("versionID".to_owned(), "development".to_owned())),
            (None, Some(_)) => {}
        }
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
            } => {
                write!(
                    f,
                    "the chat server refused the message ({status} {code}: {message})"
                )
            }
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
        let field = |key| value.as_ref()?.field(key)?.text();
        return Err(match (field("code"), field("message")) {
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
        });
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

#[cfg(target_arch = "wasm32")]
pub async fn send(call: &Call) -> Result<Answer, ClientError> {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;

    let unreachable = |e: wasm_bindgen::JsValue| {
        // A network failure is a `TypeError`: its message says why.
        let message = js_sys::Reflect::get(&e, &"message".into())
            .ok()
            .and_then(|m| m.as_string());
        ClientError::Unreachable(e.as_string().or(message).unwrap_or_default())
    };
    let init = web_sys::RequestInit::new();
    init.set_method(call.method);
    init.set_mode(web_sys::RequestMode::Cors);
    init.set_body(&wasm_bindgen::JsValue::from_str(&call.body));
    let request = web_sys::Request::new_with_str_and_init(&call.url, &init).map_err(unreachable)?;
    for (name, value) in &call.headers {
        request.headers().set(name, value).map_err(unreachable)?;
    }
    let window = web_sys::window().ok_or_else(|| ClientError::Unreachable("no window".into()))?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(unreachable)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?
        .as_string()
        .unwrap_or_default();
    read_answer(response.status(), &text, call.stateful)
}

/// Outside a browser there is no `fetch`: native builds (the logic's tests) never send.
#[cfg(not(target_arch = "wasm32"))]
pub async fn send(_call: &Call) -> Result<Answer, ClientError> {
    Err(ClientError::Unreachable("not in a browser".to_owned()))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::json::request;
    use serde_json::{Value, json};

    fn endpoint() -> Endpoint {
        Endpoint {
            url: "https://runtime.example/".into(),
            project: "pizza".into(),
            version: Some("production".into()),
            api_key: Some("VF.DM.123".into()),
            user: None,
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
        let header = |call: &Call, name: &str| {
            call.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
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
}
