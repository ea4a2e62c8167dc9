//! The browser's half of the controller: it feeds [`Controller::handle`] the browser's events
//! (answers, timers, the `storage` event) and performs the commands (`fetch`, `setTimeout`,
//! the page's events, the extensions' effects, `localStorage`), and tells the view to redraw.
//! Every access is a `try_`: an answer or a timer may land after the widget was destroyed.

use leptos::prelude::*;

use super::{Command, Controller, Event, HostEvent};
use crate::client::{self, ClientError, Endpoint, Streamed};
use crate::json::Json;
use crate::persistence::{Persistence, StorageKind};

/// The controller of one mounted conversation, and what it needs to act.
#[derive(Debug, Clone, Copy)]
pub struct Driver {
    controller: StoredValue<Controller>,
    /// Notified when what shows changed.
    changed: Trigger,
    endpoint: StoredValue<Endpoint>,
    persistence: StoredValue<Persistence>,
    /// Where the page's events start (they bubble out of the Shadow DOM).
    root: NodeRef<leptos::html::Div>,
    /// This page load's number: tells its request numbers apart from another load's (the
    /// stateful flavour's `x-parley-request-id` must not repeat), and its saves from another
    /// tab's.
    tab: u64,
}

/// Whether the user asked the system for less motion (then a turn shows at once).
fn reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| {
            w.match_media("(prefers-reduced-motion: reduce)")
                .ok()
                .flatten()
        })
        .is_some_and(|m| m.matches())
}

impl Driver {
    /// Restores the saved conversation or starts one, and follows the other tabs.
    pub fn mount(
        endpoint: Endpoint,
        persistence: Option<Persistence>,
        root: NodeRef<leptos::html::Div>,
    ) -> Driver {
        let persistence = persistence.unwrap_or(Persistence {
            kind: StorageKind::Memory,
            key: String::new(),
            ttl_ms: 0.0,
            cap: 0,
        });
        let tab = (js_sys::Math::random() * 1e15) as u64;
        let shared = persistence.kind == StorageKind::Local;
        let saved = persistence.load();
        let driver = Driver {
            controller: StoredValue::new(Controller::new(tab, reduced_motion())),
            changed: Trigger::new(),
            endpoint: StoredValue::new(endpoint),
            persistence: StoredValue::new(persistence),
            root,
            tab,
        };
        driver.handle(Event::Mount(saved));
        if shared {
            driver.follow_other_tabs();
        }
        driver
    }

    /// Reads the controller, and redraws whoever read it when it changes.
    pub fn with<R>(self, f: impl FnOnce(&Controller) -> R) -> R {
        self.changed.track();
        self.controller.with_value(f)
    }

    /// What the visitor or the page did: the copy in storage first (another tab may have gone
    /// on), then the event.
    pub fn act(self, event: Event) {
        self.sync();
        self.handle(event);
    }

    /// [`Driver::act`], saying whether it sent something (a message not taken stays typed).
    pub fn sends(self, event: Event) -> bool {
        self.sync();
        self.handle(event)
    }

    fn sync(self) {
        if let Some(saved) = self
            .persistence
            .try_with_value(|p| (p.kind == StorageKind::Local).then(|| p.load()).flatten())
        {
            self.handle(Event::Stored(saved));
        }
    }

    fn handle(self, event: Event) -> bool {
        let commands = self.controller.try_update_value(|c| c.handle(event));
        let commands = commands.unwrap_or_default();
        let sent = commands.iter().any(|c| matches!(c, Command::Send(_)));
        for command in commands {
            self.perform(command);
        }
        sent
    }

    fn perform(self, command: Command) {
        let root = || self.root.try_get_untracked().flatten();
        match command {
            Command::Send(pending) => {
                let number = pending.number;
                let request_id = format!("{}-{number}", self.tab);
                let Some((call, streams)) = self.endpoint.try_with_value(|e| {
                    let call = e.call(pending.state.as_ref(), &pending.request, &request_id);
                    (call, e.streams())
                }) else {
                    return;
                };
                // The plain route's request leaves now, not once the view is drawn.
                let sending = (!streams).then(|| client::send(&call));
                leptos::task::spawn_local(async move {
                    let sending = match sending {
                        Some(sending) => sending,
                        None if self.stream(number, &pending.request, &request_id).await => return,
                        None => client::send(&call),
                    };
                    let result = sending.await;
                    self.sync();
                    self.handle(match result {
                        Ok(answer) => Event::Answered { number, answer },
                        Err(error) => Event::Failed { number, error },
                    });
                });
            }
            Command::Arm(timer, ms) => set_timeout(
                move || {
                    self.handle(Event::Fired(timer));
                },
                std::time::Duration::from_millis(ms as u64),
            ),
            Command::Emit(event) => {
                let root = root();
                match event {
                    HostEvent::Message(text) => crate::events::emit_message(root.as_deref(), &text),
                    HostEvent::Trace(trace) => crate::events::emit_trace(root.as_deref(), &trace),
                    HostEvent::Action(action) => {
                        crate::events::emit_action(root.as_deref(), &action);
                    }
                    HostEvent::Error(message) => {
                        web_sys::console::warn_1(&format!("parley: {message}").into());
                        crate::events::emit_error(root.as_deref(), &message);
                    }
                }
            }
            Command::Effect(index, trace) => {
                crate::host::run(index, &trace, None::<&web_sys::Element>)
            }
            Command::Save => {
                let now = self.stamp();
                self.persistence.with_value(|p| {
                    self.controller
                        .with_value(|c| p.save(&c.saved(p.key.clone(), now)));
                });
            }
            Command::Clear => self.persistence.with_value(Persistence::clear),
            Command::Render => {
                self.stamp();
                self.changed.notify();
            }
        }
    }

    /// Gives the lines that came their time, before they are saved or drawn (the controller
    /// has no clock); returns it.
    fn stamp(&self) -> f64 {
        let now = js_sys::Date::now();
        self.controller.update_value(|c| c.conversation.stamp(now));
        now
    }

    /// Takes request `number` as a streamed turn of the conversation's v4 session, each trace
    /// handed to the controller as it arrives; `false` when the plain route is to take it.
    ///
    /// A session is started only for a conversation's first request: a session start is a new
    /// conversation on the runtime, so one that began on the plain route (saved by an earlier
    /// build, or before the runtime had v4) stays there. A runtime without v4 sessions (404,
    /// 405: an older runtime, a proxy forwarding only the Dialog API; 401, 403 to a page
    /// without a key: a runtime whose sessions need one) gets the plain route for the rest of
    /// the page; a start that does not get through (offline, or refused by CORS), for this
    /// turn.
    async fn stream(self, number: u64, request: &Json, request_id: &str) -> bool {
        let Some((session, first)) = self.controller.try_with_value(|c| {
            let conversation = &c.conversation;
            (
                conversation.session.clone(),
                conversation.entries.is_empty(),
            )
        }) else {
            return true;
        };
        let keyless = self.endpoint.try_with_value(|e| e.api_key.is_none()) == Some(true);
        let key = match session {
            Some(key) => key,
            None if !first => return false,
            None => {
                let Some(call) = self.endpoint.try_with_value(Endpoint::session_call) else {
                    return true;
                };
                match client::start_session(&call).await {
                    Ok(key) => {
                        self.handle(Event::Session {
                            number,
                            key: key.clone(),
                        });
                        key
                    }
                    Err(ClientError::Refused { status, .. })
                        if matches!(status, 404 | 405)
                            || keyless && matches!(status, 401 | 403) =>
                    {
                        self.endpoint.try_update_value(|e| e.stream = false);
                        return false;
                    }
                    Err(ClientError::Unreachable(_)) => return false,
                    Err(error) => {
                        self.handle(Event::Failed { number, error });
                        return true;
                    }
                }
            }
        };
        if let Some(call) = self
            .endpoint
            .try_with_value(|e| e.stream_call(&key, request, request_id))
        {
            client::stream(&call, move |said| {
                let event = match said {
                    Streamed::Trace(trace) => Event::Streamed { number, trace },
                    Streamed::Ended => Event::StreamEnded { number },
                    Streamed::Failed(error) => Event::Failed { number, error },
                };
                if !matches!(event, Event::Streamed { .. }) {
                    self.sync();
                }
                self.handle(event);
            });
        }
        true
    }

    /// Another tab saved the conversation (the `storage` event, which the writing tab itself
    /// does not get): adopt the copy in storage (read afresh, not the event's value: the last
    /// write is the one that stands).
    fn follow_other_tabs(self) {
        use wasm_bindgen::JsCast;
        use wasm_bindgen::closure::Closure;
        let Some(window) = web_sys::window() else {
            return;
        };
        let listener = Closure::<dyn Fn(web_sys::Event)>::new(move |event: web_sys::Event| {
            let key = js_sys::Reflect::get(&event, &"key".into())
                .ok()
                .and_then(|k| k.as_string());
            let ours = self
                .persistence
                .try_with_value(|p| key.as_deref() == Some(p.key.as_str()));
            if ours == Some(true) {
                self.sync();
            }
        })
        .into_js_value();
        let _ = window.add_event_listener_with_callback("storage", listener.unchecked_ref());
        let held = send_wrapper::SendWrapper::new((window, listener));
        on_cleanup(move || {
            let (window, listener) = &*held;
            let _ = window.remove_event_listener_with_callback("storage", listener.unchecked_ref());
        });
    }
}
