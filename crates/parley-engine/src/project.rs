//! The project file: what an author writes (by hand or with a tool) and the engine runs.
//!
//! JSON, camelCase, with a JSON Schema generated from these types (`parley check --schema`
//! prints it; `schema/project.schema.json` is the committed copy). A project has versions; a
//! version has flows of blocks, intents, entities, variables and settings.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::blocks::Block;

/// A whole project: its versions and the aliases that name them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Project {
    /// Editors read this; the engine ignores it.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// A stable id: it namespaces API keys, stored sessions and the widget's storage.
    pub id: String,
    /// A human name, shown as the assistant's title by default.
    pub name: String,
    /// `development` and `production`, each naming a version id.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// The web origins (`https://shop.example`, `http://localhost:5173`) whose pages may talk
    /// to this project: the server's CORS allow-list, and the only origins a public API key is
    /// accepted from. Empty: any origin (fine on a laptop, not in production).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    pub versions: Vec<Version>,
}

/// One version of a project: everything a conversation runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Version {
    pub id: String,
    /// The flow a `launch` starts.
    pub start_flow: String,
    pub flows: Vec<Flow>,
    #[serde(default)]
    pub intents: Vec<Intent>,
    #[serde(default)]
    pub entities: Vec<Entity>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub settings: Settings,
}

/// A flow: a graph of blocks with one start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flow {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The id of the block the flow starts at.
    pub start: String,
    pub blocks: Vec<Block>,
}

/// An intent: what a user may mean, learnt from sample utterances.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Intent {
    pub name: String,
    /// Sample utterances; `{slot}` marks where a slot's entity appears, e.g.
    /// `"I'd like a {size} pizza"`.
    pub utterances: Vec<String>,
    #[serde(default)]
    pub slots: Vec<Slot>,
}

/// A slot of an intent: an entity whose value is stored in a variable when the intent matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Slot {
    /// The name used in utterances, `{name}`.
    pub name: String,
    /// A custom entity's name, or a built-in: `number`, `email`, `yes_no`.
    pub entity: String,
    /// The variable that receives the value; the slot's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
}

impl Slot {
    pub fn variable(&self) -> &str {
        self.variable.as_deref().unwrap_or(&self.name)
    }
}

/// A custom entity: values with synonyms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entity {
    pub name: String,
    pub values: Vec<EntityValue>,
}

/// One value of an entity, and the other ways people say it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityValue {
    pub value: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// A global variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Variable {
    /// An identifier: letters, digits and `_`, not starting with a digit.
    pub name: String,
    /// Its value when a conversation starts (`null` when absent).
    #[serde(default)]
    pub default: Value,
    /// Whether a client may set it: at `launch` (`payload.variables`) or through the stateful
    /// API's `state.variables`. Other variables only change inside the flow.
    #[serde(default)]
    pub settable: bool,
}

/// Version-wide behaviour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Said when nothing matched what the user typed; the n-th no-match in a row uses the n-th
    /// prompt (the last one repeats).
    #[serde(default = "default_no_match")]
    pub no_match: Vec<String>,
    /// What happens when the user stays silent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_reply: Option<NoReply>,
    /// Intents that may interrupt any flow; when the flow they start finishes, the conversation
    /// goes back to where it was.
    #[serde(default)]
    pub global_intents: Vec<GlobalIntent>,
    /// Below this confidence (0–1) the NLU answers no-match.
    #[serde(default = "default_threshold")]
    pub nlu_threshold: f64,
    /// Blocks one turn may run before it is stopped as a loop.
    #[serde(default = "default_step_budget")]
    pub step_budget: u32,
    /// Said when a turn fails (a loop, an expression error).
    #[serde(default = "default_error_message")]
    pub error_message: String,
    /// Whether API-call blocks may call private, loopback and link-local addresses (a local
    /// service, a test server). Off by default: a project's calls go to the public internet.
    #[serde(default)]
    pub allow_private_network: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            no_match: default_no_match(),
            no_reply: None,
            global_intents: Vec::new(),
            nlu_threshold: default_threshold(),
            step_budget: default_step_budget(),
            error_message: default_error_message(),
            allow_private_network: false,
        }
    }
}

fn default_no_match() -> Vec<String> {
    vec!["Sorry, I didn't get that.".to_owned()]
}

fn default_threshold() -> f64 {
    0.45
}

fn default_step_budget() -> u32 {
    200
}

fn default_error_message() -> String {
    "Sorry, something went wrong on my side.".to_owned()
}

/// No-reply handling: after `timeout` seconds of silence the client sends `no-reply`; each one
/// gets the next prompt; after the last prompt the conversation ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoReply {
    pub timeout: u32,
    pub prompts: Vec<String>,
}

/// An intent that may interrupt any flow, and the flow it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalIntent {
    pub intent: String,
    pub flow: String,
}

impl Project {
    /// Reads a project from JSON; the message names the line and column of a syntax or shape
    /// error.
    pub fn from_json(text: &str) -> Result<Project, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The version an id or alias names (`development` / `production`).
    pub fn version(&self, id_or_alias: &str) -> Option<&Version> {
        let id = self
            .aliases
            .get(id_or_alias)
            .map(String::as_str)
            .unwrap_or(id_or_alias);
        self.versions.iter().find(|v| v.id == id)
    }

    /// The JSON Schema of the project file.
    pub fn json_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(Project)).unwrap_or(Value::Null)
    }
}
