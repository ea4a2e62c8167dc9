//! The transcript's DOM: each line built with `createElement` and text nodes (never HTML),
//! appended as the conversation grows. A `role="log"` region grows at its end, so an
//! append-only renderer fits it: adding a line costs the same with 10 lines or 1,000, and it
//! weighs far less in the bundle than a keyed list of Leptos views per bubble kind (the widget
//! has a 120 KB budget). A line is built again in place when it changes: a user's delivery, the
//! line an LLM's streamed answer is filling. Anything else (a new conversation, a retry whose
//! answer replaces a cut-off one) draws the log afresh.
//!
//! Buttons carry a `data-button` index into [`Lines::buttons`], retry buttons a `data-retry`,
//! a carousel's arrows a `data-scroll` step; the panel's one click listener reads them in the
//! log (event delegation, `conversation_panel.rs`), so no closure is made per button. URLs reaching `href`/`src` went through `safety` when the turn was read.
//!
//! The view follows the conversation ([`Follow`]): while the visitor is at the bottom it stays
//! there whatever grows (a line, an image or a font loading, a card), seen by a
//! `ResizeObserver` rather than by reading the layout after each line; scrolled up, it stays
//! put and a "new messages" button appears. A picture that fails to load is taken out (its
//! line too, when nothing else is left). Each line carries its time, read out with it and shown
//! on hover; a bot line that arrives while the chat is closed counts on the launcher.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Document, Element};

use crate::conversation::{Delivery, Entry};
use crate::i18n::{Key, t};
use crate::rich_text::{Block, Inline};
use crate::turn_view::{Bubble, ButtonView, CardView};

/// What is on screen: one element per line (with how it looks, and the time it first showed),
/// and every button offered so far.
#[derive(Debug, Default)]
pub struct Lines {
    shown: Vec<(u64, Look, Element, f64)>,
    pub buttons: Vec<ButtonView>,
    follow: Option<Rc<Follow>>,
}

/// What a line's element shows besides its words: a user line's delivery; for the bot line an
/// LLM's answer is filling, how many pieces it has (0 once complete).
type Look = (Option<Delivery>, u32);

/// Keeps the view at the latest line while the visitor is at the bottom (`pinned`); else shows
/// the "new messages" button when a line arrives.
#[derive(Debug)]
struct Follow {
    scroll: Element,
    button: Element,
    pinned: Cell<bool>,
    /// `scrollTop` at the last scroll event.
    top: Cell<i32>,
}

impl Follow {
    /// Watches `log` (inside its scrolling parent): its resizes, the scrolling, broken pictures.
    fn install(log: &Element) -> Option<Rc<Follow>> {
        let scroll = log.parent_element()?;
        let doc = log.owner_document()?;
        let button = child(
            &doc,
            &scroll,
            "button",
            "parley-button parley-transcript__new",
        );
        let _ = button.set_attribute("type", "button");
        let _ = button.set_attribute("hidden", "");
        text(&doc, &button, t(Key::NewMessages));
        let follow = Rc::new(Follow {
            scroll,
            button,
            pinned: Cell::new(true),
            top: Cell::new(0),
        });
        let on_resize = {
            let f = follow.clone();
            Closure::<dyn Fn()>::new(move || {
                if f.pinned.get() {
                    f.bottom();
                }
            })
        };
        // The log grows; the view shrinks when the quick replies or the composer grow.
        if let Ok(observer) = web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
            observer.observe(log);
            observer.observe(&follow.scroll);
        }
        let on_scroll = {
            let f = follow.clone();
            Closure::<dyn Fn()>::new(move || {
                let s = &f.scroll;
                // A few pixels of slack: zoom and fractional sizes rarely land on 0.
                let top = s.scroll_top();
                let at_bottom = s.scroll_height() - top - s.client_height() < 16;
                // Only a move up unpins: the scroll event of our own move to the bottom may come
                // after the content grew again, and reads as "not at the bottom".
                if at_bottom {
                    f.pinned.set(true);
                    let _ = f.button.set_attribute("hidden", "");
                } else if top < f.top.get() {
                    f.pinned.set(false);
                }
                f.top.set(top);
            })
        };
        let on_click = {
            let f = follow.clone();
            Closure::<dyn Fn()>::new(move || f.bottom())
        };
        let _ = follow
            .scroll
            .add_event_listener_with_callback("scroll", on_scroll.as_ref().unchecked_ref());
        let _ = follow
            .button
            .add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
        // `error` does not bubble: caught on its way down, for every picture of the widget.
        let on_error = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
            if let Some(img) = ev.target().and_then(|t| t.dyn_into::<Element>().ok()) {
                broken(&img);
            }
        });
        // On the widget's root: the header's picture and the user's too.
        let root = log.closest(".parley").ok().flatten();
        let _ = root
            .as_ref()
            .unwrap_or(log)
            .add_event_listener_with_callback_and_bool(
                "error",
                on_error.as_ref().unchecked_ref(),
                true,
            );
        // The listeners live as long as the page holds the elements.
        for closure in [on_resize, on_scroll, on_click] {
            closure.forget();
        }
        on_error.forget();
        Some(follow)
    }

    /// To the latest line.
    fn bottom(&self) {
        self.pinned.set(true);
        let _ = self.button.set_attribute("hidden", "");
        self.scroll.set_scroll_top(i32::MAX);
    }

    /// A line arrived: followed when pinned (by the resize it makes), else announced.
    fn arrived(&self) {
        if !self.pinned.get() {
            let _ = self.button.remove_attribute("hidden");
        }
    }
}

/// A picture (or a clip) that did not load: hidden in its bubble, card or carousel, and an
/// image bubble hidden with it (the browser's broken-image icon in an empty box said nothing to
/// the visitor). Only media fire `error` in the widget, so the element is not checked.
fn broken(img: &Element) {
    // Hidden, not removed: what it pointed at stays inspectable.
    let _ = img.set_attribute("hidden", "");
    if let Ok(Some(bubble)) = img.closest(".parley-bubble--image") {
        let _ = bubble.set_attribute("hidden", "");
    }
}

/// A line an LLM's answer is filling: out of the live region until it is whole (a screen
/// reader then reads it once), and out of the keyboard's way (`inert`: a link in half an
/// answer is not focusable under `aria-hidden`).
fn filling(el: &Element) {
    let _ = el.set_attribute("aria-hidden", "true");
    let _ = el.set_attribute("inert", "");
}

/// `<time>` with the line's time: the time of day in the widget's locale, the instant in
/// `datetime`.
fn time(doc: &Document, parent: &Element, at: f64) {
    let date = js_sys::Date::new(&at.into());
    let el = child(doc, parent, "time", "parley-time");
    let _ = el.set_attribute("datetime", &String::from(date.to_iso_string()));
    text(
        doc,
        &el,
        &crate::i18n::locale().clock(date.get_hours(), date.get_minutes()),
    );
}

pub(crate) fn element(doc: &Document, tag: &str, class: &str) -> Element {
    // Creating an element with a fixed, valid tag name does not fail.
    let el = doc.create_element(tag).expect("a valid tag name");
    if !class.is_empty() {
        el.set_class_name(class);
    }
    el
}

pub(crate) fn child(doc: &Document, parent: &Element, tag: &str, class: &str) -> Element {
    let el = element(doc, tag, class);
    let _ = parent.append_child(&el);
    el
}

/// A child holding words: its direction is its own (`dir="auto"`: an Arabic answer in an English
/// page, and back), while the bubble around it keeps the page's side.
fn words(doc: &Document, parent: &Element, tag: &str, class: &str) -> Element {
    let el = child(doc, parent, tag, class);
    let _ = el.set_attribute("dir", "auto");
    el
}

pub(crate) fn text(doc: &Document, parent: &Element, text: &str) {
    let _ = parent.append_child(&doc.create_text_node(text));
}

fn inlines(doc: &Document, parent: &Element, list: &[Inline]) {
    for inline in list {
        match inline {
            Inline::Text { text: t, marks } => {
                let mut at = parent.clone();
                for (on, tag) in [
                    (marks.bold, "strong"),
                    (marks.italic, "em"),
                    (marks.underline, "u"),
                    (marks.strike, "s"),
                    (marks.code, "code"),
                ] {
                    if on {
                        at = child(doc, &at, tag, "");
                    }
                }
                text(doc, &at, t);
            }
            Inline::Link {
                href: Some(href),
                children,
            } => {
                let a = child(doc, parent, "a", "parley-rich__link");
                let _ = a.set_attribute("href", href);
                let _ = a.set_attribute("target", "_blank");
                let _ = a.set_attribute("rel", "noopener noreferrer nofollow");
                inlines(doc, &a, children);
            }
            Inline::Link {
                href: None,
                children,
            } => inlines(doc, parent, children),
            Inline::Break => {
                child(doc, parent, "br", "");
            }
            Inline::Color { color, children } => {
                let span = child(doc, parent, "span", "");
                // Through the CSSOM: a strict CSP refuses a `style` attribute, not this.
                let _ = span
                    .unchecked_ref::<web_sys::HtmlElement>()
                    .style()
                    .set_property("color", color);
                inlines(doc, &span, children);
            }
        }
    }
}

fn blocks(doc: &Document, parent: &Element, list: &[Block]) {
    for block in list {
        match block {
            Block::Paragraph(content) => {
                inlines(doc, &words(doc, parent, "p", "parley-rich__p"), content)
            }
            Block::Aligned(align, content) => {
                inlines(doc, &words(doc, parent, "p", align.class()), content)
            }
            Block::List { ordered, items } => {
                let tag = if *ordered { "ol" } else { "ul" };
                let list = words(doc, parent, tag, "parley-rich__list");
                for item in items {
                    inlines(doc, &child(doc, &list, "li", ""), item);
                }
            }
            Block::Code(code) => {
                let pre = words(doc, parent, "pre", "parley-rich__code");
                text(doc, &child(doc, &pre, "code", ""), code);
            }
        }
    }
}

impl Lines {
    fn button(&mut self, doc: &Document, parent: &Element, button: &ButtonView) {
        let el = child(doc, parent, "button", "parley-button");
        let _ = el.set_attribute("type", "button");
        let _ = el.set_attribute("data-button", &self.buttons.len().to_string());
        text(doc, &el, &button.label);
        self.buttons.push(button.clone());
    }

    fn card(&mut self, doc: &Document, parent: &Element, card: &CardView) {
        let article = child(doc, parent, "article", "parley-card");
        let _ = article.set_attribute("aria-label", &card.title);
        if let Some(src) = &card.image {
            let img = child(doc, &article, "img", "parley-card__image");
            let _ = img.set_attribute("src", src);
            let _ = img.set_attribute("alt", "");
            let _ = img.set_attribute("loading", "lazy");
        }
        text(
            doc,
            &words(doc, &article, "h3", "parley-card__title"),
            &card.title,
        );
        blocks(
            doc,
            &child(doc, &article, "div", "parley-card__description"),
            &card.description,
        );
        let row = child(doc, &article, "div", "parley-card__buttons");
        for b in &card.buttons {
            self.button(doc, &row, b);
        }
    }

    fn bubble(&mut self, doc: &Document, bubble: &Bubble) -> Element {
        match bubble {
            Bubble::Text(content) => {
                let el = element(doc, "div", "parley-bubble parley-bubble--bot");
                blocks(doc, &el, content);
                el
            }
            Bubble::Speech { text: said, audio } => {
                let el = element(doc, "div", "parley-bubble parley-bubble--bot");
                if !said.is_empty() {
                    text(doc, &words(doc, &el, "p", "parley-rich__p"), said);
                }
                if let Some(src) = audio {
                    let player = child(doc, &el, "audio", "parley-bubble__audio");
                    let _ = player.set_attribute("controls", "");
                    let _ = player.set_attribute("preload", "none");
                    let _ = player.set_attribute("src", src);
                }
                el
            }
            Bubble::Image { src, width, height } => {
                let el = element(doc, "div", "parley-bubble parley-bubble--image");
                let img = child(doc, &el, "img", "parley-bubble__image");
                let _ = img.set_attribute("src", src);
                let _ = img.set_attribute("alt", "");
                let _ = img.set_attribute("loading", "lazy");
                // The intrinsic size reserves the space before the image loads.
                if let (Some(w), Some(h)) = (width, height) {
                    let _ = img.set_attribute("width", &w.to_string());
                    let _ = img.set_attribute("height", &h.to_string());
                }
                el
            }
            Bubble::Card(card) => {
                let el = element(doc, "div", "parley-bubble parley-bubble--card");
                self.card(doc, &el, card);
                el
            }
            Bubble::Carousel(cards) => {
                let wrap = element(doc, "div", "parley-carousel-wrap");
                let el = child(doc, &wrap, "div", "parley-carousel");
                let _ = el.set_attribute("role", "group");
                let _ = el.set_attribute("aria-roledescription", t(Key::Carousel));
                let _ = el.set_attribute(
                    "aria-label",
                    &cards
                        .iter()
                        .map(|c| c.title.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                // Focusable, so the arrow keys scroll it.
                let _ = el.set_attribute("tabindex", "0");
                for card in cards {
                    self.card(doc, &child(doc, &el, "div", "parley-carousel__item"), card);
                }
                if cards.len() > 1 {
                    let nav = child(doc, &wrap, "div", "parley-carousel__nav");
                    for (step, label, sign) in
                        [("-1", Key::PreviousCard, "‹"), ("1", Key::NextCard, "›")]
                    {
                        let b = child(doc, &nav, "button", "parley-carousel__step");
                        let _ = b.set_attribute("type", "button");
                        let _ = b.set_attribute("aria-label", t(label));
                        let _ = b.set_attribute("data-scroll", step);
                        text(doc, &b, sign);
                    }
                }
                wrap
            }
            Bubble::Extension(_) => {
                // The extension draws into the span once the line is in the log.
                let el = element(
                    doc,
                    "div",
                    "parley-bubble parley-bubble--bot parley-bubble--extension",
                );
                child(doc, &el, "span", "");
                el
            }
        }
    }

    fn user(doc: &Document, said: &str, delivery: Delivery) -> Element {
        let failed = delivery == Delivery::Failed;
        let el = element(
            doc,
            "div",
            if failed {
                "parley-bubble parley-bubble--user parley-bubble--failed"
            } else {
                "parley-bubble parley-bubble--user"
            },
        );
        // The user's picture (Voiceflow's `user.image`), named by `user.name`.
        let host = crate::host::get();
        if let Some(src) = &host.user_image {
            let img = child(doc, &el, "img", "parley-bubble__avatar");
            let _ = img.set_attribute("src", src);
            let _ = img.set_attribute("alt", host.user_name.as_deref().unwrap_or(""));
        }
        text(doc, &words(doc, &el, "p", "parley-rich__p"), said);
        if failed {
            let note = child(doc, &el, "p", "parley-bubble__note");
            text(doc, &note, t(Key::SendFailed));
            text(doc, &note, " ");
            let retry = child(doc, &note, "button", "parley-bubble__retry");
            let _ = retry.set_attribute("type", "button");
            let _ = retry.set_attribute("data-retry", "");
            text(doc, &retry, t(Key::TryAgain));
        }
        el
    }

    /// Adds the typing indicator at the end of `scroll`, or removes it; brought into view while
    /// the view follows the conversation ([`Follow`]'s state, not measured: no layout is
    /// forced), but not in an empty log (a first launch), which has nowhere to scroll.
    pub fn typing(&self, scroll: &Element, on: bool) {
        let Some(doc) = scroll.owner_document() else {
            return;
        };
        match (child_of(scroll, "parley-typing"), on) {
            (Some(el), false) => el.remove(),
            (None, true) => {
                let el = child(&doc, scroll, "div", "parley-typing");
                let _ = el.set_attribute("role", "status");
                let _ = el.set_attribute("aria-label", t(Key::Typing));
                for _ in 0..3 {
                    child(&doc, &el, "span", "");
                }
                if let Some(f) = &self.follow
                    && f.pinned.get()
                    && !self.shown.is_empty()
                {
                    f.bottom();
                }
            }
            _ => {}
        }
    }

    /// Brings the log up to date with `entries`: new lines are appended, a user line whose
    /// delivery changed is replaced, and anything else (a new conversation) starts afresh.
    /// `live` is the line an LLM's answer is filling and its pieces so far: redrawn as they
    /// come, and hidden from the live region until complete, so that a screen reader reads
    /// the answer once, whole, not at every piece.
    pub fn update(&mut self, log: &Element, entries: &[Entry], live: Option<(u64, u32)>) {
        let Some(doc) = log.owner_document() else {
            return;
        };
        if self.follow.is_none() {
            self.follow = Follow::install(log);
        }
        let mut unread = 0;
        let mut said = false;
        let same_start = self.shown.len() <= entries.len()
            && self
                .shown
                .iter()
                .zip(entries)
                .all(|((id, ..), e)| *id == e.id());
        if !same_start {
            log.set_text_content(None);
            self.shown.clear();
            self.buttons.clear();
        }
        for (i, entry) in entries.iter().enumerate() {
            let look = match entry {
                Entry::User { delivery, .. } => (Some(*delivery), 0),
                Entry::Bot { id, .. } => (None, live.filter(|l| l.0 == *id).map_or(0, |l| l.1)),
            };
            if let Some((_, was, el, at)) = self.shown.get(i) {
                if *was == look {
                    continue;
                }
                let (el, at) = (el.clone(), *at);
                let fresh = match entry {
                    Entry::User {
                        text: said,
                        delivery,
                        ..
                    } => Self::user(&doc, said, *delivery),
                    Entry::Bot { bubble, .. } => self.bubble(&doc, bubble),
                };
                if look.1 > 0 {
                    filling(&fresh);
                }
                time(&doc, &fresh, at);
                let _ = el.replace_with_with_node_1(&fresh);
                self.shown[i] = (entry.id(), look, fresh, at);
                continue;
            }
            let el = match entry {
                Entry::Bot { bubble, .. } => {
                    unread += 1;
                    self.bubble(&doc, bubble)
                }
                Entry::User {
                    text: words,
                    delivery,
                    ..
                } => {
                    said = true;
                    Self::user(&doc, words, *delivery)
                }
            };
            // The time the line came, which the driver stamps before it draws
            // (`Conversation::stamp`) and saves with it.
            let at = crate::conversation::valid_time(entry.at()).unwrap_or_else(js_sys::Date::now);
            if look.1 > 0 {
                filling(&el);
            }
            time(&doc, &el, at);
            let _ = log.append_child(&el);
            if let Some(f) = &self.follow {
                // The visitor's own message brings the view to the latest line.
                if said {
                    f.bottom();
                }
                f.arrived();
            }
            #[cfg(target_arch = "wasm32")]
            if let Entry::Bot {
                bubble: Bubble::Extension(index),
                trace,
                ..
            } = entry
            {
                crate::host::run(*index, trace, el.first_element_child().as_ref());
            }
            self.shown.push((entry.id(), look, el, at));
        }
        // Counted on the launcher while the chat is closed.
        if unread > 0
            && log
                .closest(".parley-panel[hidden]")
                .ok()
                .flatten()
                .is_some()
        {
            let root = log.closest(".parley").ok().flatten();
            if let Some(root) = root {
                badge(&root, unread);
            }
        }
    }
}

thread_local! {
    /// The unread count on the launcher (one widget per page).
    static UNREAD: Cell<u32> = const { Cell::new(0) };
}

/// Adds `more` to the unread count on the launcher in `root`; 0 clears it (the chat opened).
pub fn badge(root: &Element, more: u32) {
    let count = if more == 0 {
        0
    } else {
        UNREAD.with(Cell::get) + more
    };
    UNREAD.with(|u| u.set(count));
    let (Some(doc), Some(launcher)) = (root.owner_document(), child_of(root, "parley-launcher"))
    else {
        return;
    };
    if let Some(old) = child_of(&launcher, "parley-launcher__badge") {
        old.remove();
    }
    if count == 0 {
        return;
    }
    let el = child(&doc, &launcher, "span", "parley-launcher__badge");
    // The launcher's name says it (below); the number alone would be read twice.
    let _ = el.set_attribute("aria-hidden", "true");
    text(&doc, &el, &count.to_string());
    let mut label = String::from(t(Key::OpenChat));
    label.push_str(", ");
    label.push_str(&crate::i18n::with_count(Key::Unread, count as usize));
    let _ = launcher.set_attribute("aria-label", &label);
}

/// The transcript in `root` as plain text, a line per message: its time, who said it, what it
/// says (card titles, descriptions and buttons included).
pub fn as_text(root: &Element, assistant: &str) -> String {
    let mut out = String::new();
    let log = root.query_selector("[role=log]").ok().flatten();
    let mut line = log.and_then(|l| l.first_element_child());
    while let Some(el) = line {
        let who = if el.class_name().contains("parley-bubble--user") {
            t(Key::You)
        } else {
            assistant
        };
        let mut said = Vec::new();
        let mut at = String::new();
        let mut part = el.first_element_child();
        while let Some(p) = part {
            if p.class_name() == "parley-time" {
                at = p.text_content().unwrap_or_default();
            } else {
                let words = p.unchecked_ref::<web_sys::HtmlElement>().inner_text();
                if !words.trim().is_empty() {
                    said.push(words.trim().replace('\n', " / "));
                }
            }
            part = p.next_element_sibling();
        }
        if !said.is_empty() {
            // By hand: `format!` here weighed more.
            for piece in ["[", &at, "] ", who, ": ", &said.join(" / "), "\n"] {
                out.push_str(piece);
            }
        }
        line = el.next_element_sibling();
    }
    out
}

/// Saves `text` as a file named `name` (a `data:` link clicked: no object URL to revoke).
pub fn download(root: &Element, name: &str, text: &str) {
    let Some(doc) = root.owner_document() else {
        return;
    };
    let a = element(&doc, "a", "");
    let href = format!(
        "data:text/plain;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(text))
    );
    let _ = a.set_attribute("href", &href);
    let _ = a.set_attribute("download", name);
    // Out of the document: its click must not reach the widget's own click listener.
    a.unchecked_ref::<web_sys::HtmlElement>().click();
}

/// The child of `parent` with class `class`, if there is one.
fn child_of(parent: &Element, class: &str) -> Option<Element> {
    parent
        .query_selector(&format!(":scope > .{class}"))
        .ok()
        .flatten()
}

/// Shows `message` in the banner (an alert, first in `root`), or removes the banner.
pub fn banner(root: &Element, message: Option<&str>) {
    let Some(doc) = root.owner_document() else {
        return;
    };
    match (child_of(root, "parley-banner"), message) {
        (Some(el), None) => el.remove(),
        (Some(el), Some(m)) => el.set_text_content(Some(m)),
        (None, Some(m)) => {
            let el = element(&doc, "div", "parley-banner");
            let _ = el.set_attribute("role", "alert");
            text(&doc, &el, m);
            let _ = root.insert_before(&el, root.first_child().as_ref());
        }
        (None, None) => {}
    }
}

/// Shows the proactive messages in `root`, before the launcher, or removes them.
pub fn proactive(root: &Element, messages: Option<&[String]>) {
    let Some(doc) = root.owner_document() else {
        return;
    };
    if let Some(old) = child_of(root, "parley-proactive") {
        old.remove();
    }
    if let Some(messages) = messages {
        let el = element(&doc, "div", "parley-proactive");
        let _ = el.set_attribute("role", "status");
        for m in messages {
            text(&doc, &child(&doc, &el, "p", "parley-proactive__message"), m);
        }
        let launcher = child_of(root, "parley-launcher");
        let _ = root.insert_before(&el, launcher.as_ref().map(|l| l.as_ref()));
    }
}

/// Draws the quick replies into `div` afresh: one button each, with its index in
/// `data-choice`, disabled while the user cannot act.
pub fn choices(div: &Element, offered: &[ButtonView], enabled: bool) {
    let Some(doc) = div.owner_document() else {
        return;
    };
    div.set_text_content(None);
    for (i, b) in offered.iter().enumerate() {
        let el = child(&doc, div, "button", "parley-button parley-button--choice");
        let _ = el.set_attribute("type", "button");
        let _ = el.set_attribute("data-choice", &i.to_string());
        if !enabled {
            let _ = el.set_attribute("disabled", "");
        }
        text(&doc, &el, &b.label);
    }
}

/// Scrolls the carousel an arrow belongs to by about one card.
pub fn scroll_carousel(arrow: &Element) {
    // An integer: parsing a float would bring in the float parser (about 15 KB gzip).
    let step: i32 = arrow
        .get_attribute("data-scroll")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let scroller = arrow
        .closest(".parley-carousel-wrap")
        .ok()
        .flatten()
        .and_then(|w| w.query_selector(".parley-carousel").ok().flatten());
    if let Some(scroller) = scroller {
        let card = scroller
            .first_element_child()
            .map_or(200, |c| c.client_width() + 8);
        scroller.scroll_by_with_x_and_y(f64::from(step * card), 0.0);
    }
}
