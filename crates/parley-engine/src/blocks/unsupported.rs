use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::validate::Checker;

/// A node of an imported project that Parley cannot run, kept because the server was told to
/// skip such nodes (`parley serve --skip-unsupported`): reaching it ends the turn with a
/// `debug` trace naming it, and the conversation waits for the user (global intents still
/// work). Without that option the import refuses the project and names every such node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnsupportedBlock {
    pub id: String,
    /// The node's type in the original project (`ai_response`, `zapier`, …).
    pub node_type: String,
}

impl UnsupportedBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.warning(
            "nodeType",
            &format!(
                "a `{}` node cannot run: reaching it ends the turn",
                self.node_type
            ),
        );
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        rt.debug(json!({
            "type": "unsupported",
            "message": format!("the `{}` node `{}` cannot run on Parley: the turn ends here", self.node_type, self.id),
        }));
        Ok(Next::Wait(Status::Idle))
    }
}
