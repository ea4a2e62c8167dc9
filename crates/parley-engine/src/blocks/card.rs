use parley_protocol::{Card, CardDescription, Object, Request, Trace, TraceKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Resume;
use super::choice::{check_buttons, pick_button, wire_buttons};
use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::validate::Checker;

/// A button of a choice, a card or a carousel card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ButtonDef {
    pub label: String,
    /// The block a click leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// The intent the button stands for: the click sends it, and typed text that means it
    /// chooses the button. Without `next`, it leads where the global intent does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Listened for but not shown: the choice takes the intent (typed, or sent by the client)
    /// without a button for it, as a Voiceflow choice's intent paths without buttons do.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hidden: bool,
}

/// One card: a title, a description, an image and buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardDef {
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default)]
    pub buttons: Vec<ButtonDef>,
}

/// Shows a card. With buttons it waits like a choice; without, it goes on to `next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CardBlock {
    pub id: String,
    pub card: CardDef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Shows the buttons and goes on to `next` at once, without waiting for a click (a
    /// Voiceflow card that is not blocking): a click later is a request like any other, for
    /// whatever the conversation waits at, then the global intents.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_on: bool,
}

impl CardDef {
    pub(crate) fn check(&self, cx: &mut Checker, field: &str) {
        cx.template(&format!("{field}.title"), &self.title);
        cx.template(&format!("{field}.description"), &self.description);
        if let Some(url) = &self.image_url {
            cx.url(&format!("{field}.imageUrl"), url);
        }
        check_buttons(cx, &format!("{field}.buttons"), &self.buttons);
    }

    /// The wire card; its buttons are numbered from `first_button` within the block.
    pub(crate) fn to_wire(
        &self,
        rt: &mut Runner,
        block: &str,
        id: Option<String>,
        first_button: usize,
    ) -> Card {
        let description = rt.render(&self.description);
        Card {
            id,
            title: Some(rt.render(&self.title)),
            description: Some(CardDescription {
                text: Some(description),
                slate: None,
                extra: Object::new(),
            }),
            image_url: self.image_url.as_deref().map(|u| rt.render(u)),
            buttons: Some(wire_buttons(rt, block, first_button, self.buttons.iter())),
            extra: Object::new(),
        }
    }
}

impl CardBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        self.card.check(cx, "card");
        if !self.card.buttons.is_empty() && self.next.is_some() && !self.go_on {
            cx.error(
                "next",
                "a card with buttons waits for one of them; `next` is never taken",
            );
        }
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let card = self.card.to_wire(rt, &self.id, None, 0);
        rt.say(Trace::new(TraceKind::CardV2(card)));
        if self.card.buttons.is_empty() || self.go_on {
            Ok(Next::follow(&self.next))
        } else {
            Ok(Next::Wait(Status::Choice))
        }
    }

    pub(crate) fn resume(&self, rt: &mut Runner, request: &Request) -> Result<Resume, Fault> {
        Ok(pick_button(rt, &self.id, self.card.buttons.iter(), request))
    }
}
