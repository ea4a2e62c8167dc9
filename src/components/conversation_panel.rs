use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::transcript::{self, Lines};
use crate::client::Endpoint;
use crate::controller::driver::Driver;
use crate::controller::{Event, HostCommand, Notice};
use crate::i18n::{Key, t};
use crate::persistence::Persistence;

/// What the host page asks of the conversation, in order (`parley.chat.interact`, `reset`,
/// the header's restart); they wait here until the conversation is mounted.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostRequests(RwSignal<Vec<HostCommand>>);

impl HostRequests {
    pub fn new() -> HostRequests {
        HostRequests::default()
    }

    pub fn send(&self, command: HostCommand) {
        self.0.update(|q| q.push(command));
    }
}

/// The element `ev` happened on, if it is under one matching `selector`: that one.
fn under(ev: &leptos::ev::MouseEvent, selector: &str) -> Option<web_sys::Element> {
    let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest(selector).ok().flatten()
}

/// The index in attribute `name` of the element matching `selector` that `ev` happened under.
fn index(ev: &leptos::ev::MouseEvent, selector: &str, name: &str) -> Option<usize> {
    under(ev, selector)?.get_attribute(name)?.parse().ok()
}

/// The panel's parts, under its root: the driver draws into them by hand.
const LOG: &str = "[role=log]";
const SCROLL: &str = ".parley-transcript";
const CHOICES: &str = ".parley-choices";
const INPUT: &str = ".parley-composer__input";

/// The element `selector` finds under `root`.
fn find(root: &web_sys::Element, selector: &str) -> Option<web_sys::Element> {
    root.query_selector(selector).ok().flatten()
}

type Offered = StoredValue<(Vec<crate::turn_view::ButtonView>, bool)>;

/// Draws what the controller holds, by hand (`transcript.rs`: a list of Leptos views weighed
/// more): the transcript's lines, the banner, the typing indicator, the quick replies, and
/// whether the composer or the way to a new chat shows.
fn draw(driver: Driver, root: NodeRef<html::Div>) -> (StoredValue<Lines, LocalStorage>, Offered) {
    let lines = StoredValue::new_local(Lines::default());
    Effect::new(move |_| {
        let log = root.get().and_then(|r| find(&r, LOG));
        // The transcript keeps the view at the latest line itself (transcript.rs, `Follow`).
        driver.with(|c| {
            let conversation = &c.conversation;
            let live = conversation.live.as_ref();
            let live = live.and_then(|l| Some((l.id?, l.pieces)));
            log.map(|l| lines.update_value(|s| s.update(&l, conversation.shown(), live)))
        });
    });
    Effect::new(move |_| {
        let notice = driver
            .with(|c| c.notice)
            .filter(|n| *n != Notice::CannotContinue);
        if let Some(root) = root.get() {
            transcript::banner(&root, notice.map(Notice::sentence));
        }
    });
    Effect::new(move |_| {
        let typing = driver.with(|c| c.typing());
        if let Some(scroll) = root.get().and_then(|r| find(&r, SCROLL)) {
            lines.with_value(|l| l.typing(&scroll, typing));
        }
    });
    // Redrawn only when the buttons on offer or their use change (a redraw loses the focus);
    // compared by hand: a memo of this type weighed more.
    let offered = StoredValue::new((Vec::new(), false));
    Effect::new(move |_| {
        let now = driver.with(|c| c.offered());
        if let Some(div) = root.get().and_then(|r| find(&r, CHOICES))
            && offered.with_value(|drawn| *drawn != now)
        {
            transcript::choices(&div, &now.0, now.1);
            offered.set_value(now);
        }
    });
    // The composer while the conversation goes on, else the way to a new chat (both there,
    // one hidden: the composer keeps its draft).
    Effect::new(move |_| {
        let (closed, over, can_act) = driver.with(|c| {
            let over = c.notice == Some(Notice::CannotContinue);
            (c.conversation.closed(), over, c.can_act())
        });
        let Some(root) = root.get() else {
            return;
        };
        let show = |selector, on: bool| {
            if let Some(el) = find(&root, selector) {
                let _ = el.toggle_attribute_with_force("hidden", !on);
            }
        };
        show(".parley-ended", closed);
        show(".parley-composer", !closed);
        // Written only when it changes: the block is a live region.
        let said = t(if over {
            Key::CannotContinue
        } else {
            Key::Ended
        });
        if let Some(p) = find(&root, ".parley-ended p")
            && p.text_content().as_deref() != Some(said)
        {
            p.set_text_content(Some(said));
        }
        if let Some(send) = find(&root, ".parley-composer__send") {
            let _ = send.toggle_attribute_with_force("disabled", !can_act);
        }
    });
    // The first opening mounts the panel: it moves the focus in itself, once rendered.
    Effect::new(move |_| {
        let input = root.get().and_then(|r| find(&r, INPUT));
        if let Some(input) = input.map(|i| i.unchecked_into::<web_sys::HtmlElement>())
            && input.offset_parent().is_some()
        {
            let _ = input.focus();
        }
    });
    (lines, offered)
}

/// The panel's markup: constant, but for the locale's words (`i18n.rs`, whose tests check that
/// no word holds markup). As HTML it weighs less than built element by element or as a view.
fn markup() -> String {
    format!(
        concat!(
            // Focusable: keyboard users scroll the transcript even when it holds no button.
            r#"<div class="parley-transcript" tabindex="0"><div role="log" aria-live="polite" aria-label="{}"></div></div>"#,
            r#"<div class="parley-choices"></div>"#,
            r#"<div class="parley-ended" role="status" hidden><p></p><button type="button" class="parley-button" data-new>{}</button></div>"#,
            r#"<form class="parley-composer"><input class="parley-composer__input" type="text" aria-label="{}" placeholder="{}" autocomplete="off" maxlength="2000">"#,
            r#"<button type="submit" class="parley-composer__send" aria-label="{}" disabled>{}</button></form>"#,
        ),
        t(Key::Conversation),
        t(Key::NewChat),
        t(Key::Message),
        t(Key::Placeholder),
        t(Key::Send),
        t(Key::Send),
    )
}

/// The conversation inside the chat panel, a thin driver of [`crate::controller`]: the banner
/// when a message failed, the transcript (a polite `role="log"` live region, so screen readers
/// announce each bot message), the quick replies, and the composer or the way to a new chat.
#[component]
pub fn ConversationPanel(
    /// The runtime to talk to; by default the page's own origin, version `development`.
    #[prop(optional)]
    endpoint: Option<Endpoint>,
    /// Where the conversation is saved; by default nowhere (memory).
    #[prop(optional)]
    persistence: Option<Persistence>,
    /// Requests from the host page.
    #[prop(optional)]
    host: Option<HostRequests>,
) -> impl IntoView {
    let root = NodeRef::<html::Div>::new();
    let endpoint = endpoint.unwrap_or_else(Endpoint::same_origin);
    let driver = Driver::mount(endpoint, persistence, root);
    let host = host.unwrap_or_default().0;
    Effect::new(move |_| {
        let waiting = host
            .with(|q| !q.is_empty())
            .then(|| host.update_untracked(std::mem::take));
        waiting
            .into_iter()
            .flatten()
            .for_each(|c| driver.act(Event::Host(c)));
    });
    let (lines, offered) = draw(driver, root);
    // One listener for the transcript's buttons, the quick replies and the new chat, each
    // looked for in its own part only (an extension's content in the log may carry any
    // attribute: one of its buttons is no quick reply, nor a new chat).
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(b) = index(&ev, "[role=log] [data-button]", "data-button")
            .and_then(|i| lines.with_value(|l| l.buttons.get(i).cloned()))
        {
            driver.act(Event::Click(b));
        } else if let Some(b) = index(&ev, ".parley-choices [data-choice]", "data-choice")
            .and_then(|i| offered.with_value(|(o, _)| o.get(i).cloned()))
        {
            driver.act(Event::Click(b));
        } else if under(&ev, "[role=log] [data-retry]").is_some() {
            driver.act(Event::Retry);
        } else if under(&ev, ".parley-ended [data-new]").is_some() {
            driver.act(Event::Host(HostCommand::Reset));
        } else if let Some(arrow) = under(&ev, "[role=log] [data-scroll]") {
            transcript::scroll_carousel(&arrow);
        }
    };
    // The composer's own submit only (an extension's form in the log submits as it will). The
    // draft is the input's own value: read on sending, cleared once sent.
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        let composer = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|f| f.class_name() == "parley-composer");
        if !composer {
            return;
        }
        ev.prevent_default();
        let input = root.get_untracked().and_then(|r| find(&r, INPUT));
        if let Some(input) = input.map(|i| i.unchecked_into::<web_sys::HtmlInputElement>())
            && driver.sends(Event::Text(input.value()))
        {
            input.set_value("");
        }
    };
    view! {
        <div class="parley-conversation" node_ref=root inner_html=markup() on:click=on_click on:submit=on_submit></div>
    }
}
