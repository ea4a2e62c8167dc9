use leptos::html;
use leptos::prelude::*;

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
    use wasm_bindgen::JsCast;
    let target = ev.target()?.dyn_into::<web_sys::Element>().ok()?;
    target.closest(selector).ok().flatten()
}

/// The index in attribute `name` of the element `ev` happened under.
fn index(ev: &leptos::ev::MouseEvent, name: &str) -> Option<usize> {
    under(ev, &format!("[{name}]"))?
        .get_attribute(name)?
        .parse()
        .ok()
}

/// The panel's elements the driver draws into by hand.
#[derive(Clone, Copy)]
struct Refs {
    root: NodeRef<html::Div>,
    log: NodeRef<html::Div>,
    scroll: NodeRef<html::Div>,
    choices: NodeRef<html::Div>,
    input: NodeRef<html::Input>,
}

type Offered = StoredValue<(Vec<crate::turn_view::ButtonView>, bool)>;

/// Draws what the controller holds, by hand (`transcript.rs`: a list of Leptos views weighed
/// more): the transcript's lines, the banner, the typing indicator, the quick replies.
fn draw(driver: Driver, refs: Refs) -> (StoredValue<Lines, LocalStorage>, Offered) {
    let lines = StoredValue::new_local(Lines::default());
    Effect::new(move |_| {
        let log = refs.log.get();
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
        if let Some(root) = refs.root.get() {
            transcript::banner(&root, notice.map(Notice::sentence));
        }
    });
    Effect::new(move |_| {
        let typing = driver.with(|c| c.typing());
        if let Some(scroll) = refs.scroll.get() {
            transcript::typing(&scroll, typing);
        }
    });
    // Redrawn only when the buttons on offer or their use change (a redraw loses the focus);
    // compared by hand: a memo of this type weighed more.
    let offered = StoredValue::new((Vec::new(), false));
    Effect::new(move |_| {
        let now = driver.with(|c| c.offered());
        if let Some(div) = refs.choices.get()
            && offered.with_value(|drawn| *drawn != now)
        {
            transcript::choices(&div, &now.0, now.1);
            offered.set_value(now);
        }
    });
    // The first opening mounts the panel: it moves the focus in itself, once rendered.
    Effect::new(move |_| {
        if let Some(input) = refs.input.get().filter(|i| i.offset_parent().is_some()) {
            let _ = input.focus();
        }
    });
    (lines, offered)
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
    let refs = Refs {
        root: NodeRef::new(),
        log: NodeRef::new(),
        scroll: NodeRef::new(),
        choices: NodeRef::new(),
        input: NodeRef::new(),
    };
    let endpoint = endpoint.unwrap_or_else(Endpoint::same_origin);
    let driver = Driver::mount(endpoint, persistence, refs.root);
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
    let (lines, offered) = draw(driver, refs);
    let on_log_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(b) =
            index(&ev, "data-button").and_then(|i| lines.with_value(|l| l.buttons.get(i).cloned()))
        {
            driver.act(Event::Click(b));
        } else if under(&ev, "[data-retry]").is_some() {
            driver.act(Event::Retry);
        } else if let Some(arrow) = under(&ev, "[data-scroll]") {
            transcript::scroll_carousel(&arrow);
        }
    };
    let on_choice = move |ev| {
        let chosen =
            index(&ev, "data-choice").and_then(|i| offered.with_value(|(o, _)| o.get(i).cloned()));
        chosen.into_iter().for_each(|b| driver.act(Event::Click(b)));
    };
    let draft = RwSignal::new(String::new());
    let can_act = move || driver.with(|c| c.can_act());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if driver.sends(Event::Text(draft.get_untracked())) {
            draft.set(String::new());
        }
    };
    let over = move || driver.with(|c| c.notice == Some(Notice::CannotContinue));
    let closed = move || driver.with(|c| c.conversation.closed());
    view! {
        <div class="parley-conversation" node_ref=refs.root>
            // Focusable: keyboard users scroll the transcript even when it holds no button.
            <div class="parley-transcript" tabindex="0" node_ref=refs.scroll>
                <div role="log" aria-live="polite" aria-label=t(Key::Conversation) node_ref=refs.log on:click=on_log_click></div>
            </div>
            <div class="parley-choices" node_ref=refs.choices on:click=on_choice></div>
            // Both there, one hidden: not a <Show> (its memo and fallback weighed more), and the
            // composer keeps its draft.
            <div class="parley-ended" role="status" hidden=move || !closed()><p>{move || t(if over() { Key::CannotContinue } else { Key::Ended })}</p>
                <button type="button" class="parley-button" on:click=move |_| driver.act(Event::Host(HostCommand::Reset))>{t(Key::NewChat)}</button>
            </div>
                <form class="parley-composer" on:submit=submit hidden=closed>
                    <input class="parley-composer__input" type="text" aria-label=t(Key::Message) node_ref=refs.input
                        placeholder=t(Key::Placeholder) autocomplete="off" maxlength="2000"
                        prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev)) />
                    <button type="submit" class="parley-composer__send" aria-label=t(Key::Send) disabled=move || !can_act()>{t(Key::Send)}</button>
                </form>
        </div>
    }
}
