use parley_protocol::{CarouselPayload, Object, Request, Trace, TraceKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::choice::pick_button;
use super::{CardDef, Resume};
use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::validate::Checker;

/// A row of cards. With buttons on any card it waits like a choice; without, it goes on.
/// Buttons are numbered across the cards, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CarouselBlock {
    pub id: String,
    pub cards: Vec<CardDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Shows the buttons and goes on to `next` at once, without waiting for a click (a
    /// Voiceflow card that is not blocking): a click later is a request like any other, for
    /// whatever the conversation waits at, then the global intents.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_on: bool,
}

impl CarouselBlock {
    fn has_buttons(&self) -> bool {
        self.cards.iter().any(|c| !c.buttons.is_empty())
    }

    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.cards.is_empty() {
            cx.error("cards", "a carousel needs at least one card");
        }
        for (i, card) in self.cards.iter().enumerate() {
            card.check(cx, &format!("cards[{i}]"));
        }
        if self.has_buttons() && self.next.is_some() && !self.go_on {
            cx.error(
                "next",
                "a carousel with buttons waits for one of them; `next` is never taken",
            );
        }
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let mut cards = Vec::with_capacity(self.cards.len());
        let mut numbered = 0;
        for (i, card) in self.cards.iter().enumerate() {
            let id = Some(format!("{}-{i}", self.id));
            cards.push(card.to_wire(rt, &self.id, id, numbered));
            numbered += card.buttons.len();
        }
        rt.say(Trace::new(TraceKind::Carousel(CarouselPayload {
            layout: Some("Carousel".to_owned()),
            cards,
            extra: Object::new(),
        })));
        if self.has_buttons() && !self.go_on {
            Ok(Next::Wait(Status::Choice))
        } else {
            Ok(Next::follow(&self.next))
        }
    }

    pub(crate) fn resume(&self, rt: &mut Runner, request: &Request) -> Result<Resume, Fault> {
        let buttons = self.cards.iter().flat_map(|c| c.buttons.iter());
        Ok(pick_button(rt, &self.id, buttons, request))
    }
}
