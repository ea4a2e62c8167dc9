use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// If / else-if / else: the first branch whose expression is true is taken; `else` otherwise.
/// In JavaScript (an imported Voiceflow project) a branch whose expression throws is skipped
/// with a `debug` trace; in Rhai it is an error, as any expression's.
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
        let javascript = rt.javascript();
        for (i, branch) in self.branches.iter().enumerate() {
            match rt.condition(&branch.condition) {
                Ok(true) => return Ok(Next::Go(branch.next.clone())),
                Ok(false) => {}
                // Voiceflow's ifV2 runs each condition in a try of its own: one that throws
                // (`order.items.length` while `order` is 0) is reported and the next is tried.
                Err(fault) if javascript => rt.debug(json!({
                    "type": "ifV2",
                    "message": format!(
                        "Error condition {} - \"{}\": {}",
                        i + 1,
                        branch.condition,
                        fault.message
                    ),
                })),
                Err(fault) => return Err(fault),
            }
        }
        Ok(Next::follow(&self.otherwise))
    }
}
