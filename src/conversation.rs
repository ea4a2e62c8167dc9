//! The conversation as the window shows it: what was said, by whom, whether the user's last
//! message got through, the quick replies on offer, and the state to send next. Plain Rust:
//! the components render it, the client feeds it.

use crate::client::Answer;
use crate::json::{Build, Json, Read, request, request_type};
use crate::turn_view::{Bubble, ButtonView, TurnView, read_turn};

/// Whether a user's message reached the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sending,
    Sent,
    /// It can be sent again (`retry`).
    Failed,
    /// Refused for good: the conversation cannot go on (a new chat is the way out).
    Refused,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Bot {
        id: u64,
        bubble: Bubble,
        /// The trace it shows (what a saved transcript keeps, and re-reads on restore).
        trace: Json,
        /// When it came ([`Conversation::stamp`]).
        at: Stamp,
    },
    User {
        id: u64,
        text: String,
        delivery: Delivery,
        /// The request it sent (a button's, not always its text): what a retry sends again,
        /// and what a failed message keeps across a reload.
        request: Option<Json>,
        /// When it was sent ([`Conversation::stamp`]).
        at: Stamp,
    },
}

/// When a line came, in milliseconds since the epoch; 0 until the driver, which holds the
/// clock, stamps it (this module has none). Saved with the line: a restored transcript shows
/// each line's own time, not the reload's.
pub type Stamp = f64;

/// `t` if it is a time a browser's `Date` can hold (after the epoch, at most 8.64e15 ms: a
/// larger one makes `toISOString` throw).
pub fn valid_time(t: f64) -> Option<Stamp> {
    (t > 0.0 && t <= 8.64e15).then_some(t)
}

impl Entry {
    pub fn id(&self) -> u64 {
        match self {
            Entry::Bot { id, .. } | Entry::User { id, .. } => *id,
        }
    }

    /// When it came; 0 if not stamped yet.
    pub fn at(&self) -> Stamp {
        match self {
            Entry::Bot { at, .. } | Entry::User { at, .. } => *at,
        }
    }
}

/// Whether two lines say the same (their ids and deliveries aside).
fn same_line(a: &Entry, b: &Entry) -> bool {
    match (a, b) {
        (Entry::Bot { trace: x, .. }, Entry::Bot { trace: y, .. }) => x == y,
        (Entry::User { text: x, .. }, Entry::User { text: y, .. }) => x == y,
        _ => false,
    }
}

/// A request on its way, kept so that a retry sends exactly the same thing.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The user's entry for it, when the request shows as a message.
    pub entry: Option<u64>,
    pub request: Json,
    /// The state it was sent with.
    pub state: Option<Json>,
    /// The conversation it belongs to: an answer for an earlier one (before a reset) is dropped.
    pub generation: u64,
    /// Its number: the stateful flavour sends it as `x-parley-request-id`, so a retry of a
    /// request the runtime did take is answered from its record instead of taken twice.
    pub number: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    pub entries: Vec<Entry>,
    pub choices: Vec<ButtonView>,
    pub ended: bool,
    /// The runtime's state, sent back unchanged with the next request.
    pub state: Option<Json>,
    /// The request in flight, or the one that failed (for the retry).
    pub pending: Option<Pending>,
    /// The typing delays (ms) of the newest bot lines not shown yet: the window reveals them
    /// one by one behind a typing indicator.
    pub unrevealed: std::collections::VecDeque<f64>,
    /// Bumped by each reset.
    pub generation: u64,
    /// The v4 session of a runtime that streams (the stateful flavour): the key its turns are
    /// sent with. A new chat starts a new one.
    pub session: Option<String>,
    /// The bot line an LLM's answer is filling (its `completion` traces) while it streams.
    pub live: Option<Live>,
    /// The lines the streamed answer in flight has brought so far.
    arrived: Vec<u64>,
    /// The lines of a cut-off stream whose request is being sent again: they give way to the
    /// retry's answer when it comes.
    cut: Vec<u64>,
    next_id: u64,
}

/// An LLM's answer arriving piece by piece: one line, made at its first words.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Live {
    /// The line, once there are words to show.
    pub id: Option<u64>,
    text: String,
    /// Pieces so far: the transcript redraws the line when it changes.
    pub pieces: u32,
}

/// The typing delay of a bot line whose trace gives none.
pub const DEFAULT_DELAY_MS: f64 = 600.0;
/// The longest typing delay honoured, whatever a trace asks.
pub const MAX_DELAY_MS: f64 = 5_000.0;

impl Conversation {
    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub fn in_flight(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| match p.entry {
            Some(id) => self.delivery(id) == Some(Delivery::Sending),
            None => true,
        })
    }

    fn delivery(&self, id: u64) -> Option<Delivery> {
        self.entries.iter().find_map(|e| match e {
            Entry::User {
                id: i, delivery, ..
            } if *i == id => Some(*delivery),
            _ => None,
        })
    }

    /// Starts sending a request; `None` while another is in flight (one user action, one
    /// request). `echo` is what shows as the user's message: the typed text, the clicked
    /// button's label, nothing for a launch or a no-reply.
    pub fn send(&mut self, request: Json, echo: Option<String>) -> Option<Pending> {
        if self.in_flight() {
            return None;
        }
        // The user acts: what is still typing shows at once, before their message.
        self.reveal_all();
        if request_type(&request) == "launch" {
            self.ended = false;
        }
        let entry = echo.map(|text| {
            let id = self.id();
            self.entries.push(Entry::User {
                id,
                text,
                delivery: Delivery::Sending,
                request: Some(request.clone()),
                at: 0.0,
            });
            id
        });
        // Quick replies go once used, or once the user types.
        self.choices.clear();
        // A new message: a cut-off answer before it stays as it is.
        self.arrived.clear();
        self.cut.clear();
        let pending = Pending {
            entry,
            request,
            state: self.state.clone(),
            generation: self.generation,
            number: self.id(),
        };
        self.pending = Some(pending.clone());
        Some(pending)
    }

    /// Sends the failed request again, with the state it had (safe: a stateless turn is
    /// deterministic, so a retry of a request that did arrive gives the same answer). After a
    /// reload the failed message's saved request is sent (its text only for data saved
    /// before requests were).
    pub fn retry(&mut self) -> Option<Pending> {
        if self.in_flight() {
            return None;
        }
        let pending = match self.pending.clone() {
            Some(pending) => pending,
            None => {
                let (id, request) = self.entries.iter().rev().find_map(|e| match e {
                    Entry::User {
                        id,
                        text,
                        delivery: Delivery::Failed,
                        request: saved,
                        ..
                    } => Some((
                        *id,
                        saved
                            .clone()
                            .unwrap_or_else(|| request("text", Some(Json::of_str(text)))),
                    )),
                    _ => None,
                })?;
                Pending {
                    entry: Some(id),
                    request,
                    state: self.state.clone(),
                    generation: self.generation,
                    number: self.id(),
                }
            }
        };
        if let Some(id) = pending.entry {
            self.set_delivery(id, Delivery::Sending);
        }
        self.cut = std::mem::take(&mut self.arrived);
        self.pending = Some(pending.clone());
        Some(pending)
    }

    /// The retry's answer begins: the lines its cut-off stream brought go (the runtime answers
    /// a turn it did take again, whole, from its record).
    fn drop_cut(&mut self) {
        if !self.cut.is_empty() {
            self.reveal_all();
            let cut = std::mem::take(&mut self.cut);
            self.entries.retain(|e| !cut.contains(&e.id()));
        }
    }

    fn set_delivery(&mut self, id: u64, to: Delivery) {
        for e in &mut self.entries {
            if let Entry::User {
                id: i, delivery, ..
            } = e
                && *i == id
            {
                *delivery = to;
            }
        }
    }

    /// The runtime answered: keep its state, show its turn.
    pub fn answered(&mut self, answer: Answer, generation: u64) -> TurnView {
        if generation != self.generation {
            // The answer to a conversation the user has since started over.
            return TurnView::default();
        }
        if let Some(Pending {
            entry: Some(id), ..
        }) = self.pending.take()
        {
            self.set_delivery(id, Delivery::Sent);
        }
        self.drop_cut();
        if answer.state.is_some() {
            self.state = answer.state;
        }
        let view = read_turn(&answer.traces);
        self.show(&view);
        self.choices = view.choices.clone();
        view
    }

    /// A trace of the streamed answer to the request in flight, as it arrived: shown after the
    /// lines still typing. `completion` traces fill one line: `start` begins it, each
    /// `content` adds its piece (the line appears with the first words), `end` closes it.
    pub fn streamed(&mut self, trace: &Json, generation: u64) -> TurnView {
        if generation != self.generation || !self.in_flight() {
            return TurnView::default();
        }
        self.drop_cut();
        if request_type(trace) != "completion" {
            let view = read_turn(std::slice::from_ref(trace));
            let from = self.entries.len();
            self.show(&view);
            let new = self.entries[from..].iter().map(Entry::id);
            self.arrived.extend(new);
            self.choices.extend(view.choices.iter().cloned());
            return view;
        }
        let field = |key| trace.field("payload")?.field(key)?.text();
        match field("state").as_deref() {
            Some("start") => self.live = Some(Live::default()),
            Some("content") => {
                let mut live = self.live.take().unwrap_or_default();
                live.text.push_str(&field("content").unwrap_or_default());
                live.pieces += 1;
                // The line is the text trace the pieces make: drawn, saved and restored as one.
                let message = Json::object(vec![("message", Json::of_str(&live.text))]);
                let mut whole = vec![("type", Json::of_str("text")), ("payload", message)];
                if let Some(time) = trace.field("time") {
                    whole.push(("time", time));
                }
                let whole = Json::object(whole);
                let bubble = read_turn(std::slice::from_ref(&whole))
                    .reveals
                    .pop()
                    .map(|r| r.bubble);
                match (live.id, bubble) {
                    (Some(id), Some(bubble)) => {
                        for e in &mut self.entries {
                            if let Entry::Bot {
                                id: i,
                                bubble: b,
                                trace: t,
                                ..
                            } = e
                                && *i == id
                            {
                                *b = bubble.clone();
                                *t = whole.clone();
                            }
                        }
                    }
                    (None, Some(bubble)) => {
                        let id = self.id();
                        // Behind the lines still typing, if any; at once otherwise.
                        if !self.unrevealed.is_empty() {
                            self.unrevealed.push_back(0.0);
                        }
                        self.entries.push(Entry::Bot {
                            id,
                            bubble,
                            trace: whole,
                            at: 0.0,
                        });
                        live.id = Some(id);
                        self.arrived.push(id);
                    }
                    _ => {}
                }
                self.live = Some(live);
            }
            Some("end") => self.live = None,
            _ => {}
        }
        TurnView::default()
    }

    /// The streamed answer is complete.
    pub fn stream_ended(&mut self, generation: u64) {
        if generation != self.generation {
            return;
        }
        if let Some(Pending {
            entry: Some(id), ..
        }) = self.pending.take()
        {
            self.set_delivery(id, Delivery::Sent);
        }
        self.live = None;
        self.arrived.clear();
    }

    /// The lines of a turn, queued to show one by one.
    fn show(&mut self, view: &TurnView) {
        for reveal in &view.reveals {
            self.unrevealed.push_back(
                reveal
                    .delay_ms
                    .unwrap_or(DEFAULT_DELAY_MS)
                    .clamp(0.0, MAX_DELAY_MS),
            );
            let id = self.id();
            self.entries.push(Entry::Bot {
                id,
                bubble: reveal.bubble.clone(),
                trace: reveal.trace.clone(),
                at: 0.0,
            });
        }
        self.ended |= view.ended;
    }

    /// The lines the window shows now: all but the unrevealed ones.
    pub fn shown(&self) -> &[Entry] {
        &self.entries[..self.entries.len() - self.unrevealed.len().min(self.entries.len())]
    }

    /// How long to wait before showing the next line, if one is waiting.
    pub fn next_reveal(&self) -> Option<f64> {
        self.unrevealed.front().copied()
    }

    /// Shows the next waiting line.
    pub fn reveal_one(&mut self) {
        self.unrevealed.pop_front();
    }

    /// Shows every waiting line at once (reduced motion, or the user acts before the end).
    pub fn reveal_all(&mut self) {
        self.unrevealed.clear();
    }

    /// Whether the typing indicator shows: a request in flight (but not while an answer's
    /// words are arriving), or lines still to reveal.
    pub fn typing(&self) -> bool {
        let filling = self.live.as_ref().is_some_and(|l| l.id.is_some());
        self.in_flight() && !filling || !self.unrevealed.is_empty()
    }

    /// Whether the input is closed: the conversation ended, and its last words are shown.
    pub fn closed(&self) -> bool {
        self.ended && self.unrevealed.is_empty()
    }

    /// The quick replies to offer: only once the turn is fully shown (a streamed one, to its
    /// end).
    pub fn offered(&self) -> &[ButtonView] {
        if self.unrevealed.is_empty() && !self.in_flight() {
            &self.choices
        } else {
            &[]
        }
    }

    /// The request failed: its message is marked, and kept with the request for a retry.
    pub fn failed(&mut self, generation: u64) {
        if generation != self.generation {
            return;
        }
        // What a cut-off stream said stays, as it arrived; what it offered or ended does not
        // stand (the message is to be sent again).
        self.live = None;
        self.choices.clear();
        self.ended = false;
        if let Some(Pending {
            entry: Some(id), ..
        }) = &self.pending
        {
            let id = *id;
            self.set_delivery(id, Delivery::Failed);
        } else {
            // A request without a message (launch, no-reply) has nothing to retry visibly.
            self.pending = None;
        }
    }

    /// A message of the user's that did not get through, at the end (another tab's request
    /// won the race to the runtime): shown failed, for a retry.
    pub fn add_failed(&mut self, text: String, request: Option<Json>, at: Stamp) {
        let id = self.id();
        self.entries.push(Entry::User {
            id,
            text,
            delivery: Delivery::Failed,
            request,
            at,
        });
    }

    /// The request was refused for good (its state forged or expired, the project gone, the
    /// key refused): its message is marked refused, nothing is kept for a retry, and the
    /// conversation is over (a new chat is the way out).
    pub fn refused(&mut self, generation: u64) {
        if generation != self.generation {
            return;
        }
        self.live = None;
        if let Some(Pending {
            entry: Some(id), ..
        }) = self.pending.take()
        {
            self.set_delivery(id, Delivery::Refused);
        }
        self.choices.clear();
        self.ended = true;
    }

    /// Stamps the lines that have no time yet with `now`: the driver calls it as it draws and
    /// saves, so a line's time is when it came (a paced line too: its answer's), and the same
    /// after a reload.
    pub fn stamp(&mut self, now: Stamp) {
        for entry in &mut self.entries {
            match entry {
                // A Voiceflow runtime stamps its traces (`time`, ms): that time, if it is one.
                Entry::Bot { at, trace, .. } if *at <= 0.0 => {
                    let stamped = trace.field("time").and_then(|t| t.number());
                    *at = stamped.and_then(valid_time).unwrap_or(now);
                }
                Entry::User { at, .. } if *at <= 0.0 => *at = now,
                _ => {}
            }
        }
    }

    /// What is worth keeping across a reload: the state and the transcript (a message still in
    /// flight is kept as failed, so the user can retry it after the reload).
    pub fn snapshot(&self, key: String, saved_at: f64) -> crate::persistence::Saved {
        let entries = self
            .entries
            .iter()
            .cloned()
            .map(|e| match e {
                Entry::User {
                    id,
                    text,
                    delivery: Delivery::Sending,
                    request,
                    at,
                } => Entry::User {
                    id,
                    text,
                    delivery: Delivery::Failed,
                    request,
                    at,
                },
                other => other,
            })
            .collect();
        crate::persistence::Saved {
            schema: crate::persistence::SCHEMA,
            key,
            saved_at,
            state: self.state.clone(),
            entries,
            choices: self.choices.clone(),
            ended: self.ended,
            session: self.session.clone(),
            // The controller's to set (the tabs' bookkeeping).
            rev: 0,
            tab: 0,
            busy: false,
        }
    }

    /// The conversation a snapshot describes.
    pub fn restore(saved: crate::persistence::Saved) -> Conversation {
        let next_id = saved.entries.iter().map(Entry::id).max().unwrap_or(0);
        Conversation {
            entries: saved.entries,
            choices: saved.choices,
            ended: saved.ended,
            state: saved.state,
            pending: None,
            unrevealed: Default::default(),
            generation: 0,
            session: saved.session,
            live: None,
            arrived: Vec::new(),
            cut: Vec::new(),
            next_id,
        }
    }

    /// Takes the conversation another tab saved. The lines this one shows alike keep their
    /// ids, the rest get new ones: the transcript then appends what is new instead of drawing
    /// everything again, and never mistakes another tab's line for one of its own.
    pub fn adopt(&mut self, saved: crate::persistence::Saved) {
        let mut next = self
            .next_id
            .max(saved.entries.iter().map(Entry::id).max().unwrap_or(0));
        let generation = self.generation + 1;
        let old = std::mem::replace(self, Conversation::restore(saved));
        let mut alike = true;
        for (i, entry) in self.entries.iter_mut().enumerate() {
            alike = alike && old.entries.get(i).is_some_and(|o| same_line(o, entry));
            let id = if alike {
                old.entries[i].id()
            } else {
                next += 1;
                next
            };
            match entry {
                Entry::Bot { id: e, .. } | Entry::User { id: e, .. } => *e = id,
            }
        }
        self.next_id = next;
        self.generation = generation;
    }

    /// A new chat: everything forgotten but the numbering (a request's number must not come
    /// again in this page: the stateful flavour would answer it from its record).
    pub fn reset(&mut self) {
        let (generation, next_id) = (self.generation + 1, self.next_id);
        *self = Conversation::default();
        self.generation = generation;
        self.next_id = next_id;
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    use serde_json::json;

    fn answer(traces: serde_json::Value) -> Answer {
        Answer {
            state: Some(json!({ "stack": [], "storage": {}, "variables": {}, "signature": "s1" })),
            traces: traces.as_array().unwrap().clone(),
        }
    }

    fn launch() -> Json {
        request("launch", None)
    }

    fn text(t: &str) -> (Json, Option<String>) {
        (request("text", Some(json!(t))), Some(t.to_owned()))
    }

    #[test]
    fn a_turn_round_trip() {
        let mut c = Conversation::default();
        let launch = c.send(launch(), None).unwrap();
        assert_eq!(launch.entry, None, "a launch shows no user message");
        assert!(c.in_flight());
        assert!(
            c.send(text("too soon").0, text("too soon").1).is_none(),
            "one request at a time"
        );
        c.answered(answer(json!([
            { "type": "text", "payload": { "message": "Hi" } },
            { "type": "choice", "payload": { "buttons": [{ "name": "Order", "request": { "type": "path-a-0", "payload": { "label": "Order" } } }] } }
        ])), 0);
        assert!(!c.in_flight());
        assert_eq!(c.choices.len(), 1);
        let click = c
            .send(
                c.choices[0].request.clone(),
                Some(c.choices[0].label.clone()),
            )
            .unwrap();
        assert_eq!(
            click.state.as_ref().unwrap()["signature"],
            "s1",
            "the state goes back as received"
        );
        assert!(c.choices.is_empty(), "quick replies go once used");
        assert!(
            matches!(&c.entries[1], Entry::User { text, delivery: Delivery::Sending, .. } if text == "Order")
        );
    }

    #[test]
    fn a_line_stamped_by_its_runtime_keeps_that_time() {
        let mut c = Conversation::default();
        c.send(launch(), None);
        c.answered(
            answer(json!([
                { "type": "text", "time": 1_700_000_000_000u64, "payload": { "message": "Stamped" } },
                { "type": "text", "time": 1e300, "payload": { "message": "No time a date holds" } },
                { "type": "text", "time": "noon", "payload": { "message": "Not a time" } }
            ])),
            0,
        );
        c.stamp(5.0);
        let times: Vec<_> = c.entries.iter().map(Entry::at).collect();
        assert_eq!(times, [1.7e12, 5.0, 5.0]);
    }

    #[test]
    fn a_turn_is_revealed_line_by_line() {
        let mut c = Conversation::default();
        c.send(launch(), None);
        assert!(c.typing(), "typing while the request is in flight");
        c.answered(answer(json!([
            { "type": "text", "payload": { "message": "One", "delay": 250 } },
            { "type": "text", "payload": { "message": "Two" } },
            { "type": "text", "payload": { "message": "Three", "delay": 99999 } },
            { "type": "choice", "payload": { "buttons": [{ "name": "Go", "request": { "type": "path-go" } }] } }
        ])), 0);
        assert_eq!(c.shown().len(), 0);
        assert!(c.typing() && c.offered().is_empty());
        // A line's time is its answer's (the driver stamps as it saves and draws), paced or
        // not, and it is stamped once.
        c.stamp(100.0);
        assert_eq!(c.next_reveal(), Some(250.0));
        c.reveal_one();
        assert_eq!(c.shown().len(), 1);
        c.stamp(200.0);
        let times: Vec<_> = c.entries.iter().map(Entry::at).collect();
        assert_eq!(times, [100.0; 3]);
        assert_eq!(c.next_reveal(), Some(DEFAULT_DELAY_MS));
        c.reveal_one();
        assert_eq!(c.next_reveal(), Some(MAX_DELAY_MS), "a delay is capped");
        c.reveal_one();
        assert_eq!(c.next_reveal(), None);
        assert!(!c.typing());
        assert_eq!(c.offered().len(), 1, "quick replies once all is shown");
        c.answered(
            answer(json!([
                { "type": "text", "payload": { "message": "Bye" } },
                { "type": "end" }
            ])),
            0,
        );
        assert!(
            c.ended && !c.closed(),
            "the input closes after the last words"
        );
        c.reveal_all();
        assert!(c.closed());
        c.ended = false;

        // The user typing before the end shows the rest first, then their message.
        c.answered(
            answer(json!([
                { "type": "text", "payload": { "message": "Four" } },
                { "type": "text", "payload": { "message": "Five" } }
            ])),
            0,
        );
        c.reveal_one();
        let (request, echo) = text("hi");
        c.send(request, echo);
        assert_eq!(c.shown().len(), 7);
        assert!(matches!(c.shown().last(), Some(Entry::User { text, .. }) if text == "hi"));
    }

    #[test]
    fn a_failed_send_keeps_the_text_and_retries_the_same_request() {
        let mut c = Conversation::default();
        c.send(launch(), None);
        c.answered(
            answer(json!([{ "type": "text", "payload": { "message": "Hi" } }])),
            0,
        );
        let (request, echo) = text("a large pizza");
        let sent = c.send(request, echo).unwrap();
        c.failed(0);
        assert!(
            matches!(&c.entries[1], Entry::User { text, delivery: Delivery::Failed, .. } if text == "a large pizza")
        );
        assert!(!c.in_flight());
        let again = c.retry().unwrap();
        assert_eq!(again, sent, "the very same request and state");
        assert!(c.retry().is_none(), "not while the retry is in flight");
        c.answered(answer(json!([{ "type": "end" }])), 0);
        assert!(c.ended);
        assert!(matches!(
            &c.entries[1],
            Entry::User {
                delivery: Delivery::Sent,
                ..
            }
        ));
        // Each line shown is stamped once, and the stamps come back after a reload.
        c.stamp(5.0);
        c.stamp(9.0);
        assert!(c.entries.iter().all(|e| e.at() == 5.0));
        let restored = Conversation::restore(c.snapshot("k".into(), 1.0));
        assert_eq!(
            (&restored.entries, &restored.state, restored.ended),
            (&c.entries, &c.state, c.ended)
        );
        // A message that failed before a reload is sent again as the text it shows.
        let mut c2 = Conversation::default();
        c2.send(launch(), None);
        c2.answered(
            answer(json!([{ "type": "text", "payload": { "message": "Hi" } }])),
            0,
        );
        let (request, echo) = text("veggie");
        c2.send(request.clone(), echo);
        c2.failed(0);
        let mut reloaded = Conversation::restore(c2.snapshot("k".into(), 2.0));
        let again = reloaded.retry().unwrap();
        assert_eq!(again.request, request);
        assert_eq!(again.state, c2.state);
        assert!(reloaded.in_flight());
        c.reset();
        assert_eq!(c.entries, []);
        assert_eq!(c.state, None);
        // An answer to the conversation before the reset is dropped.
        let old = c.generation - 1;
        c.send(launch(), None);
        c.answered(
            answer(json!([{ "type": "text", "payload": { "message": "Old" } }])),
            old,
        );
        assert!(
            c.entries.is_empty() && c.in_flight(),
            "the old answer changed nothing"
        );
    }
}
