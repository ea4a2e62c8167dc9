//! The controller as data: a script of events in, the commands out.

use serde_json::{Value, json};

use super::*;
use crate::conversation::Delivery;

const TAB: u64 = 7;

fn answer(traces: Value) -> Answer {
    Answer {
        state: Some(json!({ "stack": [], "storage": {}, "variables": {}, "signature": "s1" })),
        traces: traces.as_array().unwrap().clone(),
    }
}

fn text(message: &str) -> Value {
    json!({ "type": "text", "payload": { "message": message } })
}

/// The requests sent, in order.
fn sent(commands: &[Command]) -> Vec<Pending> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Send(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

fn armed(commands: &[Command]) -> Vec<(Timer, f64)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Arm(t, ms) => Some((*t, *ms)),
            _ => None,
        })
        .collect()
}

fn emitted(commands: &[Command]) -> Vec<HostEvent> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Emit(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// A controller that launched and got `traces` back (with reduced motion: no reveal timers).
fn launched(traces: Value) -> (Controller, Vec<Command>) {
    crate::host::set(crate::host::Host::default());
    let mut c = Controller::new(TAB, true);
    let out = c.handle(Event::Mount(None));
    let launch = sent(&out).pop().expect("a launch");
    assert_eq!(launch.request, json!({ "type": "launch" }));
    let out = c.handle(Event::Answered {
        number: launch.number,
        answer: answer(traces),
    });
    (c, out)
}

/// What a transcript says, line by line (ids are each tab's own).
fn lines(c: &Controller) -> Vec<String> {
    c.conversation
        .entries
        .iter()
        .map(|e| match e {
            Entry::User { text, delivery, .. } => format!("user {text} {delivery:?}"),
            Entry::Bot { trace, .. } => format!("bot {trace}"),
        })
        .collect()
}

fn refused(status: u16, code: &str) -> ClientError {
    ClientError::Refused {
        status,
        code: code.to_owned(),
        message: "details for developers".to_owned(),
    }
}

#[test]
fn a_launch_sends_once_saves_and_renders_and_a_turn_reveals_line_by_line() {
    crate::host::set(crate::host::Host::default());
    let mut c = Controller::new(TAB, false);
    let out = c.handle(Event::Mount(None));
    assert_eq!(sent(&out).len(), 1);
    assert!(
        out.contains(&Command::Save),
        "the claim is saved before the send"
    );
    assert!(c.typing() && !c.can_act());
    assert!(
        c.saved("k".into(), 1.0).busy,
        "the copy says a request is in flight"
    );
    let number = sent(&out)[0].number;
    let out = c.handle(Event::Answered {
        number,
        answer: answer(json!([
            { "type": "text", "payload": { "message": "One", "delay": 250 } },
            text("Two"),
            { "type": "choice", "payload": { "buttons": [{ "name": "Go", "request": { "type": "path-go" } }] } },
            { "type": "no-reply", "payload": { "timeout": 30 } }
        ])),
    });
    assert_eq!(
        emitted(&out).len(),
        4,
        "every trace goes to the page as parley:trace"
    );
    assert!(out.contains(&Command::Save) && out.contains(&Command::Render));
    let timers = armed(&out);
    assert_eq!(timers.len(), 1, "one line at a time: {timers:?}");
    let (Timer::Reveal(first), 250.0) = timers[0] else {
        panic!("{timers:?}")
    };
    assert_eq!(c.conversation.shown().len(), 0);
    assert!(
        c.offered().0.is_empty(),
        "no quick replies before the turn is shown"
    );
    let out = c.handle(Event::Fired(Timer::Reveal(first)));
    assert_eq!(c.conversation.shown().len(), 1);
    assert!(
        !out.contains(&Command::Save),
        "a revealed line changes nothing saved"
    );
    let [(Timer::Reveal(second), 600.0)] = armed(&out)[..] else {
        panic!("{out:?}")
    };
    // A stale timer (the first, again) does nothing.
    assert!(c.handle(Event::Fired(Timer::Reveal(first))).is_empty());
    let out = c.handle(Event::Fired(Timer::Reveal(second)));
    assert_eq!(c.conversation.shown().len(), 2);
    let [(Timer::NoReply(silence), 30_000.0)] = armed(&out)[..] else {
        panic!("the turn shown, the no-reply timer: {out:?}")
    };
    assert_eq!(c.offered(), (c.conversation.choices.clone(), true));
    let out = c.handle(Event::Fired(Timer::NoReply(silence)));
    assert_eq!(sent(&out)[0].request, json!({ "type": "no-reply" }));
    assert_eq!(sent(&out)[0].entry, None, "a no-reply shows no message");
}

#[test]
fn sending_anything_makes_the_no_reply_timer_stale() {
    let (mut c, out) = launched(json!([
        text("Hi"),
        { "type": "no-reply", "payload": { "timeout": 0 } }
    ]));
    let [(Timer::NoReply(n), ms)] = armed(&out)[..] else {
        panic!("{out:?}")
    };
    assert_eq!(ms, 1000.0, "at least a second, never a request loop");
    let out = c.handle(Event::Text("  a large pizza  ".into()));
    assert_eq!(emitted(&out), [HostEvent::Message("a large pizza".into())]);
    assert_eq!(
        sent(&out)[0].request,
        json!({ "type": "text", "payload": "a large pizza" })
    );
    let number = sent(&out)[0].number;
    c.handle(Event::Answered {
        number,
        answer: answer(json!([text("Which one?")])),
    });
    assert!(
        sent(&c.handle(Event::Fired(Timer::NoReply(n)))).is_empty(),
        "the old silence sends nothing"
    );
    assert!(
        sent(&c.handle(Event::Text("   ".into()))).is_empty(),
        "blank text sends nothing"
    );
}

#[test]
fn one_request_at_a_time_and_host_requests_wait_their_turn() {
    crate::host::set(crate::host::Host::default());
    let mut c = Controller::new(TAB, true);
    let launch = sent(&c.handle(Event::Mount(None)))[0].clone();
    assert!(
        sent(&c.handle(Event::Text("too soon".into()))).is_empty(),
        "not while one is in flight"
    );
    let action = json!({ "type": "done", "payload": { "ok": true } });
    let out = c.handle(Event::Host(HostCommand::Interact(action.clone())));
    assert!(sent(&out).is_empty(), "the page's request waits");
    let out = c.handle(Event::Answered {
        number: launch.number,
        answer: answer(json!([
            text("Pick a date"),
            { "type": "calendar", "payload": { "month": 5 }, "paths": [{ "event": { "type": "done" } }], "defaultPath": 0 }
        ])),
    });
    let events = emitted(&out);
    assert!(
        matches!(events.last(), Some(HostEvent::Action(a)) if a.kind == "calendar" && a.paths == ["done"]),
        "{events:?}"
    );
    let next = sent(&out);
    assert_eq!(next.len(), 1, "then the page's request goes");
    assert_eq!(next[0].request, action);
    assert_eq!(
        next[0].state.as_ref().unwrap()["signature"],
        "s1",
        "with the state received"
    );
}

#[test]
fn a_click_sends_its_request_and_a_failed_click_is_retried_as_its_request_after_a_reload() {
    let (mut c, _) = launched(json!([
        text("Hi"),
        { "type": "choice", "payload": { "buttons": [{ "name": "Order", "request": { "type": "path-a-0", "payload": { "label": "Order" } } }] } }
    ]));
    let button = c.offered().0[0].clone();
    let out = c.handle(Event::Click(button.clone()));
    assert_eq!(emitted(&out), [HostEvent::Message("Order".into())]);
    let click = sent(&out)[0].clone();
    assert_eq!(click.request, button.request);
    assert!(c.offered().0.is_empty(), "quick replies go once used");
    let out = c.handle(Event::Failed {
        number: click.number,
        error: ClientError::Unreachable("offline".into()),
    });
    assert!(
        matches!(&emitted(&out)[..], [HostEvent::Error(m)] if m.contains("offline")),
        "the details go to the page"
    );
    assert_eq!(c.notice, Some(Notice::Unreachable));
    assert!(out.contains(&Command::Save));
    // A reload: the saved copy, restored in a new page.
    let saved = crate::persistence::decode(
        &crate::persistence::encode(&c.saved("k".into(), 5.0), usize::MAX).unwrap(),
        "k",
        6.0,
        10.0,
    )
    .unwrap();
    let mut reloaded = Controller::new(TAB + 1, true);
    let out = reloaded.handle(Event::Mount(Some(saved)));
    assert!(
        sent(&out).is_empty(),
        "a restored conversation is not launched again"
    );
    let retry = sent(&reloaded.handle(Event::Retry))[0].clone();
    assert_eq!(
        retry.request, button.request,
        "the button's request, not its label as text"
    );
    assert_eq!(retry.state, click.state, "with the state it had");
    reloaded.handle(Event::Answered {
        number: retry.number,
        answer: answer(json!([text("Which size?")])),
    });
    assert!(matches!(
        &reloaded.conversation.entries[1],
        Entry::User { text, delivery: Delivery::Sent, .. } if text == "Order"
    ));
    assert_eq!(reloaded.notice, None);
}

#[test]
fn a_conversation_that_cannot_go_on_offers_a_new_chat_not_a_retry() {
    for (status, code) in [
        (409, "state_forged"),
        (409, "state_unsigned"),
        (409, "state_expired"),
        (410, "state_expired"),
        (404, "project_not_found"),
        (404, "version_not_found"),
        (401, "unauthorized"),
        (403, "forbidden"),
    ] {
        let (mut c, _) = launched(json!([text("Hi")]));
        let number = sent(&c.handle(Event::Text("hello".into())))[0].number;
        let out = c.handle(Event::Failed {
            number,
            error: refused(status, code),
        });
        assert!(
            matches!(&emitted(&out)[..], [HostEvent::Error(m)] if m.contains(code) && m.contains("details for developers")),
            "{code}: the developer's words go to the console and parley:error"
        );
        assert_eq!(c.notice, Some(Notice::CannotContinue), "{status} {code}");
        assert!(
            c.conversation.closed() && !c.can_act(),
            "{code}: the composer closes"
        );
        assert!(
            sent(&c.handle(Event::Retry)).is_empty(),
            "{code}: nothing to retry"
        );
        assert!(matches!(
            c.conversation.entries.last(),
            Some(Entry::User {
                delivery: Delivery::Refused,
                ..
            })
        ));
        let out = c.handle(Event::Host(HostCommand::Reset));
        assert_eq!(
            out.first(),
            Some(&Command::Clear),
            "a new chat forgets the old one"
        );
        assert_eq!(sent(&out)[0].request, json!({ "type": "launch" }));
        assert_eq!(sent(&out)[0].state, None, "and starts without a state");
        assert_eq!(c.notice, None);
    }
    // Worth a retry: a conflict between servers, a 5xx, too many requests, a garbled answer.
    for error in [
        refused(409, "state_conflict"),
        refused(500, "internal"),
        refused(429, "rate_limited"),
        ClientError::Malformed("not JSON".into()),
    ] {
        let (mut c, _) = launched(json!([text("Hi")]));
        let number = sent(&c.handle(Event::Text("hello".into())))[0].number;
        c.handle(Event::Failed {
            number,
            error: error.clone(),
        });
        assert_eq!(c.notice, Some(Notice::Failed), "{error}");
        assert!(!c.conversation.closed());
        assert_eq!(sent(&c.handle(Event::Retry)).len(), 1, "{error}");
    }
}

#[test]
fn an_answer_after_a_reset_is_dropped() {
    crate::host::set(crate::host::Host::default());
    let mut c = Controller::new(TAB, true);
    let old = sent(&c.handle(Event::Mount(None)))[0].clone();
    let fresh = sent(&c.handle(Event::Host(HostCommand::Reset)))[0].clone();
    assert_ne!(old.number, fresh.number);
    let out = c.handle(Event::Answered {
        number: old.number,
        answer: answer(json!([text("Old")])),
    });
    assert!(
        out.is_empty() && c.conversation.entries.is_empty(),
        "the old answer changed nothing"
    );
    c.handle(Event::Answered {
        number: fresh.number,
        answer: answer(json!([text("New")])),
    });
    assert_eq!(c.conversation.shown().len(), 1);
}

#[test]
fn effect_extensions_run_when_the_answer_arrives() {
    crate::host::with_extensions(vec![("tracker", true, |t| t["type"] == "track")]);
    let mut c = Controller::new(TAB, true);
    let launch = sent(&c.handle(Event::Mount(None)))[0].clone();
    let out = c.handle(Event::Answered {
        number: launch.number,
        answer: answer(json!([{ "type": "track", "payload": { "page": 2 } }, text("Hi")])),
    });
    assert!(out.contains(&Command::Effect(
        0,
        json!({ "type": "track", "payload": { "page": 2 } })
    )));
    crate::host::set(crate::host::Host::default());
}

#[test]
fn a_turn_of_another_tab_shows_here_and_its_claim_holds_this_tab() {
    let (mut a, _) = launched(json!([text("Hi")]));
    // Tab B opens the same conversation (the copy A saved).
    let mut b = Controller::new(TAB + 1, true);
    b.handle(Event::Mount(Some(a.saved("k".into(), 1.0))));
    assert_eq!(b.conversation.shown().len(), 1);
    // A sends: its claim reaches B, which waits.
    let number = sent(&a.handle(Event::Text("a large pizza".into())))[0].number;
    let out = b.handle(Event::Stored(Some(a.saved("k".into(), 2.0))));
    assert!(out.contains(&Command::Render));
    assert!(
        !b.can_act() && b.typing(),
        "B waits while A's request is in flight"
    );
    let [(Timer::Claim(rev), CLAIM_MS)] = armed(&out)[..] else {
        panic!("{out:?}")
    };
    assert!(sent(&b.handle(Event::Text("me too".into()))).is_empty());
    // A's answer: B shows A's message and the bot's reply, and may act again.
    a.handle(Event::Answered {
        number,
        answer: answer(json!([text("Which one?")])),
    });
    b.handle(Event::Stored(Some(a.saved("k".into(), 3.0))));
    assert_eq!(lines(&b), lines(&a));
    assert_eq!(b.conversation.state, a.conversation.state);
    assert!(b.can_act());
    assert!(
        b.handle(Event::Fired(Timer::Claim(rev))).is_empty(),
        "the claim timer is stale"
    );
    // B goes on from A's state: one conversation.
    let next = sent(&b.handle(Event::Text("margherita".into())))[0].clone();
    assert_eq!(next.state, a.conversation.state);
    // The same copy seen again changes nothing; its own write is not news.
    let copy = b.saved("k".into(), 4.0);
    assert!(b.handle(Event::Stored(Some(copy))).is_empty());
}

#[test]
fn two_tabs_sending_at_once_never_fork_the_state() {
    let (mut a, _) = launched(json!([text("Hi")]));
    let mut b = Controller::new(TAB + 1, true);
    b.handle(Event::Mount(Some(a.saved("k".into(), 1.0))));
    // Both send before either hears of the other: both claim the same revision.
    let from_a = sent(&a.handle(Event::Text("pepperoni".into())))[0].clone();
    let from_b = sent(&b.handle(Event::Text("veggie".into())))[0].clone();
    assert_eq!(from_a.state, from_b.state);
    // Storage keeps the last write, B's: A finds B's claim there (B finds its own).
    let stored = b.saved("k".into(), 2.0);
    assert!(b.handle(Event::Stored(Some(stored.clone()))).is_empty());
    let ids = |c: &Controller| {
        c.conversation
            .entries
            .iter()
            .map(Entry::id)
            .collect::<Vec<_>>()
    };
    let before = ids(&a);
    a.handle(Event::Stored(Some(stored)));
    assert!(!a.can_act(), "A waits on B's claim");
    let after = ids(&a);
    assert_eq!(
        after[0], before[0],
        "a line alike keeps its id (the transcript appends)"
    );
    assert!(
        !before.contains(&after[1]),
        "B's message is not mistaken for A's: {before:?} {after:?}"
    );
    // A's answer arrives: dropped, it lost.
    let out = a.handle(Event::Answered {
        number: from_a.number,
        answer: answer(json!([text("A pepperoni")])),
    });
    assert!(out.is_empty(), "the losing answer is dropped: {out:?}");
    // B's answer is the conversation's; A adopts it and keeps its message as failed.
    b.handle(Event::Answered {
        number: from_b.number,
        answer: answer(json!([text("A veggie")])),
    });
    let out = a.handle(Event::Stored(Some(b.saved("k".into(), 3.0))));
    assert_eq!(a.conversation.state, b.conversation.state, "one state");
    assert!(
        out.contains(&Command::Save),
        "A's failed message goes into the shared copy"
    );
    assert!(matches!(
        a.conversation.entries.last(),
        Some(Entry::User { text, delivery: Delivery::Failed, .. }) if text == "pepperoni"
    ));
    b.handle(Event::Stored(Some(a.saved("k".into(), 4.0))));
    assert_eq!(lines(&b), lines(&a), "both tabs show the failed message");
    // Its retry goes from the one state.
    let retry = sent(&a.handle(Event::Retry))[0].clone();
    assert_eq!(retry.state, b.conversation.state);
    assert_eq!(retry.request, from_a.request);
}

#[test]
fn a_claim_of_a_closed_tab_is_given_up() {
    let (mut a, _) = launched(json!([text("Hi")]));
    a.handle(Event::Text("hello".into()));
    let mut b = Controller::new(TAB + 1, true);
    b.handle(Event::Mount(Some(a.saved("k".into(), 1.0))));
    let out = b.handle(Event::Stored(Some(a.saved("k".into(), 1.0))));
    let [(timer, _)] = armed(&out)[..] else {
        panic!("{out:?}")
    };
    assert!(!b.can_act());
    b.handle(Event::Fired(timer));
    assert!(b.can_act(), "A never answered: B goes on");
}

fn completion(state: &str, content: Option<&str>) -> Value {
    let mut payload = json!({ "state": state });
    if let Some(content) = content {
        payload["content"] = json!(content);
    }
    json!({ "type": "completion", "payload": payload, "time": 1_725_899_197_143_u64 })
}

fn saves(commands: &[Command]) -> usize {
    commands.iter().filter(|c| **c == Command::Save).count()
}

/// A streamed turn: the session started and kept, each trace shown as it arrives (the typing
/// indicator until the first words), an LLM's pieces filling one line, one save at the end.
#[test]
fn a_streamed_turn_fills_one_line_and_saves_once_at_its_end() {
    let (mut c, _) = launched(json!([text("Welcome")]));
    let out = c.handle(Event::Text("what are your hours?".into()));
    let asked = sent(&out).pop().expect("the question is sent");
    let number = asked.number;
    let out = c.handle(Event::Session {
        number,
        key: "session-1".into(),
    });
    assert_eq!(out, [Command::Save], "the session key is kept at once");
    assert_eq!(c.conversation.session.as_deref(), Some("session-1"));
    let before = c.conversation.entries.len();
    let mut all = Vec::new();
    all.extend(c.handle(Event::Streamed {
        number,
        trace: text("Let me check."),
    }));
    assert_eq!(
        c.conversation.entries.len(),
        before + 1,
        "a text shows at once"
    );
    assert!(c.typing(), "still typing: the turn goes on");
    all.extend(c.handle(Event::Streamed {
        number,
        trace: completion("start", None),
    }));
    assert_eq!(
        c.conversation.entries.len(),
        before + 1,
        "no empty line at the start"
    );
    assert!(c.typing(), "the indicator shows until the first words");
    for piece in ["We open at ", "**11:00**", " every day."] {
        all.extend(c.handle(Event::Streamed {
            number,
            trace: completion("content", Some(piece)),
        }));
        assert!(!c.typing(), "the words themselves show the answer coming");
    }
    let live = c.conversation.live.clone().expect("a line is filling");
    assert_eq!(live.pieces, 3);
    assert_eq!(
        lines(&c).last().unwrap(),
        &format!(
            "bot {}",
            json!({ "type": "text", "payload": { "message": "We open at **11:00** every day." }, "time": 1_725_899_197_143_u64 })
        ),
        "one line holds the whole answer, as a text trace"
    );
    assert!(matches!(
        c.conversation.entries.last(),
        Some(Entry::Bot { id, .. }) if Some(*id) == live.id
    ));
    all.extend(c.handle(Event::Streamed {
        number,
        trace: completion("end", None),
    }));
    all.extend(c.handle(Event::Streamed {
        number,
        trace: json!({ "type": "choice", "payload": { "buttons": [{ "name": "Order", "request": { "type": "order" } }] } }),
    }));
    assert_eq!(
        c.conversation.entries.len(),
        before + 2,
        "the end adds no line"
    );
    assert_eq!(saves(&all), 0, "nothing is saved piece by piece");
    let traces = emitted(&all)
        .into_iter()
        .filter(|e| matches!(e, HostEvent::Trace(_)))
        .count();
    assert_eq!(traces, 7, "the page hears every trace");
    assert!(
        c.offered().0.is_empty(),
        "quick replies wait for the end of the turn"
    );
    let out = c.handle(Event::StreamEnded { number });
    assert_eq!(saves(&out), 1, "saved once, whole");
    assert!(!c.conversation.in_flight() && !c.typing());
    assert_eq!(c.conversation.live, None);
    assert_eq!(c.offered().0.len(), 1);
    assert!(matches!(
        &c.conversation.entries[before - 1],
        Entry::User {
            delivery: Delivery::Sent,
            ..
        }
    ));
    let saved = c.saved("k".into(), 0.0);
    assert_eq!(saved.session.as_deref(), Some("session-1"));
    // A new chat forgets the session: the next turn starts one.
    c.handle(Event::Host(HostCommand::Reset));
    assert_eq!(c.conversation.session, None);
}

/// A stream cut off mid-answer keeps what arrived and offers a retry; the retry sends the same
/// request (the runtime answers a turn it did take from its record), and the lines of the cut
/// answer give way to the whole one.
#[test]
fn a_stream_cut_off_keeps_what_arrived_and_its_retry_replaces_it() {
    let (mut c, _) = launched(json!([text("Welcome")]));
    let asked = sent(&c.handle(Event::Text("tell me a story".into())))
        .pop()
        .unwrap();
    let number = asked.number;
    for trace in [
        text("Once upon a time"),
        completion("start", None),
        completion("content", Some("there was a pizza")),
    ] {
        c.handle(Event::Streamed { number, trace });
    }
    let out = c.handle(Event::Failed {
        number,
        error: ClientError::Unreachable("the answer was cut off before its end".into()),
    });
    assert_eq!(saves(&out), 1);
    assert_eq!(c.notice, Some(Notice::Unreachable));
    assert_eq!(
        c.conversation.live, None,
        "the line is complete as it stands"
    );
    let said = lines(&c);
    assert_eq!(said.len(), 4, "{said:?}");
    assert!(said[1].starts_with("user tell me a story Failed"));
    assert!(said[3].contains("there was a pizza"), "{said:?}");
    let out = c.handle(Event::Retry);
    let again = sent(&out).pop().expect("the retry is sent");
    assert_eq!(
        (again.number, &again.request),
        (number, &asked.request),
        "the same request, under the same number"
    );
    assert_eq!(
        lines(&c).len(),
        4,
        "what arrived stays until the retry's answer comes"
    );
    for trace in [
        text("Once upon a time"),
        completion("start", None),
        completion("content", Some("there was a pizza.")),
        completion("end", None),
    ] {
        c.handle(Event::Streamed { number, trace });
    }
    c.handle(Event::StreamEnded { number });
    let said = lines(&c);
    assert_eq!(said.len(), 4, "{said:?}");
    assert!(said[1].starts_with("user tell me a story Sent"));
}

/// No-reply waits for the end of a streamed turn; a late frame of an abandoned request does
/// nothing.
#[test]
fn a_streamed_turn_arms_no_reply_only_at_its_end_and_stale_frames_are_dropped() {
    let (mut c, _) = launched(json!([text("Welcome")]));
    let number = sent(&c.handle(Event::Text("hi".into())))
        .pop()
        .unwrap()
        .number;
    let out = c.handle(Event::Streamed {
        number,
        trace: json!({ "type": "no-reply", "payload": { "timeout": 30 } }),
    });
    assert!(armed(&out).is_empty(), "not while the answer streams");
    let out = c.handle(Event::StreamEnded { number });
    assert!(matches!(armed(&out)[..], [(Timer::NoReply(_), ms)] if ms == 30_000.0));
    let before = lines(&c);
    let out = c.handle(Event::Streamed {
        number,
        trace: text("late"),
    });
    assert!(out.is_empty() && lines(&c) == before, "the turn is over");
    assert!(c.handle(Event::StreamEnded { number }).is_empty());
}

/// What a cut-off stream offered or ended does not stand: no quick replies, the composer open,
/// no no-reply; and a retry of it after a later message leaves the later answers alone.
#[test]
fn a_cut_off_streams_buttons_end_and_no_reply_do_not_stand_and_later_answers_stay() {
    let (mut c, _) = launched(json!([text("Welcome")]));
    let number = sent(&c.handle(Event::Text("one".into())))
        .pop()
        .unwrap()
        .number;
    for trace in [
        text("answer one"),
        json!({ "type": "choice", "payload": { "buttons": [{ "name": "Yes", "request": { "type": "yes" } }] } }),
        json!({ "type": "no-reply", "payload": { "timeout": 5 } }),
        json!({ "type": "end" }),
    ] {
        c.handle(Event::Streamed { number, trace });
    }
    let out = c.handle(Event::Failed {
        number,
        error: ClientError::Unreachable("the answer was cut off before its end".into()),
    });
    assert!(armed(&out).is_empty(), "no no-reply for a failed message");
    assert!(
        c.offered().0.is_empty(),
        "the cut answer's buttons are gone"
    );
    assert!(!c.conversation.closed(), "the composer stays open");
    assert!(c.can_act());
    // Another message instead of the retry: answered; then the retry of the first.
    let two = sent(&c.handle(Event::Text("two".into())))
        .pop()
        .unwrap()
        .number;
    c.handle(Event::Streamed {
        number: two,
        trace: text("answer two"),
    });
    c.handle(Event::StreamEnded { number: two });
    let again = sent(&c.handle(Event::Retry)).pop().expect("the retry");
    c.handle(Event::Streamed {
        number: again.number,
        trace: text("answer one, again"),
    });
    c.handle(Event::StreamEnded {
        number: again.number,
    });
    let said = lines(&c);
    assert!(
        said.iter().any(|l| l.contains("answer two")),
        "a later answer stays: {said:?}"
    );
    assert!(
        said.iter().any(|l| l.contains("\"answer one\"")),
        "the first cut answer stays too (the retry came after another message): {said:?}"
    );
    assert!(said.last().unwrap().contains("answer one, again"));
    assert_eq!(c.conversation.shown().len(), said.len(), "all shown");
}
