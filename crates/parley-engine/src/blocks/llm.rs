use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::turn::{Effect, LlmMessage, LlmRequest, LlmResult};
use crate::validate::Checker;

/// Asks a language model: the conversation suspends with [`Effect::Llm`] (the messages: the
/// system prompt, the last `history` messages of the conversation, the prompt), the server asks
/// the model it is configured with, and the answer comes back as [`crate::Input::LlmResult`].
/// The answer is stored in `variable` and/or said as a text trace marked `ai`; a failure (no
/// model configured, an error, a timeout) takes `failure`.
///
/// A turn with this block is not deterministic: the same state and request may get another
/// answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LlmBlock {
    pub id: String,
    /// The user's message to the model; `{variable}` placeholders are filled in.
    pub prompt: String,
    /// The system prompt, with placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// How many of the conversation's last messages (the user's and the agent's) go with it.
    #[serde(default)]
    pub history: u32,
    /// The model; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    /// Where the answer is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// Whether the answer is said (a text trace); true unless set otherwise.
    #[serde(default = "says", skip_serializing_if = "is_true")]
    pub say: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Where a failure leads; without it the flow goes on at `next` (the answer unsaid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

fn default_timeout() -> u32 {
    20_000
}

fn says() -> bool {
    true
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_true(b: &bool) -> bool {
    *b
}

/// The most history a block may ask for: the engine keeps this many messages.
pub(crate) const MAX_HISTORY: usize = 20;

impl LlmBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.prompt.trim().is_empty() {
            cx.error("prompt", "an LLM block needs a prompt");
        }
        cx.template("prompt", &self.prompt);
        if let Some(system) = &self.system {
            cx.template("system", system);
        }
        if self.history as usize > MAX_HISTORY {
            cx.error(
                "history",
                &format!("at most the last {MAX_HISTORY} messages are kept"),
            );
        }
        if self.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            cx.error("temperature", "the temperature is between 0 and 2");
        }
        if self.max_tokens == Some(0) {
            cx.error("maxTokens", "at least 1 token");
        }
        if self.timeout_ms == 0 || self.timeout_ms > 120_000 {
            cx.error("timeoutMs", "the timeout must be between 1 and 120000 ms");
        }
        if let Some(variable) = &self.variable {
            cx.variable("variable", variable);
        }
        if self.variable.is_none() && !self.say {
            cx.error(
                "say",
                "the answer must be said or stored: set `variable`, or leave `say` on",
            );
        }
        cx.link("next", self.next.as_deref());
        cx.link("failure", self.failure.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            messages.push(LlmMessage {
                role: "system".to_owned(),
                content: rt.render(system),
            });
        }
        messages.extend(rt.history(self.history as usize));
        messages.push(LlmMessage {
            role: "user".to_owned(),
            content: rt.render(&self.prompt),
        });
        Ok(Next::Suspend(Effect::Llm(LlmRequest {
            messages,
            model: self.model.clone(),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            timeout_ms: self.timeout_ms,
        })))
    }

    pub(crate) fn resume(&self, rt: &mut Runner, result: &LlmResult) -> Result<Next, Fault> {
        let LlmResult::Answer { text } = result else {
            let target = self.failure.clone().or_else(|| self.next.clone());
            return Ok(Next::follow(&target));
        };
        if let Some(variable) = &self.variable {
            rt.set_variable(variable, text.clone().into())?;
        }
        if self.say {
            rt.say_ai(text);
        }
        Ok(Next::follow(&self.next))
    }
}
