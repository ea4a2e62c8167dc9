use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

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

/// A button that says what it does in `data-act` (read by the widget's one click listener).
fn act(
    doc: &web_sys::Document,
    parent: &web_sys::Element,
    class: &str,
    act: &str,
    label: &str,
    glyph: &str,
) -> web_sys::Element {
    let b = super::transcript::child(doc, parent, "button", class);
    let _ = b.set_attribute("type", "button");
    let _ = b.set_attribute("data-act", act);
    if !label.is_empty() {
        let _ = b.set_attribute("aria-label", label);
        let _ = b.set_attribute("title", label);
    }
    super::transcript::text(doc, &b, glyph);
    b
}

/// The launcher, last in `root`, with its icon (inline, not an emoji: emoji fonts are missing
/// on many systems). The icon is constant markup, the loader's own (loader/parley.js,
/// `LAUNCHER`): as HTML it weighs less than built element by element, and nothing in it comes
/// from the page or the network.
fn launcher(root: &web_sys::Element) {
    let Some(doc) = root.owner_document() else {
        return;
    };
    let b = act(&doc, root, "parley-launcher", "toggle", "", "");
    let _ = b.set_attribute("aria-label", t(Key::OpenChat));
    let _ = b.set_attribute("aria-expanded", "false");
    b.set_inner_html(
        r#"<svg class="parley-launcher__icon" aria-hidden="true" viewBox="0 0 24 24" width="28" height="28"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>"#,
    );
}

/// The panel's header, first in `section`: the picture, the title, the menu (download the
/// transcript), restart and close.
fn header(section: &web_sys::Element, title: &str, image: Option<&str>, embedded: bool) {
    let Some(doc) = section.owner_document() else {
        return;
    };
    let header = super::transcript::element(&doc, "header", "parley-header");
    if let Some(src) = image {
        // A picture that does not load goes (the widget's error listener).
        let img = super::transcript::child(&doc, &header, "img", "parley-header__avatar");
        let _ = img.set_attribute("src", src);
        let _ = img.set_attribute("alt", "");
    }
    let h2 = super::transcript::child(&doc, &header, "h2", "parley-header__title");
    super::transcript::text(&doc, &h2, title);
    let menu_button = act(
        &doc,
        &header,
        "parley-header__action",
        "menu",
        t(Key::Menu),
        "⋮",
    );
    let _ = menu_button.set_attribute("aria-haspopup", "menu");
    let _ = menu_button.set_attribute("aria-expanded", "false");
    let menu = super::transcript::child(&doc, &header, "div", "parley-menu");
    let _ = menu.set_attribute("role", "menu");
    let _ = menu.set_attribute("hidden", "");
    let item = act(
        &doc,
        &menu,
        "parley-menu__item",
        "download",
        "",
        t(Key::Download),
    );
    let _ = item.set_attribute("role", "menuitem");
    act(
        &doc,
        &header,
        "parley-header__action",
        "reset",
        t(Key::NewChat),
        "↻",
    );
    if !embedded {
        act(
            &doc,
            &header,
            "parley-header__close",
            "close",
            t(Key::CloseChat),
            "×",
        );
    }
    let _ = section.insert_before(&header, section.first_child().as_ref());
}

/// Opens or closes the header menu in `root`; says whether it was open.
fn show_menu(root: &web_sys::Element, on: bool) -> bool {
    let menu = root.query_selector(".parley-menu").ok().flatten();
    let button = root.query_selector("[data-act=menu]").ok().flatten();
    let (Some(menu), Some(button)) = (menu, button) else {
        return false;
    };
    let was = menu.get_attribute("hidden").is_none();
    let _ = if on {
        menu.remove_attribute("hidden")
    } else {
        menu.set_attribute("hidden", "")
    };
    let _ = button.set_attribute("aria-expanded", if on { "true" } else { "false" });
    was
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
    let panel_ref = NodeRef::<html::Section>::new();

    // The launcher, drawn by hand like the header (Leptos views for them weighed more).
    // The locale's language and direction and the theme's colour scheme are set here too, once
    // (as view attributes they weighed more).
    Effect::new(move |_| {
        let Some(root) = root_ref.get() else {
            return;
        };
        let locale = crate::i18n::locale();
        let _ = root.set_attribute("lang", locale.tag());
        let _ = root.set_attribute("dir", locale.dir());
        let _ = web_sys::HtmlElement::style(&root)
            .set_property("color-scheme", crate::i18n::theme().color_scheme());
        if !embedded {
            launcher(&root);
            // A new widget starts with nothing unread.
            super::transcript::badge(&root, 0);
        }
    });
    // What `open` was when last seen: an effect's first run may come after the first click.
    let was_open = StoredValue::new(open.get_untracked());
    Effect::new(move |_| {
        let now_open = open.get();
        // Once: a set would redraw the panel (and start its conversation afresh).
        if now_open && !started.get_untracked() {
            started.set(true);
        }
        let Some(root) = root_ref.get() else {
            return;
        };
        // The panel shows while open (by hand: as a view attribute it weighed more), before
        // the focus moves: on a phone the open panel takes the launcher's place. Read tracked:
        // the first opening mounts it after this.
        if let Some(section) = panel_ref.get() {
            let _ = section.toggle_attribute_with_force("hidden", !now_open);
        }
        let launcher = root
            .query_selector(":scope > .parley-launcher")
            .ok()
            .flatten();
        if let Some(l) = &launcher {
            let _ = l.set_attribute("aria-expanded", if now_open { "true" } else { "false" });
            let _ = l.set_attribute(
                "aria-label",
                t(if now_open {
                    Key::CloseChat
                } else {
                    Key::OpenChat
                }),
            );
        }
        if was_open.get_value() != now_open {
            was_open.set_value(now_open);
            crate::events::emit_toggle(Some(&root), now_open);
            // Seen: the unread count goes.
            super::transcript::badge(&root, 0);
            if now_open {
                // The panel may not be rendered yet (the first opening mounts it).
                focus_later(Some(root.into()), ".parley-composer__input");
            } else if let Some(l) = launcher {
                let _ = l.unchecked_into::<web_sys::HtmlElement>().focus();
            }
        }
    });
    // The whole widget unless the page hid it (by hand, as the panel).
    Effect::new(move |_| {
        let visible = controls.visible.get();
        if let Some(root) = root_ref.get() {
            let _ = root.toggle_attribute_with_force("hidden", !visible);
        }
    });
    // The header, once the panel is there.
    Effect::new(move |_| {
        if let Some(section) = panel_ref.get() {
            title.with_value(|title| header(&section, title, image.as_deref(), embedded));
        }
    });

    // One listener for the header's buttons, the menu, the launcher and the proactive messages:
    // each says what it does in `data-act`.
    let on_click = move |ev: leptos::ev::MouseEvent| {
        let Some(root) = root_ref.get_untracked() else {
            return;
        };
        let target = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let act = target
            .as_ref()
            .and_then(|t| t.closest("[data-act]").ok().flatten())
            .and_then(|a| a.get_attribute("data-act"));
        let in_proactive = target
            .and_then(|t| t.closest(".parley-proactive__message").ok().flatten())
            .is_some();
        let was_menu = show_menu(&root, false);
        match act.as_deref() {
            Some("toggle") => open.update(|o| *o = !*o),
            Some("close") => open.set(false),
            Some("reset") => controls.host.send(crate::controller::HostCommand::Reset),
            Some("menu") if !was_menu => {
                show_menu(&root, true);
                focus_later(Some(root.into()), ".parley-menu__item");
            }
            Some("download") => title.with_value(|title| {
                let text = super::transcript::as_text(&root, title);
                super::transcript::download(&root, "transcript.txt", &text);
            }),
            _ if in_proactive => open.set(true),
            _ => {}
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape"
            && let Some(root) = root_ref.get_untracked()
            && show_menu(&root, false)
        {
            focus_later(Some(root.into()), "[data-act=menu]");
        }
    };

    let panel = move || {
        let (endpoint, persistence) = (endpoint.clone(), persistence.clone());
        view! {
            <section
                class="parley-panel"
                role="dialog"
                aria-label=title.get_value()
                node_ref=panel_ref
            >
                <ConversationPanel endpoint=endpoint.unwrap_or_else(Endpoint::same_origin) persistence=persistence host=controls.host />
            </section>
        }
    };

    // Proactive messages, while the chat is closed: drawn by hand like the transcript (a list
    // of Leptos views weighed more); a click on one opens the chat. Read once per push, into a
    // cache (a memo of this type weighed more): opening and closing neither reads them again
    // nor calls the extensions' `match`.
    let messages = StoredValue::new(Vec::<String>::new());
    let show = move |root: Option<web_sys::HtmlDivElement>, open: bool| {
        if let Some(root) = root {
            messages.with_value(|m| {
                let shown = !open && !m.is_empty();
                super::transcript::proactive(&root, shown.then_some(m.as_slice()));
            });
        }
    };
    Effect::new(move |_| {
        let read = controls.proactive.with(|p| {
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
        messages.set_value(read);
        show(root_ref.get_untracked(), open.get_untracked());
    });
    Effect::new(move |_| show(root_ref.get(), open.get()));
    view! {
        <div
            class=if embedded { "parley parley--embedded" } else { "parley" }
            node_ref=root_ref
            on:click=on_click
            on:keydown=on_keydown
        >
            // Not a <Show>: its memo and fallback weighed more than this closure.
            {move || started.get().then(panel.clone())}
            // The header, the launcher and the proactive messages are drawn by hand (above).
        </div>
    }
}
