use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Runs JavaScript over the conversation's variables (Voiceflow's code step; the version's
/// `expressionLanguage` must be `javascript`). What it assigns to a variable is kept. With
/// `paths`, the code is a function's body and the label it returns picks the path; otherwise,
/// and when it returns no label of theirs, it goes on to `next`. A code that throws (or runs
/// over its limits) goes to `fail`, with a `debug` trace saying why, as in Voiceflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeBlock {
    pub id: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<CodePath>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail: Option<String>,
}

/// A path the code can take by returning its label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodePath {
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl CodeBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        cx.code("code", &self.code);
        for (i, path) in self.paths.iter().enumerate() {
            cx.link(&format!("paths[{i}].next"), path.next.as_deref());
        }
        cx.link("next", self.next.as_deref());
        cx.link("fail", self.fail.as_deref());
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        match rt.run_code(&self.code, !self.paths.is_empty()) {
            Ok(Value::String(label)) => {
                let path = self.paths.iter().find(|p| p.label == label);
                Ok(Next::follow(path.map_or(&self.next, |p| &p.next)))
            }
            Ok(_) => Ok(Next::follow(&self.next)),
            Err(message) => {
                rt.debug(json!({ "type": "code", "message": format!("unable to resolve code: {message}") }));
                Ok(Next::follow(&self.fail))
            }
        }
    }
}
