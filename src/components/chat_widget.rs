use leptos::html;
use leptos::prelude::*;

use super::conversation_panel::{ConversationPanel, HostRequests};
use crate::client::Endpoint;
use crate::i18n::{Key, t};
use crate::persistence::{Persistence, storage_key};

/// What the host page can change on a mounted widget (`parley.chat.open()`, `hide()`…).
#[derive(Debug, Clone, Copy)]
pub struct Controls {
    pub open: RwSignal<bool>,
    /// `hide()` takes the whole widget off the page, launcher included; `show()` brings it back.
    pub visible: RwSignal<bool>,
    pub host: HostRequests,
    /// Proactive messages (traces) shown by the launcher while the chat is closed.
    pub proactive: RwSignal<Vec<crate::json::Json>>,
}

impl Controls {
    pub fn new() -> Controls {
        Controls {
            open: RwSignal::new(false),
            visible: RwSignal::new(true),
            host: HostRequests::new(),
            proactive: RwSignal::new(Vec::new()),
        }
    }
}

impl Default for Controls {
    fn default() -> Controls {
        Controls::new()
    }
}

/// Moves focus to the first element `selector` matches under `root`, in the next frame: the
/// reactive updates of this change (a panel's `hidden` going) run as microtasks, so by then the
/// element shows and can take the focus. The first opening mounts the panel, which focuses its
/// input itself once rendered (ConversationPanel); no polling.
fn focus_later(root: Option<web_sys::HtmlElement>, selector: &'static str) {
    let Some(root) = root else {
        return;
    };
    request_animation_frame(move || {
        if let Ok(Some(target)) = root.query_selector(selector) {
            let _ = wasm_bindgen::JsCast::unchecked_into::<web_sys::HtmlElement>(target).focus();
        }
    });
}

/// The chat widget: a launcher button and the panel it opens (or, embedded, the panel alone).
///
/// The panel is a labelled dialog with a header (title, restart, close) and the conversation,
/// whose transcript is a polite `role="log"` live region, so that screen readers announce each
/// bot message as it appears. The conversation starts at the first opening and stays mounted
/// when the panel closes. Focus moves into the panel on open and back to the launcher on close.
#[component]
pub fn ChatWidget(
    /// The assistant's name, shown in the header and used as the panel's accessible name.
    #[prop(into)]
    title: String,
    /// The project's id: it namespaces the saved conversation.
    #[prop(into, optional)]
    project: Option<String>,
    /// The runtime; by default the page's own origin, stateless, version `development`.
    #[prop(optional)]
    endpoint: Option<Endpoint>,
    /// Where the conversation is saved; by default `localStorage` under the project's key.
    #[prop(optional)]
    persistence: Option<Persistence>,
    /// The assistant's picture in the header (an already checked URL).
    #[prop(default = None)]
    image: Option<String>,
    /// Fill the parent element, without a launcher, always open.
    #[prop(optional)]
    embedded: bool,
    #[prop(optional)] controls: Option<Controls>,
) -> impl IntoView {
    let controls = controls.unwrap_or_default();
    let open = controls.open;
    if embedded {
        open.set(true);
    }
    let persistence = persistence.unwrap_or_else(|| {
        Persistence::local(storage_key(
            project.as_deref().unwrap_or("default"),
            "development",
            "anonymous",
        ))
    });
    let started = RwSignal::new(embedded);
    // None given: the locale's word for a chat.
    let title = StoredValue::new(if title.is_empty() {
        t(Key::Chat).to_owned()
    } else {
        title
    });
    let root_ref = NodeRef::<html::Div>::new();
    let menu = RwSignal::new(false);
    let launcher_ref = NodeRef::<html::Button>::new();

    // What `open` was when last seen: an effect's first run may come after the first click.
    let was_open = StoredValue::new(open.get_untracked());
    Effect::new(move |_| {
        let now_open = open.get();
        if now_open {
            started.set(true);
        }
        if was_open.get_value() != now_open {
            was_open.set_value(now_open);
            crate::events::emit_toggle(root_ref.get_untracked().as_deref(), now_open);
            if let Some(root) = root_ref.get_untracked() {
                // Seen: the unread count goes.
                super::transcript::badge(&root, 0);
            }
            if now_open {
                // The panel may not be rendered yet (the first opening mounts it).
                let root = root_ref.get_untracked().map(Into::into);
                focus_later(root, ".parley-composer__input");
            } else if let Some(launcher) = launcher_ref.get_untracked() {
                let _ = launcher.focus();
            }
        }
    });

    let gone = |ev: leptos::ev::ErrorEvent| event_target::<web_sys::Element>(&ev).remove();
    let panel = move || {
        let (endpoint, persistence, image) = (endpoint.clone(), persistence.clone(), image.clone());
        view! {
            <section
                class="parley-panel"
                role="dialog"
                aria-label=title.get_value()
                hidden=move || !open.get()
            >
                <header class="parley-header">
                    {image.clone().map(|src| view! {
                        // A picture that does not load goes (no broken-image icon).
                        <img class="parley-header__avatar" src=src alt="" on:error=gone />
                    })}
                    <h2 class="parley-header__title">{title.get_value()}</h2>
                    <button
                        type="button"
                        class="parley-header__action"
                        aria-label=t(Key::Menu)
                        title=t(Key::Menu)
                        aria-haspopup="menu"
                        aria-expanded=move || menu.get().to_string()
                        on:click=move |_| {
                            menu.update(|m| *m = !*m);
                            focus_later(root_ref.get_untracked().map(Into::into), ".parley-menu__item");
                        }
                    >
                        "⋮"
                    </button>
                    <div
                        class="parley-menu"
                        role="menu"
                        hidden=move || !menu.get()
                        on:keydown=move |ev| {
                            if ev.key() == "Escape" {
                                menu.set(false);
                            }
                        }
                    >
                        <button
                            type="button"
                            role="menuitem"
                            class="parley-menu__item"
                            on:click=move |_| {
                                menu.set(false);
                                if let Some(root) = root_ref.get_untracked() {
                                    let text = super::transcript::as_text(&root, &title.get_value());
                                    super::transcript::download(&root, "transcript.txt", &text);
                                }
                            }
                        >
                            {t(Key::Download)}
                        </button>
                    </div>
                    <button
                        type="button"
                        class="parley-header__action"
                        aria-label=t(Key::NewChat)
                        title=t(Key::NewChat)
                        on:click=move |_| controls.host.send(crate::controller::HostCommand::Reset)
                    >
                        "↻"
                    </button>
                    {(!embedded).then(|| view! {
                        <button
                            type="button"
                            class="parley-header__close"
                            aria-label=t(Key::CloseChat)
                            on:click=move |_| open.set(false)
                        >
                            "×"
                        </button>
                    })}
                </header>
                <ConversationPanel endpoint=endpoint.unwrap_or_else(Endpoint::same_origin) persistence=persistence host=controls.host />
            </section>
        }
    };

    // Proactive messages, while the chat is closed: drawn by hand like the transcript (a list
    // of Leptos views weighed more); a click on one opens the chat.
    Effect::new(move |_| {
        let messages: Vec<String> = controls.proactive.with(|p| {
            crate::turn_view::read_turn(p)
                .reveals
                .iter()
                .filter_map(|r| match &r.bubble {
                    crate::turn_view::Bubble::Text(blocks) => {
                        Some(crate::rich_text::plain_text(blocks))
                    }
                    _ => None,
                })
                .collect()
        });
        let shown = !open.get() && !messages.is_empty();
        if let Some(root) = root_ref.get() {
            super::transcript::proactive(&root, shown.then_some(messages.as_slice()));
        }
    });
    let on_proactive_click = move |ev: leptos::ev::MouseEvent| {
        use wasm_bindgen::JsCast;
        let on_message = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest(".parley-proactive__message").ok().flatten());
        if on_message.is_some() {
            open.set(true);
        }
    };

    view! {
        <div
            class="parley"
            class:parley--embedded=embedded
            lang=crate::i18n::locale().tag()
            dir=crate::i18n::locale().dir()
            style:color-scheme=crate::i18n::theme().color_scheme()
            hidden=move || !controls.visible.get()
            node_ref=root_ref
            on:click=on_proactive_click
        >
            <Show when=move || started.get()>{panel.clone()}</Show>
            // The proactive messages (by the launcher) are drawn by hand, below.
            {(!embedded).then(|| view! {
                <button
                    type="button"
                    class="parley-launcher"
                    node_ref=launcher_ref
                    aria-label=move || t(if open.get() { Key::CloseChat } else { Key::OpenChat })
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)
                >
                    // An inline icon, not an emoji: emoji fonts are missing on many systems.
                    <svg
                        class="parley-launcher__icon"
                        aria-hidden="true"
                        viewBox="0 0 24 24"
                        width="28"
                        height="28"
                    >
                        <path
                            fill="currentColor"
                            d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"
                        />
                    </svg>
                </button>
            })}
        </div>
    }
}
