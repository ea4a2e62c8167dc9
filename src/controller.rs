//! The conversation's behaviour, sans-IO: [`Controller::handle`] takes what happened (the
//! visitor typed or clicked, an answer arrived or failed, a timer fired, the host page called,
//! another tab saved) and returns what to do (send, arm a timer, tell the page, run an
//! extension's effect, save, redraw), as data. Plain Rust with no DOM, no Leptos and no clock:
//! the native tests play a script of events and read the commands; the browser's half
//! ([`driver`]) performs them.
//!
//! Tabs of one browser share one conversation through the saved copy (`localStorage`, whose
//! `storage` event tells the other tabs). A tab that sends first saves a claim (`busy`, under
//! the next revision); the others adopt the saved conversation before they act, and wait while
//! a claim stands. Two tabs that claim at the same moment both write the same revision: the
//! copy in storage is the last write, so exactly one tab finds the other's claim there, and
//! that one drops its answer, keeps its message as failed (to send again from the adopted
//! state), and the state never forks.

pub mod driver;

use crate::client::{Answer, ClientError};
use crate::conversation::{Conversation, Delivery, Entry, Pending};
use crate::json::{Build, Json, request};
use crate::persistence::Saved;
use crate::turn_view::{Action, ButtonView};

/// What happened.
#[derive(Debug, Clone)]
pub enum Event {
    /// The conversation is mounted, with the saved one if there is a usable one.
    Mount(Option<Saved>),
    /// The visitor sent typed text.
    Text(String),
    /// The visitor clicked a button (a quick reply or a card's): its request is sent.
    Click(ButtonView),
    /// The visitor asked to send the failed message again.
    Retry,
    /// The answer to request `number` arrived.
    Answered {
        number: u64,
        answer: Answer,
    },
    /// A v4 session was started for request `number` (a streaming runtime): its key.
    Session {
        number: u64,
        key: String,
    },
    /// A trace of the streamed answer to request `number`, as it arrived.
    Streamed {
        number: u64,
        trace: Json,
    },
    /// The streamed answer to request `number` is complete.
    StreamEnded {
        number: u64,
    },
    /// Request `number` failed.
    Failed {
        number: u64,
        error: ClientError,
    },
    /// A timer the controller armed went off.
    Fired(Timer),
    Host(HostCommand),
    /// Another tab saved the conversation: the copy in storage now.
    Stored(Option<Saved>),
}

/// What the host page asks (`parley.chat.interact`, `reset`, the header's restart).
#[derive(Debug, Clone)]
pub enum HostCommand {
    /// Send a request when the conversation is free (a custom action's answer, a launch…).
    Interact(Json),
    /// Start a new conversation.
    Reset,
}

/// A timer, with the number it was armed under: one that went off after the controller moved
/// on (a reset, a new turn) is ignored, so nothing needs cancelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Show the next line of the turn.
    Reveal(u64),
    /// Silence after a turn that asked for a reply: send `no-reply`.
    NoReply(u64),
    /// Another tab's claim has stood too long (it was closed mid-request): stop waiting.
    Claim(u64),
}

/// What the page is told (`crate::events`).
#[derive(Debug, Clone, PartialEq)]
pub enum HostEvent {
    /// The visitor sent a message (typed, or a button's label).
    Message(String),
    Trace(Json),
    Action(Action),
    /// A request failed: the developer's details (the visitor sees a [`Notice`]).
    Error(String),
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send a request (its `number` names it in `x-parley-request-id` and in the answer).
    Send(Pending),
    /// Fire `Timer` after so many milliseconds.
    Arm(Timer, f64),
    Emit(HostEvent),
    /// Run effect extension `index` on a trace.
    Effect(usize, Json),
    /// Save the whole conversation ([`Controller::saved`]).
    Save,
    /// Forget the saved conversation (a new chat).
    Clear,
    /// What shows changed: draw it again.
    Render,
}

/// What the visitor is told about a failure, in a plain sentence (the details go to the
/// console and `parley:error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The server could not be reached: a retry may work.
    Unreachable,
    /// The server refused or garbled the answer, for now: a retry may work.
    Failed,
    /// The conversation cannot go on: only a new chat helps.
    CannotContinue,
}

impl Notice {
    fn of(error: &ClientError) -> Notice {
        match error {
            _ if error.fatal() => Notice::CannotContinue,
            ClientError::Unreachable(_) => Notice::Unreachable,
            _ => Notice::Failed,
        }
    }

    /// The sentence, in the page's locale.
    pub fn sentence(self) -> &'static str {
        use crate::i18n::{Key, t};
        t(match self {
            Notice::Unreachable => Key::Unreachable,
            Notice::Failed => Key::Failed,
            Notice::CannotContinue => Key::CannotContinue,
        })
    }
}

/// How long another tab's claim is honoured without news from it.
pub const CLAIM_MS: f64 = 30_000.0;

/// The conversation and everything around it: timers, the host page's queue, the other tabs.
#[derive(Debug, Default)]
pub struct Controller {
    pub conversation: Conversation,
    /// The last failure, while it stands.
    pub notice: Option<Notice>,
    /// This tab's number, in what it saves.
    tab: u64,
    /// Lines show at once (`prefers-reduced-motion`).
    reduced_motion: bool,
    /// The host page's requests, waiting for the conversation to be free.
    waiting: Vec<Json>,
    /// Numbers the current timers were armed under; a timer of another number is stale.
    timers: u64,
    reveal: Option<u64>,
    /// The no-reply timeout of the last turn, until it is armed.
    no_reply: Option<f64>,
    no_reply_timer: Option<u64>,
    /// The revision of the saved copy this tab's conversation is.
    rev: u64,
    /// The revision of another tab's claim this tab waits on.
    claimed_elsewhere: Option<u64>,
    /// This tab's message whose request lost the race to another tab's: shown as failed, and
    /// saved once the other tab's claim is over.
    orphan: Option<(String, Option<Json>, crate::conversation::Stamp)>,
}

impl Controller {
    pub fn new(tab: u64, reduced_motion: bool) -> Controller {
        Controller {
            tab,
            reduced_motion,
            ..Controller::default()
        }
    }

    /// Whether the visitor may send now (nothing in flight here or in another tab, not over).
    pub fn can_act(&self) -> bool {
        !self.conversation.in_flight()
            && !self.conversation.ended
            && self.claimed_elsewhere.is_none()
    }

    /// Whether the typing indicator shows.
    pub fn typing(&self) -> bool {
        self.conversation.typing() || self.claimed_elsewhere.is_some()
    }

    /// The quick replies on offer, as they can be used now.
    pub fn offered(&self) -> (Vec<ButtonView>, bool) {
        (self.conversation.offered().to_vec(), self.can_act())
    }

    /// The conversation as saved now, `key` and `saved_at` given by the driver.
    pub fn saved(&self, key: String, saved_at: f64) -> Saved {
        Saved {
            rev: self.rev,
            tab: self.tab,
            busy: self.conversation.in_flight(),
            ..self.conversation.snapshot(key, saved_at)
        }
    }

    pub fn handle(&mut self, event: Event) -> Vec<Command> {
        let mut out = Vec::new();
        match event {
            Event::Mount(saved) => match saved {
                // A claim in the copy is not waited on here: most likely it is this tab's own
                // from before a reload (its message shows failed, for a retry); a live one of
                // another tab's is adopted with its answer.
                Some(saved) => {
                    self.rev = saved.rev;
                    self.conversation = Conversation::restore(saved);
                    out.push(Command::Render);
                }
                None => self.send(crate::host::launch(), None, &mut out),
            },
            Event::Text(text) => {
                let text = text.trim();
                if !text.is_empty() && self.can_act() {
                    let request = request("text", Some(Json::of_str(text)));
                    self.send(request, Some(text.to_owned()), &mut out);
                }
            }
            Event::Click(button) => {
                if self.can_act() {
                    self.send(button.request, Some(button.label), &mut out);
                }
            }
            Event::Retry => {
                if self.claimed_elsewhere.is_none()
                    && !self.conversation.ended
                    && let Some(pending) = self.conversation.retry()
                {
                    self.claim(pending, &mut out);
                }
            }
            Event::Answered { number, answer } => {
                if self.current(number) {
                    self.answered(answer, &mut out);
                }
            }
            Event::Session { number, key } => {
                if self.current(number) {
                    self.conversation.session = Some(key);
                    out.push(Command::Save);
                }
            }
            Event::Streamed { number, trace } => {
                if self.current(number) {
                    self.streamed(trace, &mut out);
                }
            }
            Event::StreamEnded { number } => {
                if self.current(number) {
                    self.conversation.stream_ended(self.conversation.generation);
                    self.rev += 1;
                    out.extend([Command::Save, Command::Render]);
                    self.arm_reveal(&mut out);
                    self.next_waiting(&mut out);
                }
            }
            Event::Failed { number, error } => {
                if self.current(number) {
                    // A no-reply a cut-off stream asked for waits for the retry's answer.
                    self.no_reply = None;
                    out.push(Command::Emit(HostEvent::Error(error.to_string())));
                    let generation = self.conversation.generation;
                    if error.fatal() {
                        self.conversation.refused(generation);
                    } else {
                        self.conversation.failed(generation);
                    }
                    self.notice = Some(Notice::of(&error));
                    self.rev += 1;
                    out.extend([Command::Save, Command::Render]);
                }
            }
            Event::Fired(timer) => self.fired(timer, &mut out),
            Event::Host(HostCommand::Interact(request)) => {
                self.waiting.push(request);
                self.next_waiting(&mut out);
            }
            Event::Host(HostCommand::Reset) => {
                self.conversation.reset();
                self.notice = None;
                self.no_reply = None;
                // Every timer armed so far is stale now.
                self.timers += 1;
                self.reveal = None;
                self.no_reply_timer = None;
                self.claimed_elsewhere = None;
                out.push(Command::Clear);
                self.send(crate::host::launch(), None, &mut out);
            }
            Event::Stored(saved) => self.stored(saved, &mut out),
        }
        out
    }

    /// Whether an answer is for the request in flight (not one from before a reset, or one
    /// this tab gave up when another tab's claim won).
    fn current(&self, number: u64) -> bool {
        self.conversation.in_flight()
            && self
                .conversation
                .pending
                .as_ref()
                .is_some_and(|p| p.number == number)
    }

    fn send(&mut self, request: Json, echo: Option<String>, out: &mut Vec<Command>) {
        if self.claimed_elsewhere.is_some() {
            return;
        }
        if let Some(text) = &echo {
            out.push(Command::Emit(HostEvent::Message(text.clone())));
        }
        if let Some(pending) = self.conversation.send(request, echo) {
            // Anything sent makes a waiting no-reply stale.
            self.no_reply = None;
            self.no_reply_timer = None;
            self.claim(pending, out);
        }
    }

    /// Sends `pending` under this tab's claim: saved first, so the other tabs wait.
    fn claim(&mut self, pending: Pending, out: &mut Vec<Command>) {
        self.rev += 1;
        self.notice = None;
        out.extend([Command::Save, Command::Send(pending), Command::Render]);
    }

    fn answered(&mut self, answer: Answer, out: &mut Vec<Command>) {
        for trace in &answer.traces {
            out.push(Command::Emit(HostEvent::Trace(trace.clone())));
        }
        self.notice = None;
        let generation = self.conversation.generation;
        let view = self.conversation.answered(answer, generation);
        self.no_reply = None;
        self.turn(view, out);
        self.rev += 1;
        out.extend([Command::Save, Command::Render]);
        self.arm_reveal(out);
        self.next_waiting(out);
    }

    /// A trace of a streamed answer: shown as it comes (saved once the answer is complete).
    fn streamed(&mut self, trace: Json, out: &mut Vec<Command>) {
        out.push(Command::Emit(HostEvent::Trace(trace.clone())));
        self.notice = None;
        let generation = self.conversation.generation;
        let view = self.conversation.streamed(&trace, generation);
        self.turn(view, out);
        out.push(Command::Render);
        self.arm_reveal(out);
    }

    /// What a turn (or a piece of one) asks besides its lines: effects, custom actions, the
    /// no-reply timeout.
    fn turn(&mut self, view: crate::turn_view::TurnView, out: &mut Vec<Command>) {
        if self.reduced_motion {
            self.conversation.reveal_all();
        }
        for (index, trace) in view.effects {
            out.push(Command::Effect(index, trace));
        }
        for action in view.actions {
            // The flow waits at the action: the page answers with `parley.chat.interact`.
            out.push(Command::Emit(HostEvent::Action(action)));
        }
        self.no_reply = view.no_reply_secs.or(self.no_reply);
    }

    /// Arms the next line's timer, or, the turn shown, the no-reply timer.
    fn arm_reveal(&mut self, out: &mut Vec<Command>) {
        if self.reveal.is_some() {
            return;
        }
        if let Some(delay) = self.conversation.next_reveal() {
            self.timers += 1;
            self.reveal = Some(self.timers);
            out.push(Command::Arm(Timer::Reveal(self.timers), delay));
        } else if !self.conversation.in_flight()
            && let Some(secs) = self.no_reply.take()
            && !self.conversation.ended
        {
            self.timers += 1;
            self.no_reply_timer = Some(self.timers);
            // At least a second: a runtime asking for 0 s would make a request loop.
            out.push(Command::Arm(
                Timer::NoReply(self.timers),
                secs.clamp(1.0, 86_400.0) * 1000.0,
            ));
        }
    }

    fn fired(&mut self, timer: Timer, out: &mut Vec<Command>) {
        match timer {
            Timer::Reveal(n) if self.reveal == Some(n) => {
                self.reveal = None;
                self.conversation.reveal_one();
                out.push(Command::Render);
                self.arm_reveal(out);
            }
            Timer::NoReply(n) if self.no_reply_timer == Some(n) => {
                self.no_reply_timer = None;
                if self.can_act() {
                    self.send(request("no-reply", None), None, out);
                }
            }
            Timer::Claim(rev) if self.claimed_elsewhere == Some(rev) => {
                self.claimed_elsewhere = None;
                out.push(Command::Render);
                self.next_waiting(out);
            }
            _ => {}
        }
    }

    /// Sends the host page's next request, when the conversation is free.
    fn next_waiting(&mut self, out: &mut Vec<Command>) {
        if self.conversation.in_flight() || self.claimed_elsewhere.is_some() {
            return;
        }
        if !self.waiting.is_empty() {
            let request = self.waiting.remove(0);
            self.send(request, None, out);
        }
    }

    /// The copy in storage, read when another tab saved (and before this tab acts).
    fn stored(&mut self, saved: Option<Saved>, out: &mut Vec<Command>) {
        let Some(saved) = saved else {
            return;
        };
        if saved.tab == self.tab || saved.rev < self.rev {
            // This tab's own write, or older than what it shows.
            return;
        }
        if saved.rev == self.rev && saved.busy == self.claimed_elsewhere.is_some() {
            // Nothing new (the same claim seen again).
            return;
        }
        // Another tab went on: its conversation is the one. A request of this tab's in flight
        // lost the race: its answer will be dropped, its message kept as failed.
        let lost = self.conversation.pending.take().and_then(|p| p.entry);
        if let Some(id) = lost {
            self.orphan = self.conversation.entries.iter().find_map(|e| match e {
                Entry::User {
                    id: i,
                    text,
                    request,
                    at,
                    ..
                } if *i == id => Some((text.clone(), request.clone(), *at)),
                _ => None,
            });
        }
        self.rev = saved.rev;
        self.conversation.adopt(saved.clone());
        // What the other tab revealed is said; this tab does not run its timers.
        self.reveal = None;
        self.no_reply = None;
        self.no_reply_timer = None;
        self.adopt_claim(Some(&saved), out);
        if self.claimed_elsewhere.is_some()
            && let Some(Entry::User { delivery, .. }) = self.conversation.entries.last_mut()
            && *delivery == Delivery::Failed
        {
            // The copy says failed (what a reload would show), but the other tab is sending it.
            *delivery = Delivery::Sending;
        }
        if let Some((text, request, at)) = self.orphan.clone() {
            self.conversation.add_failed(text, request, at);
            if self.claimed_elsewhere.is_none() {
                // Into the shared copy, under a revision of its own, for every tab to show.
                self.orphan = None;
                self.rev += 1;
                out.push(Command::Save);
            }
        }
        out.push(Command::Render);
        self.next_waiting(out);
    }

    /// Waits on another tab's claim in `saved`, if it has one.
    fn adopt_claim(&mut self, saved: Option<&Saved>, out: &mut Vec<Command>) {
        self.claimed_elsewhere = None;
        if let Some(saved) = saved.filter(|s| s.busy && s.tab != self.tab) {
            self.claimed_elsewhere = Some(saved.rev);
            out.push(Command::Arm(Timer::Claim(saved.rev), CLAIM_MS));
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
