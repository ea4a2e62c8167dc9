//! The options of `window.parley.chat.load({...})`: Voiceflow's shape (`verify`, `url`,
//! `versionID`, `userID`, `user`, `launch`, `assistant` with `stylesheet` and `extensions`,
//! `render`, `autostart`, `allowDangerousHTML`) plus ours (`apiKey`, `mode`, `persistence`,
//! `locale`, `assistant.theme`, `stream`). Plain Rust over [`Json`], tested natively: a bad
//! option gives one error that names it, and nothing is mounted.

use crate::json::{Json, Read};
use crate::persistence::StorageKind;

/// Where the widget shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderMode {
    /// A launcher in the corner that opens a panel.
    Overlay,
    /// Fills the element a CSS selector names (the embed module also accepts an element).
    Embedded { target: Option<String> },
}

/// Which flavour of the Dialog API the widget speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The widget keeps the state (Parley's default).
    Stateless,
    /// The runtime keeps the state under a user id (Voiceflow's widget's way).
    Stateful,
}

/// The options, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub project_id: String,
    /// The runtime's base URL; empty for the page's own origin.
    pub url: String,
    /// `versionID`, when given.
    pub version: Option<String>,
    pub api_key: Option<String>,
    pub mode: Mode,
    /// The user id: given, or made once and kept with the conversation.
    pub user_id: Option<String>,
    /// `assistant.title`; empty when none is given.
    pub title: String,
    pub description: Option<String>,
    pub image: Option<String>,
    /// The accent colour (`--parley-color-accent`).
    pub color: Option<String>,
    pub render: RenderMode,
    /// Open the chat at once.
    pub autostart: bool,
    pub persistence: StorageKind,
    /// The request that starts a conversation (`launch.event`); `{ type: 'launch' }` if none.
    pub launch: Option<Json>,
    /// `user.name` and `user.image` (a checked URL): shown by the user's messages.
    pub user_name: Option<String>,
    pub user_image: Option<String>,
    /// `assistant.stylesheet`: a stylesheet for the widget's Shadow DOM root (a checked URL;
    /// of an array, the first, as react-chat takes it).
    pub stylesheet: Option<String>,
    /// `allowDangerousHTML: true` was asked for: refused (the widget never renders raw HTML).
    pub dangerous_html: bool,
    /// `locale`, as given (a BCP 47 tag); [`crate::i18n::Locale::pick`] falls back from it.
    pub locale: Option<String>,
    /// `assistant.theme`: `'light' | 'dark' | 'auto'` (the default).
    pub theme: crate::i18n::Theme,
    /// `stream` (ours, on unless `false`): the stateful flavour streams its turns from a
    /// runtime that offers it (Voiceflow's v4 sessions), an LLM's answer filling its bubble.
    pub stream: bool,
}

/// A bad option: which one, and what it should be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub option: &'static str,
    pub expected: &'static str,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "parley.chat.load: the option `{}` must be {}",
            self.option, self.expected
        )
    }
}

fn bad(option: &'static str, expected: &'static str) -> OptionError {
    OptionError { option, expected }
}

/// An optional string; present but not a string (or blank) is an error.
fn text(
    object: Option<&Json>,
    key: &str,
    option: &'static str,
) -> Result<Option<String>, OptionError> {
    match object.and_then(|o| o.field(key)) {
        None => Ok(None),
        Some(v) => match v.text() {
            Some(s) if !s.trim().is_empty() => Ok(Some(s)),
            _ => Err(bad(option, "a non-empty string")),
        },
    }
}

/// A nested options object (`verify`, `assistant`, `render`).
fn group(options: &Json, key: &str, option: &'static str) -> Result<Option<Json>, OptionError> {
    match options.field(key) {
        None => Ok(None),
        Some(v) if v.is_map() => Ok(Some(v)),
        Some(_) => Err(bad(option, "an object")),
    }
}

/// Reads the options object.
pub fn read_options(options: &Json) -> Result<Options, OptionError> {
    if !options.is_map() {
        return Err(bad("(the options)", "an object"));
    }
    let verify = group(options, "verify", "verify")?;
    let project_id = text(verify.as_ref(), "projectID", "verify.projectID")?
        .ok_or_else(|| bad("verify.projectID", "a non-empty string"))?;
    let url = text(Some(options), "url", "url")?.unwrap_or_default();
    if !url.is_empty() && safe_stylesheet(&url).is_none() {
        return Err(bad("url", "an http(s) URL or a path on this site"));
    }
    let mode = match text(Some(options), "mode", "mode")?.as_deref() {
        None | Some("stateless") => Mode::Stateless,
        Some("stateful") => Mode::Stateful,
        Some(_) => return Err(bad("mode", "'stateless' or 'stateful'")),
    };
    let assistant = group(options, "assistant", "assistant")?;
    let color = text(assistant.as_ref(), "color", "assistant.color")?;
    if color
        .as_deref()
        .is_some_and(|c| crate::safety::safe_color(c).is_none())
    {
        return Err(bad("assistant.color", "a CSS colour such as '#3b5bdb'"));
    }
    let theme = match text(assistant.as_ref(), "theme", "assistant.theme")?.as_deref() {
        None | Some("auto") => crate::i18n::Theme::Auto,
        Some("light") => crate::i18n::Theme::Light,
        Some("dark") => crate::i18n::Theme::Dark,
        Some(_) => return Err(bad("assistant.theme", "'light', 'dark' or 'auto'")),
    };
    let stylesheet = match assistant.as_ref().and_then(|a| a.field("stylesheet")) {
        None => None,
        Some(v) => {
            let first = v.items().map_or(Some(v), |list| list.into_iter().next());
            let url = first
                .and_then(|f| f.text())
                .and_then(|u| safe_stylesheet(&u));
            Some(url.ok_or_else(|| {
                bad(
                    "assistant.stylesheet",
                    "an http(s) URL or a path on this site (or an array of them)",
                )
            })?)
        }
    };
    let launch = match group(options, "launch", "launch")?.and_then(|l| l.field("event")) {
        Some(event) if crate::host::is_request(&event) => Some(event),
        Some(_) => {
            return Err(bad(
                "launch.event",
                "a request: an object with a string `type`",
            ));
        }
        None => None,
    };
    let user = group(options, "user", "user")?;
    let dangerous_html = match options.field("allowDangerousHTML") {
        None => false,
        Some(v) => v
            .flag()
            .ok_or_else(|| bad("allowDangerousHTML", "true or false"))?,
    };
    let render = group(options, "render", "render")?;
    let render = match text(render.as_ref(), "mode", "render.mode")?.as_deref() {
        None | Some("overlay") => RenderMode::Overlay,
        Some("embedded") => {
            // An element is checked by the embed module; here a selector or nothing.
            let target = render.as_ref().and_then(|r| r.field("target"));
            let selector = match &target {
                None => return Err(bad("render.target", "an element or a CSS selector")),
                Some(t) => t.text(),
            };
            RenderMode::Embedded { target: selector }
        }
        Some(_) => return Err(bad("render.mode", "'overlay' or 'embedded'")),
    };
    let autostart = match options.field("autostart") {
        None => false,
        Some(v) => v.flag().ok_or_else(|| bad("autostart", "true or false"))?,
    };
    let stream = match options.field("stream") {
        None => true,
        Some(v) => v.flag().ok_or_else(|| bad("stream", "true or false"))?,
    };
    let persistence = match text(Some(options), "persistence", "persistence")?.as_deref() {
        None | Some("localStorage") => StorageKind::Local,
        Some("sessionStorage") => StorageKind::Session,
        Some("memory") => StorageKind::Memory,
        Some(_) => {
            return Err(bad(
                "persistence",
                "'localStorage', 'sessionStorage' or 'memory'",
            ));
        }
    };
    Ok(Options {
        project_id,
        url,
        version: text(Some(options), "versionID", "versionID")?,
        api_key: text(Some(options), "apiKey", "apiKey")?,
        mode,
        user_id: text(Some(options), "userID", "userID")?,
        title: text(assistant.as_ref(), "title", "assistant.title")?
            // None given: the widget shows the locale's word for a chat.
            .unwrap_or_default(),
        description: text(assistant.as_ref(), "description", "assistant.description")?,
        image: text(assistant.as_ref(), "image", "assistant.image")?
            .and_then(|i| crate::safety::safe_image(&i)),
        color,
        render,
        autostart,
        persistence,
        launch,
        user_name: text(user.as_ref(), "name", "user.name")?,
        // As `assistant.image`: an unsafe URL is dropped.
        user_image: text(user.as_ref(), "image", "user.image")?
            .and_then(|i| crate::safety::safe_image(&i)),
        stylesheet,
        dangerous_html,
        locale: text(Some(options), "locale", "locale")?,
        theme,
        stream,
    })
}

/// A stylesheet's URL: `https`, `http`, or a path on the page's own site (not `//host`).
fn safe_stylesheet(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (lower.starts_with('/') && !lower.starts_with("//"));
    ok.then(|| url.trim().to_owned())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn voiceflows_snippet_reads() {
        let o = read_options(&json!({
            "verify": { "projectID": "pizza" },
            "url": "https://runtime.example",
            "versionID": "production",
            "assistant": { "title": "Pizza Palace", "color": "#d9480f", "image": "https://x.example/logo.png" }
        }))
        .unwrap();
        assert_eq!(o.project_id, "pizza");
        assert_eq!(o.url, "https://runtime.example");
        assert_eq!(o.version.as_deref(), Some("production"));
        assert_eq!(o.title, "Pizza Palace");
        assert_eq!(o.color.as_deref(), Some("#d9480f"));
        assert_eq!(o.render, RenderMode::Overlay);
        assert_eq!(o.mode, Mode::Stateless);
        assert_eq!(o.persistence, StorageKind::Local);
        let embedded = read_options(&json!({
            "verify": { "projectID": "p" }, "render": { "mode": "embedded", "target": "#chat" },
            "mode": "stateful", "userID": "u-1", "persistence": "memory", "autostart": true
        }))
        .unwrap();
        assert_eq!(
            embedded.render,
            RenderMode::Embedded {
                target: Some("#chat".into())
            }
        );
        assert_eq!(embedded.mode, Mode::Stateful);
        assert!(embedded.autostart);
        assert_eq!(
            (
                embedded.launch,
                embedded.stylesheet,
                embedded.dangerous_html
            ),
            (None, None, false)
        );
    }

    #[test]
    fn voiceflows_other_options_read() {
        let o = read_options(&json!({
            "verify": { "projectID": "p" },
            "launch": { "event": { "type": "event", "payload": { "event": { "name": "hello" } } } },
            "user": { "name": "Dana", "image": "https://x.example/dana.png" },
            "assistant": { "stylesheet": ["https://x.example/theme.css", "https://x.example/b.css"] },
            "allowDangerousHTML": true
        }))
        .unwrap();
        assert_eq!(o.launch.unwrap()["payload"]["event"]["name"], "hello");
        assert_eq!(o.user_name.as_deref(), Some("Dana"));
        assert_eq!(o.user_image.as_deref(), Some("https://x.example/dana.png"));
        assert_eq!(o.stylesheet.as_deref(), Some("https://x.example/theme.css"));
        assert!(o.dangerous_html);
        let on_site = read_options(&json!({
            "verify": { "projectID": "p" }, "assistant": { "stylesheet": "/theme.css" },
            "user": { "image": "javascript:alert(1)" }
        }))
        .unwrap();
        assert_eq!(on_site.stylesheet.as_deref(), Some("/theme.css"));
        assert_eq!(on_site.user_image, None, "an unsafe picture is dropped");
        let themed = read_options(&json!({
            "verify": { "projectID": "p" }, "locale": "ar-EG", "assistant": { "theme": "dark" }
        }))
        .unwrap();
        assert_eq!(themed.locale.as_deref(), Some("ar-EG"));
        assert_eq!(themed.theme, crate::i18n::Theme::Dark);
        assert_eq!(on_site.theme, crate::i18n::Theme::Auto);
    }

    #[test]
    fn a_bad_option_is_named() {
        let cases = [
            (json!("pizza"), "(the options)"),
            (json!({}), "verify.projectID"),
            (json!({ "verify": "pizza" }), "verify"),
            (json!({ "verify": { "projectID": 5 } }), "verify.projectID"),
            (
                json!({ "verify": { "projectID": "p" }, "url": "javascript:alert(1)" }),
                "url",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "url": "//evil.example" }),
                "url",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "mode": "psychic" }),
                "mode",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "assistant": { "color": "red;}body{display:none" } }),
                "assistant.color",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "assistant": { "title": "" } }),
                "assistant.title",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "render": { "mode": "popup" } }),
                "render.mode",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "render": { "mode": "embedded" } }),
                "render.target",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "autostart": "yes" }),
                "autostart",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "persistence": "cookie" }),
                "persistence",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "assistant": { "stylesheet": "javascript:alert(1)" } }),
                "assistant.stylesheet",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "assistant": { "stylesheet": "//evil.example/x.css" } }),
                "assistant.stylesheet",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "assistant": { "stylesheet": [] } }),
                "assistant.stylesheet",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "launch": { "event": { "payload": 1 } } }),
                "launch.event",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "launch": "go" }),
                "launch",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "user": "Dana" }),
                "user",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "assistant": { "theme": "sepia" } }),
                "assistant.theme",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "locale": 7 }),
                "locale",
            ),
            (
                json!({ "verify": { "projectID": "p" }, "allowDangerousHTML": "yes" }),
                "allowDangerousHTML",
            ),
        ];
        for (options, option) in cases {
            let error = read_options(&options).unwrap_err();
            assert_eq!(error.option, option, "{options}");
            assert!(error.to_string().contains(option));
        }
    }
}
