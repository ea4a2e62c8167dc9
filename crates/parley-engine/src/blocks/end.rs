use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Ends the conversation: the client closes its input and offers a new chat; only `launch`
/// starts again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndBlock {
    pub id: String,
}

impl EndBlock {
    pub(crate) fn check(&self, _cx: &mut Checker) {}

    pub(crate) fn run(&self, _rt: &mut Runner) -> Result<Next, Fault> {
        Ok(Next::End)
    }
}
