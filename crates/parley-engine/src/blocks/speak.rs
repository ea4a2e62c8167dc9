use parley_protocol::{SpeakPayload, Trace, TraceKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Says a message that may hold SSML, or plays an audio clip (`src`). With `stripSSML` (the
/// default) the runtime sends the message without its markup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpeakBlock {
    pub id: String,
    pub message: String,
    /// An audio URL to play instead of speaking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl SpeakBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.template("message", &self.message);
        if let Some(src) = &self.src {
            cx.url("src", src);
        }
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let message = rt.render(&self.message);
        let src = self.src.as_deref().map(|s| rt.render(s));
        rt.say(Trace::new(TraceKind::Speak(SpeakPayload {
            message: Some(message),
            speak_type: Some(if src.is_some() { "audio" } else { "message" }.to_owned()),
            src,
            ..SpeakPayload::default()
        })));
        Ok(Next::follow(&self.next))
    }
}
