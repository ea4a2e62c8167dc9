use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Sets variables to the values of expressions, in order (a later one sees the earlier ones).
/// In JavaScript (an imported Voiceflow project) an expression that throws sets none of them,
/// with a `debug` trace, and the flow goes on; in Rhai it is an error, as any expression's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetBlock {
    pub id: String,
    pub assignments: Vec<Assignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `variable = expression`, e.g. `count` = `count + 1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assignment {
    pub variable: String,
    pub value: String,
}

impl SetBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.assignments.is_empty() {
            cx.error("assignments", "a set block needs at least one assignment");
        }
        for (i, a) in self.assignments.iter().enumerate() {
            cx.variable(&format!("assignments[{i}].variable"), &a.variable);
            cx.expression(&format!("assignments[{i}].value"), &a.value);
        }
        cx.link("next", self.next.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        if rt.javascript() {
            // As Voiceflow's setV2: all or nothing, and an error is a `debug` trace on the way
            // to `next`, not the end of the conversation.
            if let Err(message) = rt.assign_all(&self.assignments)? {
                rt.debug(json!({ "type": "code", "message": format!("unable to resolve code: {message}") }));
            }
            return Ok(Next::follow(&self.next));
        }
        for a in &self.assignments {
            let value = rt.evaluate(&a.value)?;
            rt.set_variable(&a.variable, value)?;
        }
        Ok(Next::follow(&self.next))
    }
}
