use parley_protocol::{
    Button, ChoicePayload, IntentName, IntentPayload, Object, Request, RequestKind, Trace,
    TraceKind,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ButtonDef, Resume};
use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::validate::Checker;

/// Offers buttons and waits. A click sends the button's request; typed text is matched against
/// the buttons' labels, then against their intents, before the global intents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChoiceBlock {
    pub id: String,
    pub buttons: Vec<ButtonDef>,
    /// The choice's own no-match handling (Voiceflow's `noMatch`): its prompts in turn, then
    /// `next` once they are spent; without it, or without `next` once they are spent, the
    /// version's no-match prompts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_match: Option<Reprompts>,
    /// The choice's own no-reply handling (Voiceflow's `noReply`): after `timeout` seconds of
    /// silence (the version's when absent) its prompts in turn, then `next`; without `next`,
    /// once they are spent, the version's no-reply handling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_reply: Option<OwnNoReply>,
}

/// A block's own no-reply prompts, their timeout, and where to go once they are spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OwnNoReply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub prompts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A block's own no-match prompts, and where to go once they are spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reprompts {
    #[serde(default)]
    pub prompts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Each no-match says one of the prompts at random (Voiceflow's `noMatch.randomize`), as
    /// many times as there are prompts; otherwise they are said in order.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub randomize: bool,
}

impl ChoiceBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.buttons.is_empty() {
            cx.error("buttons", "a choice needs at least one button");
        }
        check_buttons(cx, "buttons", &self.buttons);
        if let Some(own) = &self.no_match {
            for (i, prompt) in own.prompts.iter().enumerate() {
                cx.template(&format!("noMatch.prompts[{i}]"), prompt);
            }
            cx.link("noMatch.next", own.next.as_deref());
        }
        if let Some(own) = &self.no_reply {
            for (i, prompt) in own.prompts.iter().enumerate() {
                cx.template(&format!("noReply.prompts[{i}]"), prompt);
            }
            cx.link("noReply.next", own.next.as_deref());
        }
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let buttons = wire_buttons(rt, &self.id, 0, self.buttons.iter());
        // A choice of hidden intents only listens: no buttons, no `choice` trace (as a
        // Voiceflow choice without buttons).
        if !buttons.is_empty() {
            rt.say(Trace::new(TraceKind::Choice(ChoicePayload {
                buttons,
                extra: Object::new(),
            })));
        }
        Ok(Next::Wait(Status::Choice))
    }

    pub(crate) fn resume(&self, rt: &mut Runner, request: &Request) -> Result<Resume, Fault> {
        Ok(pick_button(rt, &self.id, self.buttons.iter(), request))
    }
}

pub(crate) fn check_buttons(cx: &mut Checker, field: &str, buttons: &[ButtonDef]) {
    for (i, button) in buttons.iter().enumerate() {
        let field = format!("{field}[{i}]");
        cx.template(&format!("{field}.label"), &button.label);
        if button.next.is_none() && button.intent.is_none() {
            cx.error(
                &field,
                "a button needs a `next` block, an `intent`, or both",
            );
        }
        cx.link(&format!("{field}.next"), button.next.as_deref());
        if let Some(intent) = &button.intent {
            cx.intent(&format!("{field}.intent"), intent);
            if button.next.is_none() {
                cx.global_intent(&format!("{field}.intent"), intent);
            }
        }
    }
}

/// The request a button sends: its intent, or a path naming the block and the button.
fn button_request(block: &str, index: usize, label: &str, button: &ButtonDef) -> Request {
    let mut extra = Object::new();
    extra.insert("label".to_owned(), label.into());
    match &button.intent {
        Some(name) => Request::new(RequestKind::Intent(IntentPayload {
            intent: IntentName {
                name: name.clone(),
                extra: Object::new(),
            },
            query: Some(String::new()),
            entities: Some(Vec::new()),
            confidence: None,
            extra,
        })),
        None => Request::action(path_type(block, index), Some(extra.into())),
    }
}

fn path_type(block: &str, index: usize) -> String {
    format!("path-{block}-{index}")
}

/// The wire buttons, numbered from `first` within the block (a carousel numbers its cards'
/// buttons one after the other).
pub(crate) fn wire_buttons<'a>(
    rt: &mut Runner,
    block: &str,
    first: usize,
    buttons: impl Iterator<Item = &'a ButtonDef>,
) -> Vec<Button> {
    buttons
        .enumerate()
        .filter(|(_, b)| !b.hidden)
        .map(|(i, b)| {
            let label = rt.render(&b.label);
            Button {
                request: button_request(block, first + i, &label, b),
                name: label,
                extra: Object::new(),
            }
        })
        .collect()
}

fn go(button: &ButtonDef) -> Resume {
    match (&button.next, &button.intent) {
        (Some(next), _) => Resume::Go(Next::Go(next.clone())),
        (None, Some(intent)) => Resume::Go(Next::GotoIntent(intent.clone())),
        (None, None) => Resume::NotMine,
    }
}

/// Which button, if any, the request chose.
pub(crate) fn pick_button<'a>(
    rt: &mut Runner,
    block: &str,
    buttons: impl Iterator<Item = &'a ButtonDef> + Clone,
    request: &Request,
) -> Resume {
    match &request.kind {
        RequestKind::Action { kind, .. } => {
            for (i, b) in buttons.enumerate() {
                if *kind == path_type(block, i) {
                    return go(b);
                }
            }
            Resume::NotMine
        }
        RequestKind::Intent(p) => {
            for b in buttons {
                if b.intent.as_deref() == Some(p.intent.name.as_str()) {
                    rt.fill_slots_from_entities(&p.intent.name, p.entities.as_deref());
                    return go(b);
                }
            }
            Resume::NotMine
        }
        RequestKind::Text(text) => {
            let typed = crate::nlu::normalise_phrase(text);
            for b in buttons.clone() {
                if crate::nlu::normalise_phrase(&rt.render(&b.label)) == typed {
                    return go(b);
                }
            }
            let intents: Vec<&str> = buttons
                .clone()
                .filter_map(|b| b.intent.as_deref())
                .collect();
            if let Some(matched) = rt.classify_among(text, &intents) {
                for b in buttons {
                    if b.intent.as_deref() == Some(matched.as_str()) {
                        return go(b);
                    }
                }
            }
            Resume::NotMine
        }
        RequestKind::Launch(_) | RequestKind::NoReply(_) | RequestKind::Event(_) => Resume::NotMine,
    }
}
