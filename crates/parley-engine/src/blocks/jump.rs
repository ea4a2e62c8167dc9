use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Leaves the current flow for another one, without coming back (a Voiceflow go-to-block into
/// another diagram; the import makes a flow that starts at the block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JumpBlock {
    pub id: String,
    pub flow: String,
}

impl JumpBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.flow("flow", &self.flow);
    }

    pub(crate) fn run(&self, _rt: &mut Runner) -> Result<Next, Fault> {
        Ok(Next::Jump(self.flow.clone()))
    }
}
