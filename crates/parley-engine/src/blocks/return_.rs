use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Finishes the current flow now and goes back to the flow that called it (or, for the
/// conversation's first flow, waits for what the user says next).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReturnBlock {
    pub id: String,
}

impl ReturnBlock {
    pub(crate) fn check(&self, _cx: &mut Checker) {}

    pub(crate) fn run(&self, _rt: &mut Runner) -> Result<Next, Fault> {
        Ok(Next::Done)
    }
}
