use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Goes where a global intent goes, as if the user had said it (the current flow is left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GotoIntentBlock {
    pub id: String,
    pub intent: String,
}

impl GotoIntentBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.intent("intent", &self.intent);
        cx.global_intent("intent", &self.intent);
    }

    pub(crate) fn run(&self, _rt: &mut Runner) -> Result<Next, Fault> {
        Ok(Next::GotoIntent(self.intent.clone()))
    }
}
