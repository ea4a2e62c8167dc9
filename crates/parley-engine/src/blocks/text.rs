use parley_protocol::{TextPayload, Trace, TraceKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Says a message. With several variants, one is picked at random (from the conversation's
/// seed). Messages may hold `{variable}` placeholders and markdown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextBlock {
    pub id: String,
    pub texts: Vec<String>,
    /// Milliseconds of typing indicator before the message (the client's default otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl TextBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.texts.is_empty() {
            cx.error("texts", "a text block needs at least one text");
        }
        for (i, text) in self.texts.iter().enumerate() {
            cx.template(&format!("texts[{i}]"), text);
        }
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let variant = rt.pick(self.texts.len());
        let message = rt.render(&self.texts[variant]);
        rt.say(Trace::new(TraceKind::Text(TextPayload {
            message: Some(message),
            delay: self.delay.map(Into::into),
            ..TextPayload::default()
        })));
        Ok(Next::follow(&self.next))
    }
}
