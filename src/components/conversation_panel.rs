use leptos::html;
use leptos::prelude::*;

use super::transcript::Lines;
use crate::client::{self, Endpoint};
use crate::conversation::{Conversation, Pending};
use crate::json::{Build, Json, request};
use crate::persistence::{Persistence, StorageKind};
use crate::turn_view::ButtonView;

/// What the host page asks of a mounted conversation (`parley.chat.interact`, `reset`).
#[derive(Debug, Clone, Copy)]
pub struct HostRequests {
    /// Requests to send, in order (a custom action's answer, a proactive launch…).
    pub outbox: RwSignal<Vec<Json>>,
    /// Bumped to start a new conversation.
    pub resets: RwSignal<u32>,
}

impl HostRequests {
    pub fn new() -> HostRequests {
        HostRequests {
            outbox: RwSignal::new(Vec::new()),
            resets: RwSignal::new(0),
        }
    }
}

impl Default for HostRequests {
    fn default() -> HostRequests {
        HostRequests::new()
    }
}

/// Whether the user asked the system for less motion (then a turn shows at once).
fn reduced_motion() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::window()
            .and_then(|w| {
                w.match_media("(prefers-reduced-motion: reduce)")
                    .ok()
                    .flatten()
            })
            .is_some_and(|m| m.matches())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        false
    }
}

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
    /// Requests from the host page.
    #[prop(optional)]
    host: Option<HostRequests>,
) -> impl IntoView {
    let host = host.unwrap_or_default();
    let endpoint = StoredValue::new(endpoint.unwrap_or_else(Endpoint::same_origin));
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
    let scroll_ref = NodeRef::<html::Div>::new();
    let root_ref = NodeRef::<html::Div>::new();
    // Seconds of silence before a `no-reply`, from the last turn; bumped `turns` cancels a
    // waiting timer (anything sent since makes it stale).
    let no_reply = RwSignal::new(None::<f64>);
    let turns = StoredValue::new(0u64);

    // Tells this page load's request numbers apart from another's (the stateful flavour's
    // `x-parley-request-id` must not repeat across reloads).
    #[cfg(target_arch = "wasm32")]
    let nonce = (js_sys::Math::random() * 1e15) as u64;
    #[cfg(not(target_arch = "wasm32"))]
    let nonce = 0u64;

    // A request's answer may land after the widget was destroyed (its signals disposed): every
    // access from here on is a `try_`, which then does nothing.
    let deliver = move |pending: Pending| {
        let request_id = format!("{nonce}-{}", pending.number);
        let Some(call) = endpoint
            .try_with_value(|e| e.call(pending.state.as_ref(), &pending.request, &request_id))
        else {
            return;
        };
        let generation = pending.generation;
        leptos::task::spawn_local(async move {
            let root = move || root_ref.try_get_untracked().flatten();
            match client::send(&call).await {
                Ok(answer) => {
                    banner.try_set(None);
                    for trace in &answer.traces {
                        crate::events::emit_trace(root().as_deref(), trace);
                    }
                    let Some(view) = conversation.try_update(|c| c.answered(answer, generation))
                    else {
                        return;
                    };
                    if reduced_motion() {
                        conversation.try_update(Conversation::reveal_all);
                    }
                    no_reply.try_set(view.no_reply_secs);
                    for (index, trace) in &view.effects {
                        #[cfg(target_arch = "wasm32")]
                        crate::host::run(*index, trace, None);
                        #[cfg(not(target_arch = "wasm32"))]
                        let _ = (index, trace);
                    }
                    for action in view.actions {
                        // The flow waits at the action: the host answers with
                        // `parley.chat.interact({ type: path })`.
                        crate::events::emit_action(root().as_deref(), &action);
                    }
                }
                Err(error) => {
                    web_sys::console::warn_1(&format!("parley: {error}").into());
                    crate::events::emit_error(root().as_deref(), &error.to_string());
                    banner.try_set(Some(error.to_string()));
                    conversation.try_update(|c| c.failed(generation));
                }
            }
        });
    };
    let send = move |request: Json, echo: Option<String>| {
        if let Some(text) = &echo {
            crate::events::emit_message(root_ref.get_untracked().as_deref(), text);
        }
        let mut pending = None;
        conversation.update(|c| pending = c.send(request, echo));
        if let Some(pending) = pending {
            turns.update_value(|t| *t += 1);
            no_reply.set(None);
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
    let new_chat = move |_| host.resets.update(|r| *r += 1);
    let can_act = Signal::derive(move || conversation.with(|c| !c.in_flight() && !c.ended));

    // Reveal a turn line by line, each after its typing delay.
    let timer_armed = StoredValue::new(false);
    Effect::new(move |_| {
        let Some(delay) = conversation.with(Conversation::next_reveal) else {
            return;
        };
        if timer_armed.get_value() {
            return;
        }
        timer_armed.set_value(true);
        set_timeout(
            move || {
                if conversation.is_disposed() {
                    return;
                }
                timer_armed.set_value(false);
                conversation.update(Conversation::reveal_one);
            },
            std::time::Duration::from_millis(delay as u64),
        );
    });

    // Silence after a turn that asks for a reply: send `no-reply` once its timeout passes.
    Effect::new(move |_| {
        let Some(secs) = no_reply.get() else {
            return;
        };
        if conversation.with(|c| c.typing() || c.ended) {
            return;
        }
        let turn = turns.get_value();
        set_timeout(
            move || {
                let still = !turns.is_disposed()
                    && turns.get_value() == turn
                    && no_reply.get_untracked().is_some();
                if still {
                    send(request("no-reply", None), None);
                }
            },
            // At least a second: a runtime asking for 0 s would otherwise make a request loop.
            std::time::Duration::from_secs_f64(secs.clamp(1.0, 86_400.0)),
        );
    });

    // Requests from the host page, in order, one turn at a time.
    Effect::new(move |_| {
        let waiting = host.outbox.with(|o| !o.is_empty());
        if !waiting || conversation.with(Conversation::in_flight) {
            return;
        }
        let mut next = None;
        host.outbox.update(|o| next = Some(o.remove(0)));
        if let Some(request) = next {
            send(request, None);
        }
    });

    // `parley.chat.reset()`: a new conversation.
    Effect::new(move |previous: Option<u32>| {
        let resets = host.resets.get();
        if previous.is_some_and(|p| p != resets) {
            #[cfg(target_arch = "wasm32")]
            persistence.with_value(Persistence::clear);
            conversation.update(Conversation::reset);
            send(crate::host::launch(), None);
        }
        resets
    });
    let on_button = Callback::new(move |b: ButtonView| send(b.request, Some(b.label)));

    // The transcript: lines appended as they are revealed, the newest kept in view.
    let lines = StoredValue::new_local(Lines::default());
    Effect::new(move |_| {
        conversation.with(|c| {
            if let Some(log) = log_ref.get() {
                lines.update_value(|l| l.update(&log, c.shown()));
            }
        });
        // To the bottom, in the next frame: reading `scrollHeight` here forced a layout of the
        // whole transcript on every line (36 ms of 50 with 1,000 lines, in Chromium's profiler);
        // a scroll position past the end is clamped by the browser during the frame's layout.
        if let Some(scroll) = scroll_ref.get() {
            request_animation_frame(move || scroll.set_scroll_top(i32::MAX));
        }
    });
    // One listener for every button in the log: card buttons and retries.
    let on_log_click = move |ev: leptos::ev::MouseEvent| {
        use wasm_bindgen::JsCast;
        let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        if let Ok(Some(button)) = target.closest("[data-button]") {
            let index = button
                .get_attribute("data-button")
                .and_then(|i| i.parse::<usize>().ok());
            let chosen = index.and_then(|i| lines.with_value(|l| l.buttons.get(i).cloned()));
            if let Some(chosen) = chosen
                && can_act.get_untracked()
            {
                on_button.run(chosen);
            }
        } else if let Ok(Some(_)) = target.closest("[data-retry]") {
            retry();
        } else if let Ok(Some(arrow)) = target.closest("[data-scroll]") {
            super::transcript::scroll_carousel(&arrow);
        }
    };

    // The banner and the typing indicator, there only while they are needed: by hand, as
    // the transcript (an optional Leptos view each weighed more).
    Effect::new(move |_| {
        let message = banner.get();
        if let Some(root) = root_ref.get() {
            super::transcript::banner(&root, message.as_deref());
        }
    });
    Effect::new(move |_| {
        let typing = conversation.with(Conversation::typing);
        if let Some(scroll) = scroll_ref.get() {
            super::transcript::typing(&scroll, typing);
        }
    });

    // The quick replies: redrawn when they change or become (un)usable; one click listener
    // reads the chosen one's `data-choice` index.
    let choices_ref = NodeRef::<html::Div>::new();
    Effect::new(move |_| {
        let enabled = can_act.get();
        conversation.with(|c| {
            if let Some(div) = choices_ref.get() {
                super::transcript::choices(&div, c.offered(), enabled);
            }
        });
    });
    let on_choice_click = move |ev: leptos::ev::MouseEvent| {
        use wasm_bindgen::JsCast;
        let chosen = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("[data-choice]").ok().flatten())
            .and_then(|b| b.get_attribute("data-choice"))
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| conversation.with_untracked(|c| c.offered().get(i).cloned()));
        if let Some(chosen) = chosen
            && can_act.get_untracked()
        {
            on_button.run(chosen);
        }
    };

    // Save every change.
    #[cfg(target_arch = "wasm32")]
    Effect::new(move |_| {
        conversation.with(|c| {
            persistence.with_value(|p| p.save(&c.snapshot(p.key.clone(), js_sys::Date::now())));
        });
    });

    if !resumed {
        send(crate::host::launch(), None);
    }

    view! {
        <div class="parley-conversation" node_ref=root_ref>
            // The banner (first) and the typing indicator are made and removed by hand (below).
            // Focusable: keyboard users scroll the transcript even when it holds no button.
            <div class="parley-transcript" tabindex="0" node_ref=scroll_ref>
                <div role="log" aria-live="polite" aria-label="Conversation" node_ref=log_ref
                    on:click=on_log_click></div>
            </div>
            // Drawn by hand (below), like the transcript: a list of Leptos views weighed more.
            <div class="parley-choices" node_ref=choices_ref on:click=on_choice_click></div>
            <Show
                when=move || !conversation.with(Conversation::closed)
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
