use leptos::html;
use leptos::prelude::*;

use super::bubble::BubbleView;
use crate::client::{self, Endpoint};
use crate::conversation::{Conversation, Delivery, Entry, Pending};
use crate::json::{Build, Json, request};
use crate::persistence::{Persistence, StorageKind};
use crate::turn_view::ButtonView;

/// The conversation inside the chat panel: the banner when the server cannot be reached, the
/// transcript (a polite `role="log"` live region, so screen readers announce each bot message
/// as it appears), the quick replies and the composer. Mounting it restores the saved
/// conversation, or starts one; a failed message shows as failed with a retry. Every change is
/// saved (state, transcript, quick replies), so a reload shows the conversation as it was.
#[component]
pub fn ConversationPanel(
    /// The runtime to talk to; by default the page's own origin, version `development`.
    #[prop(optional)]
    endpoint: Option<Endpoint>,
    /// Where the conversation is saved; by default nowhere (memory).
    #[prop(optional)]
    persistence: Option<Persistence>,
) -> impl IntoView {
    let endpoint = StoredValue::new(endpoint.unwrap_or_else(|| Endpoint {
        url: String::new(),
        version: "development".to_owned(),
        api_key: None,
    }));
    #[cfg_attr(
        not(target_arch = "wasm32"),
        allow(unused_variables, reason = "natively nothing is stored")
    )]
    let persistence = StoredValue::new(persistence.unwrap_or(Persistence {
        kind: StorageKind::Memory,
        key: String::new(),
        ttl_ms: 0.0,
        cap: 0,
    }));
    #[cfg(target_arch = "wasm32")]
    let restored = persistence.with_value(Persistence::load);
    #[cfg(not(target_arch = "wasm32"))]
    let restored = None;
    let resumed = restored.is_some();
    let conversation = RwSignal::new(restored.map(Conversation::restore).unwrap_or_default());
    let banner = RwSignal::new(None::<String>);
    let draft = RwSignal::new(String::new());
    let log_ref = NodeRef::<html::Div>::new();

    let deliver = move |pending: Pending| {
        let call = endpoint.with_value(|e| e.stateless(pending.state.as_ref(), &pending.request));
        leptos::task::spawn_local(async move {
            match client::send(&call).await {
                Ok(answer) => {
                    banner.set(None);
                    conversation.update(|c| {
                        c.answered(answer);
                    });
                }
                Err(error) => {
                    web_sys::console::warn_1(&format!("parley: {error}").into());
                    banner.set(Some(error.to_string()));
                    conversation.update(Conversation::failed);
                }
            }
        });
    };
    let send = move |request: Json, echo: Option<String>| {
        let mut pending = None;
        conversation.update(|c| pending = c.send(request, echo));
        if let Some(pending) = pending {
            deliver(pending);
        }
    };
    let retry = move || {
        let mut pending = None;
        conversation.update(|c| pending = c.retry());
        if let Some(pending) = pending {
            deliver(pending);
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked();
        if text.trim().is_empty() || conversation.with_untracked(|c| c.in_flight() || c.ended) {
            return;
        }
        draft.set(String::new());
        let text = text.trim();
        send(
            request("text", Some(Json::of_str(text))),
            Some(text.to_owned()),
        );
    };
    let new_chat = move |_| {
        #[cfg(target_arch = "wasm32")]
        persistence.with_value(Persistence::clear);
        conversation.update(Conversation::reset);
        send(request("launch", None), None);
    };
    let can_act = Signal::derive(move || conversation.with(|c| !c.in_flight() && !c.ended));
    let on_button = Callback::new(move |b: ButtonView| send(b.request, Some(b.label)));

    // Keep the newest message in view.
    Effect::new(move |_| {
        conversation.track();
        if let Some(log) = log_ref.get() {
            log.set_scroll_top(log.scroll_height());
        }
    });

    // Save every change.
    #[cfg(target_arch = "wasm32")]
    Effect::new(move |_| {
        conversation.with(|c| {
            persistence.with_value(|p| p.save(&c.snapshot(p.key.clone(), js_sys::Date::now())));
        });
    });

    if !resumed {
        send(request("launch", None), None);
    }

    view! {
        <div class="parley-conversation">
            {move || banner.get().map(|message| view! {
                <div class="parley-banner" role="alert">{message}</div>
            })}
            <div class="parley-transcript" role="log" aria-live="polite" node_ref=log_ref>
                <For
                    each=move || conversation.with(|c| c.entries.clone())
                    key=|entry| (entry.id(), match entry { Entry::User { delivery, .. } => *delivery as u8, Entry::Bot { .. } => 9 })
                    children=move |entry| match entry {
                        Entry::Bot { bubble, .. } => view! {
                            <BubbleView bubble=bubble on_click=on_button enabled=can_act />
                        }.into_any(),
                        Entry::User { text, delivery, .. } => view! {
                            <div class="parley-bubble parley-bubble--user" class:parley-bubble--failed=delivery == Delivery::Failed>
                                <p class="parley-rich__p">{text}</p>
                                {(delivery == Delivery::Failed).then(|| view! {
                                    <button type="button" class="parley-bubble__retry" on:click=move |_| retry()>
                                        "Not sent. Retry"
                                    </button>
                                })}
                            </div>
                        }.into_any(),
                    }
                />
                {move || conversation.with(|c| c.in_flight()).then(|| view! {
                    <div class="parley-typing" aria-label="The assistant is typing"><span></span><span></span><span></span></div>
                })}
            </div>
            <div class="parley-choices">
                {move || conversation.with(|c| c.choices.clone()).into_iter().map(|b| {
                    let label = b.label.clone();
                    view! {
                        <button type="button" class="parley-button parley-button--choice"
                            disabled=move || !can_act.get()
                            on:click=move |_| on_button.run(b.clone())>{label}</button>
                    }
                }).collect_view()}
            </div>
            <Show
                when=move || !conversation.with(|c| c.ended)
                fallback=move || view! {
                    <div class="parley-ended">
                        <p>"The conversation has ended."</p>
                        <button type="button" class="parley-button" on:click=new_chat>"Start a new chat"</button>
                    </div>
                }
            >
                <form class="parley-composer" on:submit=submit>
                    <input class="parley-composer__input" type="text" aria-label="Message"
                        placeholder="Type a message…" autocomplete="off" maxlength="2000"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev)) />
                    <button type="submit" class="parley-composer__send" aria-label="Send"
                        disabled=move || !can_act.get()>"Send"</button>
                </form>
            </Show>
        </div>
    }
}
