use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// If / else-if / else: the first branch whose expression is true is taken; `else` otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionBlock {
    pub id: String,
    pub branches: Vec<Branch>,
    #[serde(rename = "else", default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<String>,
}

/// One branch: an expression over the variables, e.g. `size == "large" && count > 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Branch {
    #[serde(rename = "if")]
    pub condition: String,
    pub next: String,
}

impl ConditionBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.branches.is_empty() {
            cx.error("branches", "a condition needs at least one branch");
        }
        for (i, branch) in self.branches.iter().enumerate() {
            cx.expression(&format!("branches[{i}].if"), &branch.condition);
            cx.link(&format!("branches[{i}].next"), Some(&branch.next));
        }
        cx.link("else", self.otherwise.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        for branch in &self.branches {
            if rt.condition(&branch.condition)? {
                return Ok(Next::Go(branch.next.clone()));
            }
        }
        Ok(Next::follow(&self.otherwise))
    }
}
