//! `parley chat`'s output: the agent's markdown for a terminal. Bold, italic, struck-through and
//! code text, links and lists in ANSI styles when stdout is a terminal, as plain text when it is
//! not (a pipe, a file, `NO_COLOR`); images and cards as labelled links, buttons as numbered
//! options.
//!
//! Key decision: the bot's text is the project author's, and a terminal obeys escape sequences.
//! Control characters from the text are dropped, so that only the styles written here reach the
//! terminal.

use parley_protocol::{Button, Card, Request, Trace, TraceKind};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// What the chat prints for one trace (lines ending in a newline; nothing for traces a person
/// does not see). `markdown` is a text trace's source, when the trace carries it elsewhere
/// (Voiceflow's shape makes `message` plain). Buttons are numbered on from `buttons`, which
/// receives their requests: the user types a number back.
pub(crate) fn trace(
    trace: &Trace,
    markdown: Option<&str>,
    style: Style,
    buttons: &mut Vec<Request>,
) -> String {
    let bot = |text: &str| format!("bot> {}\n", text.replace('\n', "\n     "));
    let mut offer = |out: &mut String, list: &[Button]| {
        for b in list {
            buttons.push(b.request.clone());
            out.push_str(&style.option(buttons.len(), &b.name));
            out.push('\n');
        }
    };
    let mut out = String::new();
    match &trace.kind {
        TraceKind::Text(p) => {
            let text = markdown.or(p.message.as_deref()).unwrap_or_default();
            out.push_str(&bot(&style.markdown(text)));
        }
        TraceKind::Speak(p) => {
            let text = clean(p.message.as_deref().unwrap_or_default());
            out.push_str(&bot(&format!("{} {text}", style.tag("spoken"))));
        }
        TraceKind::Visual(p) => {
            let url = p.image.as_deref().unwrap_or_default();
            out.push_str(&bot(&format!(
                "{} {}",
                style.tag("image"),
                style.link("", url)
            )));
        }
        TraceKind::CardV2(c) => {
            out.push_str(&bot(&style.card(c)));
            offer(&mut out, c.buttons.as_deref().unwrap_or_default());
        }
        TraceKind::Carousel(p) => {
            for c in &p.cards {
                out.push_str(&bot(&style.card(c)));
                offer(&mut out, c.buttons.as_deref().unwrap_or_default());
            }
        }
        TraceKind::Choice(p) => offer(&mut out, &p.buttons),
        TraceKind::End(_) => {
            out.push_str("(the conversation has ended: /restart starts a new one)\n");
        }
        TraceKind::Custom { kind, payload } => {
            let paths: Vec<String> = trace
                .action_paths()
                .into_iter()
                .map(|p| p.request_type)
                .collect();
            out.push_str(&clean(&format!(
                "(custom action `{kind}` {}: answer with /path {})\n",
                payload.clone().unwrap_or_default(),
                paths.join(" | /path ")
            )));
        }
        TraceKind::NoReply(_) | TraceKind::Diagnostic { .. } | TraceKind::Invalid { .. } => {}
    }
    out
}

/// How the chat writes: with ANSI styles, or plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Style {
    pub(crate) ansi: bool,
}

const BOLD: (&str, &str) = ("\x1b[1m", "\x1b[22m");
const ITALIC: (&str, &str) = ("\x1b[3m", "\x1b[23m");
const STRUCK: (&str, &str) = ("\x1b[9m", "\x1b[29m");
const UNDERLINE: (&str, &str) = ("\x1b[4m", "\x1b[24m");
const DIM: (&str, &str) = ("\x1b[2m", "\x1b[22m");

impl Style {
    /// ANSI when stdout is a terminal and `NO_COLOR` (no-color.org) is not set.
    pub(crate) fn for_stdout() -> Style {
        use std::io::IsTerminal;
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            ansi: std::io::stdout().is_terminal() && !no_color,
        }
    }

    fn wrap(self, (on, off): (&str, &str), text: &str) -> String {
        if self.ansi {
            format!("{on}{text}{off}")
        } else {
            text.to_owned()
        }
    }

    /// A link, labelled: `label (url)`, or the URL alone when the label says nothing more.
    pub(crate) fn link(self, label: &str, url: &str) -> String {
        let url = clean(url);
        let label = clean(label);
        if label.is_empty() || label == url {
            self.wrap(UNDERLINE, &url)
        } else {
            format!("{label} ({})", self.wrap(UNDERLINE, &url))
        }
    }

    /// A card: `[card] Title: description`, its picture as a labelled link below.
    fn card(self, card: &Card) -> String {
        let mut text = self.tag("card");
        if let Some(title) = card.title.as_deref().filter(|t| !t.is_empty()) {
            text.push(' ');
            text.push_str(&self.wrap(BOLD, &clean(title)));
        }
        let description = card.description.as_ref().and_then(|d| d.text.as_deref());
        if let Some(description) = description.filter(|d| !d.is_empty()) {
            text.push_str(": ");
            text.push_str(&self.markdown(description));
        }
        if let Some(url) = card.image_url.as_deref().filter(|u| !u.is_empty()) {
            text.push_str(&format!("\n{} {}", self.tag("image"), self.link("", url)));
        }
        text
    }

    /// A tag such as `[image]` or `[card]`.
    pub(crate) fn tag(self, name: &str) -> String {
        self.wrap(DIM, &format!("[{name}]"))
    }

    /// A numbered option, as the user types it back.
    pub(crate) fn option(self, number: usize, label: &str) -> String {
        format!(
            "   {}) {}",
            self.wrap(BOLD, &number.to_string()),
            clean(label)
        )
    }

    /// Markdown as lines for the terminal (no trailing newline).
    pub(crate) fn markdown(self, text: &str) -> String {
        let mut out = Render {
            style: self,
            text: String::new(),
            lists: Vec::new(),
            link: None,
            image: None,
        };
        let options = Options::ENABLE_STRIKETHROUGH;
        for event in Parser::new_ext(text, options) {
            out.event(event);
        }
        out.text.trim_end().to_owned()
    }
}

/// Drops control characters (ESC among them) but newlines and tabs.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}

struct Render {
    style: Style,
    text: String,
    /// The open lists, innermost last: the next number of an ordered one.
    lists: Vec<Option<u64>>,
    /// The URL of the link being written.
    link: Option<String>,
    /// The URL of the image whose description (alt text) is being written, and that text.
    image: Option<(String, String)>,
}

impl Render {
    fn on(&mut self, (on, _): (&str, &str)) {
        if self.style.ansi {
            self.text.push_str(on);
        }
    }

    fn off(&mut self, (_, off): (&str, &str)) {
        if self.style.ansi {
            self.text.push_str(off);
        }
    }

    fn line_break(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    fn push(&mut self, text: &str) {
        let text = clean(text);
        match &mut self.image {
            Some((_, alt)) => alt.push_str(&text),
            None => self.text.push_str(&text),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.push(&text),
            Event::Code(code) => {
                self.on(DIM);
                self.push(&code);
                self.off(DIM);
            }
            // Raw HTML is shown as written: the terminal renders none of it.
            Event::Html(html) | Event::InlineHtml(html) => self.push(&html),
            Event::SoftBreak => self.push(" "),
            Event::HardBreak => self.push("\n"),
            Event::Rule => {
                self.line_break();
                self.push("----");
                self.text.push('\n');
            }
            Event::TaskListMarker(done) => self.push(if done { "[x] " } else { "[ ] " }),
            Event::FootnoteReference(name) => self.push(&format!("[{name}]")),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.push(&math),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => {}
            Tag::Heading { .. } => {
                self.line_break();
                self.on(BOLD);
            }
            Tag::BlockQuote(_) => {
                self.line_break();
                self.push("> ");
            }
            Tag::CodeBlock(_) => {
                self.line_break();
                self.on(DIM);
            }
            Tag::List(first) => {
                self.line_break();
                self.lists.push(first);
            }
            Tag::Item => {
                self.line_break();
                let depth = self.lists.len().saturating_sub(1);
                self.text.push_str(&"  ".repeat(depth));
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ if self.style.ansi => "• ".to_owned(),
                    _ => "- ".to_owned(),
                };
                self.text.push_str(&marker);
            }
            Tag::Emphasis => self.on(ITALIC),
            Tag::Strong => self.on(BOLD),
            Tag::Strikethrough => self.on(STRUCK),
            Tag::Link { dest_url, .. } => {
                self.link = Some(dest_url.into_string());
                self.on(UNDERLINE);
            }
            Tag::Image { dest_url, .. } => {
                self.image = Some((dest_url.into_string(), String::new()));
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph | TagEnd::BlockQuote(_) => self.text.push('\n'),
            TagEnd::Heading(_) => {
                self.off(BOLD);
                self.text.push('\n');
            }
            TagEnd::CodeBlock => {
                self.off(DIM);
                self.line_break();
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.line_break();
            }
            TagEnd::Item => self.line_break(),
            TagEnd::Emphasis => self.off(ITALIC),
            TagEnd::Strong => self.off(BOLD),
            TagEnd::Strikethrough => self.off(STRUCK),
            TagEnd::Link => {
                self.off(UNDERLINE);
                if let Some(url) = self.link.take() {
                    // An autolink's text is its URL: once is enough.
                    if !self.text.ends_with(url.as_str()) {
                        let url = self.style.wrap(DIM, &format!("({})", clean(&url)));
                        self.text.push(' ');
                        self.text.push_str(&url);
                    }
                }
            }
            TagEnd::Image => {
                if let Some((url, alt)) = self.image.take() {
                    let tag = self.style.tag("image");
                    let link = self.style.link(&alt, &url);
                    self.text.push_str(&format!("{tag} {link}"));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use parley_protocol::{Request, Trace};
    use serde_json::json;

    use super::Style;

    fn say(style: Style, trace: serde_json::Value) -> (String, Vec<Request>) {
        let trace: Trace = serde_json::from_value(trace).unwrap();
        let mut buttons = vec![Request::launch()];
        let out = super::trace(&trace, None, style, &mut buttons);
        (out, buttons)
    }

    #[test]
    fn traces_as_lines_images_and_cards_as_labelled_links_buttons_numbered() {
        let (out, _) = say(
            PLAIN,
            json!({ "type": "text", "payload": { "message": "**Hi!**\n\n- one\n- two" } }),
        );
        assert_eq!(out, "bot> Hi!\n     - one\n     - two\n");
        let (out, _) = say(
            PLAIN,
            json!({ "type": "visual", "payload": { "visualType": "image", "image": "https://p.example/logo.svg" } }),
        );
        assert_eq!(out, "bot> [image] https://p.example/logo.svg\n");
        let card = json!({
            "type": "cardV2",
            "payload": {
                "title": "Your order",
                "description": { "text": "A **large** Pepperoni" },
                "imageUrl": "https://p.example/pepperoni.svg",
                "buttons": [
                    { "name": "Confirm", "request": { "type": "path-confirm" } },
                    { "name": "Start over", "request": { "type": "path-over" } }
                ]
            }
        });
        let (out, buttons) = say(PLAIN, card.clone());
        assert_eq!(
            out,
            "bot> [card] Your order: A large Pepperoni\n     [image] https://p.example/pepperoni.svg\n   2) Confirm\n   3) Start over\n"
        );
        assert_eq!(buttons.len(), 3);
        assert_eq!(buttons[2].type_name(), "path-over");
        let (out, _) = say(ANSI, card);
        assert!(
            out.starts_with(
                "bot> \x1b[2m[card]\x1b[22m \x1b[1mYour order\x1b[22m: A \x1b[1mlarge\x1b[22m"
            ),
            "{out:?}"
        );
        let (out, _) = say(
            PLAIN,
            json!({ "type": "choice", "payload": { "buttons": [{ "name": "Order a pizza", "request": { "type": "text", "payload": "order" } }] } }),
        );
        assert_eq!(out, "   2) Order a pizza\n");
    }

    const PLAIN: Style = Style { ansi: false };
    const ANSI: Style = Style { ansi: true };

    #[test]
    fn plain_text_drops_the_markup() {
        assert_eq!(
            PLAIN.markdown("Hello, and welcome to **Pizza Palace** 🍕"),
            "Hello, and welcome to Pizza Palace 🍕"
        );
        assert_eq!(
            PLAIN.markdown("Try *menu*, _order_ or ~~nothing~~ and `help`."),
            "Try menu, order or nothing and help."
        );
        assert_eq!(
            PLAIN.markdown("See [our site](https://pizza.example/) or <https://pizza.example/>."),
            "See our site (https://pizza.example/) or https://pizza.example/."
        );
        assert_eq!(
            PLAIN.markdown("Sizes:\n\n- small\n- **large**\n\nSteps:\n\n1. pick\n2. pay"),
            "Sizes:\n- small\n- large\nSteps:\n1. pick\n2. pay"
        );
        assert_eq!(
            PLAIN.markdown("![the logo](https://pizza.example/logo.svg)"),
            "[image] the logo (https://pizza.example/logo.svg)"
        );
    }

    #[test]
    fn a_terminal_gets_ansi_styles() {
        assert_eq!(
            ANSI.markdown("welcome to **Pizza Palace**, *Dana*"),
            "welcome to \x1b[1mPizza Palace\x1b[22m, \x1b[3mDana\x1b[23m"
        );
        assert_eq!(
            ANSI.markdown("[menu](https://pizza.example/menu)"),
            "\x1b[4mmenu\x1b[24m \x1b[2m(https://pizza.example/menu)\x1b[22m"
        );
        assert_eq!(ANSI.markdown("- one\n- two"), "• one\n• two");
        assert_eq!(ANSI.markdown("3. three\n4. four"), "3. three\n4. four");
        assert_eq!(
            ANSI.option(2, "See the menu"),
            "   \x1b[1m2\x1b[22m) See the menu"
        );
    }

    #[test]
    fn nested_lists_are_indented() {
        assert_eq!(
            PLAIN.markdown("- pizzas\n  - margherita\n  - veggie\n- drinks"),
            "- pizzas\n  - margherita\n  - veggie\n- drinks"
        );
    }

    #[test]
    fn the_text_cannot_send_its_own_escape_sequences() {
        let hostile = "red \x1b[31malert\x1b[0m \x1b]8;;https://evil.example\x07x";
        for style in [PLAIN, ANSI] {
            let out = style.markdown(hostile);
            assert!(
                !out.contains("\x1b[31m") && !out.contains("\x1b]8"),
                "{out:?}"
            );
            assert!(!out.contains('\x07'), "{out:?}");
        }
        assert!(
            !ANSI
                .link("\x1b[31mx", "https://a.example/\x1b[0m")
                .contains("\x1b[3")
        );
    }
}
