use parley_protocol::{Request, RequestKind, Trace};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Resume;
use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::validate::Checker;

/// Waits for the user's reply and stores it in a variable: the whole reply, or the value of an
/// entity found in it. When the entity is not there, it asks again (`noMatch` prompts) up to
/// `retries` times, then takes `fail` (or keeps asking when there is none). A reply that means a
/// global intent of another flow goes there instead, for a whole-reply capture too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaptureBlock {
    pub id: String,
    pub variable: String,
    /// A custom entity or a built-in (`number`, `email`, `yes_no`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Prompts for a reply without the entity; the project's no-match prompts when empty.
    #[serde(default)]
    pub no_match: Vec<String>,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<String>,
    /// Once its own prompts are spent (and with no `fail`), the project's no-match prompt
    /// instead of the last of its own again: Voiceflow's captureV2 (an imported project).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub then_global_no_match: bool,
}

fn default_retries() -> u32 {
    2
}

impl CaptureBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.variable("variable", &self.variable);
        if let Some(entity) = &self.entity {
            cx.entity("entity", entity);
        }
        for (i, prompt) in self.no_match.iter().enumerate() {
            cx.template(&format!("noMatch[{i}]"), prompt);
        }
        cx.link("next", self.next.as_deref());
        cx.link("fail", self.fail.as_deref());
    }

    pub(crate) fn run(&self, _rt: &mut Runner) -> Result<Next, Fault> {
        Ok(Next::Wait(Status::Capture { attempts: 0 }))
    }

    pub(crate) fn resume(&self, rt: &mut Runner, request: &Request) -> Result<Resume, Fault> {
        let (text, given) = match &request.kind {
            RequestKind::Text(text) => (text.clone(), None),
            RequestKind::Intent(p) => {
                let given = self.entity.as_ref().and_then(|entity| {
                    p.entities
                        .iter()
                        .flatten()
                        .find(|e| e.name == *entity)
                        .map(|e| e.value.clone())
                });
                (p.query.clone().unwrap_or_default(), given)
            }
            RequestKind::Launch(_)
            | RequestKind::NoReply(_)
            | RequestKind::Event(_)
            | RequestKind::Action { .. } => return Ok(Resume::NotMine),
        };
        let value = match &self.entity {
            // A whole-reply capture still lets the user ask for something else.
            None if rt.means_other_global_intent(request) => return Ok(Resume::NotMine),
            None if !text.trim().is_empty() => Some(text.trim().to_owned()),
            None => None,
            Some(entity) => given.or_else(|| rt.extract(entity, &text)),
        };
        if let Some(value) = value {
            rt.set_variable(&self.variable, value.into())?;
            return Ok(Resume::Go(Next::follow(&self.next)));
        }
        if rt.means_other_global_intent(request) {
            return Ok(Resume::NotMine);
        }
        let attempts = match rt.status() {
            Status::Capture { attempts } => attempts + 1,
            _ => 1,
        };
        if attempts > self.retries
            && let Some(fail) = &self.fail
        {
            return Ok(Resume::Go(Next::Go(fail.clone())));
        }
        let spent = self.then_global_no_match && attempts as usize > self.no_match.len();
        let prompt = if self.no_match.is_empty() || spent {
            rt.no_match_prompt()
        } else {
            let i = (attempts as usize - 1).min(self.no_match.len() - 1);
            rt.render(&self.no_match[i])
        };
        rt.say(Trace::text(prompt));
        Ok(Resume::Go(Next::Wait(Status::Capture { attempts })))
    }
}
