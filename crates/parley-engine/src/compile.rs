//! A validated project, ready to run: indexes over its flows and blocks, its compiled
//! expressions and its trained NLU. Only [`crate::compile`] makes one.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::blocks::Block;
use crate::expr::Expressions;
use crate::nlu::{Match, Nlu};
use crate::project::{Flow, Project, Settings, Slot, Version};
use crate::session::Status;
use crate::validate::Diagnostic;

/// Variables every version has, named as in Voiceflow's runtime so that its projects' conditions
/// read them: `last_utterance` (the user's last typed text), `sessions` (conversations started),
/// `user_id` (stateful), `timestamp` (Unix seconds of the turn; stateful, as a stateless turn
/// reads no clock), `last_response` (the last text the agent said), `intent_confidence` (the
/// NLU's confidence in the last intent, in percent), `last_event` (the last request), `platform`
/// (the client's) and `locale` (`en-US`).
pub const BUILTIN_VARIABLES: [&str; 9] = [
    "last_utterance",
    "sessions",
    "user_id",
    "timestamp",
    "last_response",
    "intent_confidence",
    "last_event",
    "platform",
    "locale",
];

/// A project that passed validation.
#[derive(Debug)]
pub struct CompiledProject {
    pub id: String,
    pub name: String,
    /// The origins whose pages may use the project (empty: any), each `scheme://host[:port]`.
    pub allowed_origins: Vec<String>,
    /// Whether pages may use Voiceflow's public route without a key (see [`Project`]):
    /// `None` means "while the project has no key".
    pub public_access: Option<bool>,
    pub public_requests_per_minute: u32,
    /// The assistant's look, for Voiceflow's publishing settings.
    pub assistant: Option<crate::project::Assistant>,
    aliases: BTreeMap<String, String>,
    versions: Vec<Arc<CompiledVersion>>,
    warnings: Vec<Diagnostic>,
}

impl CompiledProject {
    pub(crate) fn new(
        project: Project,
        versions: Vec<CompiledVersion>,
        warnings: Vec<Diagnostic>,
    ) -> CompiledProject {
        CompiledProject {
            id: project.id,
            name: project.name,
            allowed_origins: project.allowed_origins,
            public_access: project.public_access,
            public_requests_per_minute: project.public_requests_per_minute,
            assistant: project.assistant,
            aliases: project.aliases,
            versions: versions.into_iter().map(Arc::new).collect(),
            warnings,
        }
    }

    /// The version an id or an alias names. `development` and `production` that the project
    /// does not define name its last version, so a project with one version needs no aliases.
    pub fn version(&self, id_or_alias: &str) -> Option<&Arc<CompiledVersion>> {
        let id = self
            .aliases
            .get(id_or_alias)
            .map(String::as_str)
            .unwrap_or(id_or_alias);
        self.versions.iter().find(|v| v.id() == id).or_else(|| {
            matches!(id_or_alias, "development" | "production")
                .then(|| self.versions.last())
                .flatten()
        })
    }

    pub fn versions(&self) -> impl Iterator<Item = &Arc<CompiledVersion>> {
        self.versions.iter()
    }

    /// What validation found that does not stop the project from running.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }
}

/// One version, indexed for the interpreter.
#[derive(Debug)]
pub struct CompiledVersion {
    version: Version,
    /// flow id → (index in `version.flows`, block id → index in its blocks)
    flows: BTreeMap<String, (usize, BTreeMap<String, usize>)>,
    global_flows: BTreeMap<String, String>,
    expressions: Expressions,
    nlu: Nlu,
    /// The most history an LLM block of the version asks for: the conversation keeps that
    /// many messages (none for a version without one, so its states stay small).
    history_kept: usize,
}

impl CompiledVersion {
    pub(crate) fn new(version: Version, expressions: Expressions) -> CompiledVersion {
        let flows = version
            .flows
            .iter()
            .enumerate()
            .map(|(i, flow)| {
                let blocks = flow
                    .blocks
                    .iter()
                    .enumerate()
                    .map(|(j, b)| (b.id().to_owned(), j))
                    .collect();
                (flow.id.clone(), (i, blocks))
            })
            .collect();
        let global_flows = version
            .settings
            .global_intents
            .iter()
            .map(|g| (g.intent.clone(), g.flow.clone()))
            .collect();
        let nlu = Nlu::train(&version);
        let history_kept = version
            .flows
            .iter()
            .flat_map(|f| &f.blocks)
            .filter_map(|b| match b {
                Block::Llm(llm) => Some(llm.history as usize),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        CompiledVersion {
            version,
            flows,
            global_flows,
            expressions,
            nlu,
            history_kept,
        }
    }

    /// How many of the conversation's last messages the version keeps (for its LLM blocks).
    pub(crate) fn history_kept(&self) -> usize {
        self.history_kept
    }

    /// Whether the version has an LLM block (the server warns when no model is configured).
    pub fn uses_llm(&self) -> bool {
        self.version
            .flows
            .iter()
            .flat_map(|f| &f.blocks)
            .any(|b| matches!(b, Block::Llm(_)))
    }

    pub fn id(&self) -> &str {
        &self.version.id
    }

    /// The version as written.
    pub fn definition(&self) -> &Version {
        &self.version
    }

    /// What the built-in NLU makes of a text (for tools and the accuracy benchmark).
    pub fn classify(&self, text: &str) -> Option<Match> {
        self.nlu.classify(text, None)
    }

    /// Whether API calls may go to private addresses (`settings.allowPrivateNetwork`).
    pub fn allows_private_network(&self) -> bool {
        self.version.settings.allow_private_network
    }

    /// Whether a client may set this variable.
    pub fn is_settable(&self, name: &str) -> bool {
        self.version
            .variables
            .iter()
            .any(|v| v.name == name && v.settable)
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.version.settings
    }

    pub(crate) fn nlu(&self) -> &Nlu {
        &self.nlu
    }

    pub(crate) fn expressions(&self) -> &Expressions {
        &self.expressions
    }

    pub(crate) fn default_variables(&self) -> BTreeMap<String, Value> {
        BUILTIN_VARIABLES
            .iter()
            .map(|name| ((*name).to_owned(), Value::Null))
            .chain(
                self.version
                    .variables
                    .iter()
                    .map(|v| (v.name.clone(), v.default.clone())),
            )
            .collect()
    }

    pub(crate) fn has_variable(&self, name: &str) -> bool {
        BUILTIN_VARIABLES.contains(&name) || self.version.variables.iter().any(|v| v.name == name)
    }

    pub(crate) fn flow(&self, id: &str) -> Option<&Flow> {
        let (i, _) = self.flows.get(id)?;
        self.version.flows.get(*i)
    }

    pub(crate) fn start_flow(&self) -> &Flow {
        // Validation guarantees the start flow exists; `flows[0]` keeps this total.
        self.flow(&self.version.start_flow)
            .unwrap_or(&self.version.flows[0])
    }

    pub(crate) fn has_flow(&self, id: &str) -> bool {
        self.flows.contains_key(id)
    }

    pub(crate) fn block(&self, flow: &str, block: &str) -> Option<&Block> {
        let (i, blocks) = self.flows.get(flow)?;
        self.version.flows.get(*i)?.blocks.get(*blocks.get(block)?)
    }

    pub(crate) fn has_block(&self, flow: &str, block: &str) -> bool {
        self.block(flow, block).is_some()
    }

    pub(crate) fn block_waits_as(&self, flow: &str, block: &str, status: &Status) -> bool {
        self.block(flow, block).is_some_and(|b| b.waits_as(status))
    }

    pub(crate) fn global_flow(&self, intent: &str) -> Option<&Flow> {
        self.flow(self.global_flows.get(intent)?)
    }

    pub(crate) fn slots(&self, intent: &str) -> &[Slot] {
        self.version
            .intents
            .iter()
            .find(|i| i.name == intent)
            .map(|i| i.slots.as_slice())
            .unwrap_or_default()
    }
}
