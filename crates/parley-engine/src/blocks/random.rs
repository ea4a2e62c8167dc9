use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::runtime::{Fault, Next, Runner};
use crate::validate::Checker;

/// Takes one of its paths at random, drawing from the conversation's seed (so a stateless
/// conversation is deterministic). With `noDuplicates`, a path is not taken again until every
/// other one has been (Voiceflow's random step with "no duplicates").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RandomBlock {
    pub id: String,
    pub paths: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_duplicates: bool,
}

impl RandomBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.paths.is_empty() {
            cx.error("paths", "a random block needs at least one path");
        }
        for (i, path) in self.paths.iter().enumerate() {
            cx.link(&format!("paths[{i}]"), Some(path));
        }
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let i = if self.no_duplicates && self.paths.len() > 1 {
            rt.pick_unused(&self.id, &self.paths)
        } else {
            rt.pick(self.paths.len())
        };
        Ok(Next::Go(self.paths[i].clone()))
    }
}
