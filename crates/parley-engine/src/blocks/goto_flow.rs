use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Runs another flow; when it finishes (a `return`, or a block without `next`) the conversation
/// comes back here and goes on to `next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GotoFlowBlock {
    pub id: String,
    pub flow: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl GotoFlowBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.flow("flow", &self.flow);
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, _rt: &mut Runner) -> Result<Next, Fault> {
        Ok(Next::Call {
            flow: self.flow.clone(),
            then: self.next.clone(),
        })
    }
}
