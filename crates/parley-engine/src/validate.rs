//! Validation: every problem of a project, each with where it is and what is wrong.
//!
//! A project reaches the engine only through [`compile`], which validates it and, when it has no
//! errors, compiles its expressions and trains its NLU. Warnings (an unreachable block, an
//! unused flow) do not stop it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::compile::{CompiledProject, CompiledVersion};
use crate::expr::Expressions;
use crate::nlu::{BUILTIN_ENTITIES, split_slots};
use crate::project::{Project, Version};
use crate::template::{is_identifier, placeholders};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The project cannot run.
    Error,
    /// The project runs, but something is probably not what the author meant.
    Warning,
}

/// Where a problem is: as precise as it can be said.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub version: Option<String>,
    pub flow: Option<String>,
    pub block: Option<String>,
    /// The field, as a path: `buttons[1].next`.
    pub field: Option<String>,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(v) = &self.version {
            parts.push(format!("version `{v}`"));
        }
        if let Some(flow) = &self.flow {
            parts.push(format!("flow `{flow}`"));
        }
        if let Some(block) = &self.block {
            parts.push(format!("block `{block}`"));
        }
        if let Some(field) = &self.field {
            parts.push(format!("field `{field}`"));
        }
        if parts.is_empty() {
            write!(f, "project")
        } else {
            write!(f, "{}", parts.join(", "))
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}: {}: {}", self.location, self.message)
    }
}

/// A project that did not validate: all its problems, errors first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        writeln!(f, "the project has {errors} error(s):")?;
        for d in &self.diagnostics {
            writeln!(f, "  {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// Validates a project and compiles it for the engine.
pub fn compile(project: Project) -> Result<CompiledProject, Report> {
    let mut diagnostics = Vec::new();
    let mut compiled = Vec::new();
    check_project(&project, &mut diagnostics);
    let mut seen = BTreeSet::new();
    for version in &project.versions {
        let mut cx = Checker::new(version);
        if !seen.insert(version.id.clone()) {
            cx.error_at(Location::default(), "id", "two versions have this id");
        }
        cx.check_version();
        let Checker {
            diagnostics: found,
            expressions,
            ..
        } = cx;
        let failed = found.iter().any(|d| d.severity == Severity::Error);
        diagnostics.extend(found);
        if !failed {
            compiled.push(CompiledVersion::new(version.clone(), expressions));
        }
    }
    diagnostics.sort_by(|a, b| (a.severity, &a.location).cmp(&(b.severity, &b.location)));
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(Report { diagnostics });
    }
    Ok(CompiledProject::new(project, compiled, diagnostics))
}

fn check_project(project: &Project, out: &mut Vec<Diagnostic>) {
    let mut error = |field: &str, message: String| {
        out.push(Diagnostic {
            severity: Severity::Error,
            location: Location {
                field: Some(field.to_owned()),
                ..Location::default()
            },
            message,
        });
    };
    let id_ok = !project.id.is_empty()
        && project.id.len() <= 64
        && project
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        error(
            "id",
            "a project id is 1 to 64 letters, digits, `-` or `_`".into(),
        );
    }
    for (i, origin) in project.allowed_origins.iter().enumerate() {
        if !is_origin(origin) {
            error(
                &format!("allowedOrigins[{i}]"),
                format!(
                    "`{origin}` is not an origin: write `https://host` or `http://host:port`, \
                     without a path or a trailing slash"
                ),
            );
        }
    }
    if project.public_requests_per_minute == 0 {
        error(
            "publicRequestsPerMinute",
            "a rate is at least 1 request a minute (to close the public route, set publicAccess \
             to false)"
                .into(),
        );
    }
    if let Some(assistant) = &project.assistant {
        let hex = |c: &str| {
            c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit())
        };
        if let Some(color) = assistant.color.as_deref().filter(|c| !hex(c)) {
            error(
                "assistant.color",
                format!("`{color}` is not a colour: write `#rrggbb`"),
            );
        }
        for (field, url) in [("image", &assistant.image), ("avatar", &assistant.avatar)] {
            if let Some(url) = url.as_deref().filter(|u| !is_web_url(u)) {
                error(
                    &format!("assistant.{field}"),
                    format!("`{url}` is not an http(s) URL or a path on this server (`/…`)"),
                );
            }
        }
    }
    if project.versions.is_empty() {
        error("versions", "a project needs at least one version".into());
    }
    for (alias, target) in &project.aliases {
        if !project.versions.iter().any(|v| v.id == *target) {
            error(
                &format!("aliases.{alias}"),
                format!("the alias names the unknown version `{target}`"),
            );
        }
        if project.versions.iter().any(|v| v.id == *alias) {
            error(
                &format!("aliases.{alias}"),
                "an alias may not also be a version id".into(),
            );
        }
    }
}

/// `scheme://host[:port]`, as a browser sends it in `Origin`: http or https, a lowercase host
/// (a name, an IPv4 or a bracketed IPv6 address), no path.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return false,
            },
            None => return false,
        },
        None => match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | ':'));
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    matches!(scheme, "http" | "https") && host_ok && port_ok
}

/// Walks one version; blocks report what they use through it.
pub(crate) struct Checker<'a> {
    version: &'a Version,
    variables: BTreeSet<String>,
    flows: BTreeSet<&'a str>,
    intents: BTreeSet<&'a str>,
    global_intents: BTreeSet<&'a str>,
    entities: BTreeSet<&'a str>,
    /// Block ids of the flow being checked.
    blocks: BTreeSet<&'a str>,
    /// Where the checker is.
    flow: Option<String>,
    block: Option<String>,
    /// Links of the flow being checked: block → targets.
    links: BTreeMap<String, Vec<String>>,
    /// Flows that something runs.
    used_flows: BTreeSet<String>,
    diagnostics: Vec<Diagnostic>,
    expressions: Expressions,
}

impl<'a> Checker<'a> {
    fn new(version: &'a Version) -> Checker<'a> {
        let mut variables: BTreeSet<String> =
            version.variables.iter().map(|v| v.name.clone()).collect();
        variables.extend(crate::compile::BUILTIN_VARIABLES.map(str::to_owned));
        Checker {
            version,
            variables,
            flows: version.flows.iter().map(|f| f.id.as_str()).collect(),
            intents: version.intents.iter().map(|i| i.name.as_str()).collect(),
            global_intents: version
                .settings
                .global_intents
                .iter()
                .map(|g| g.intent.as_str())
                .collect(),
            entities: version
                .entities
                .iter()
                .map(|e| e.name.as_str())
                .chain(BUILTIN_ENTITIES)
                .collect(),
            blocks: BTreeSet::new(),
            flow: None,
            block: None,
            links: BTreeMap::new(),
            used_flows: BTreeSet::new(),
            diagnostics: Vec::new(),
            expressions: Expressions::new(version.settings.expression_language),
        }
    }

    fn location(&self, field: &str) -> Location {
        Location {
            version: Some(self.version.id.clone()),
            flow: self.flow.clone(),
            block: self.block.clone(),
            field: (!field.is_empty()).then(|| field.to_owned()),
        }
    }

    fn push(&mut self, severity: Severity, field: &str, message: String) {
        let location = self.location(field);
        self.diagnostics.push(Diagnostic {
            severity,
            location,
            message,
        });
    }

    fn error_at(&mut self, mut location: Location, field: &str, message: &str) {
        location.version = Some(self.version.id.clone());
        location.field = Some(field.to_owned());
        self.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            location,
            message: message.to_owned(),
        });
    }

    // ---- what blocks call ----

    pub(crate) fn error(&mut self, field: &str, message: &str) {
        self.push(Severity::Error, field, message.to_owned());
    }

    pub(crate) fn warning(&mut self, field: &str, message: &str) {
        self.push(Severity::Warning, field, message.to_owned());
    }

    /// A link to a block of the same flow.
    pub(crate) fn link(&mut self, field: &str, target: Option<&str>) {
        let Some(target) = target else { return };
        if !self.blocks.contains(target) {
            let flow = self.flow.clone().unwrap_or_default();
            self.push(
                Severity::Error,
                field,
                format!("links to `{target}`, which is not a block of the flow `{flow}`"),
            );
        }
        if let Some(block) = &self.block {
            self.links
                .entry(block.clone())
                .or_default()
                .push(target.to_owned());
        }
    }

    /// Text with `{variable}` placeholders.
    pub(crate) fn template(&mut self, field: &str, text: &str) {
        for name in placeholders(text) {
            if !self.variables.contains(name) {
                self.push(
                    Severity::Error,
                    field,
                    format!("`{{{name}}}` names no declared variable"),
                );
            }
        }
    }

    /// A URL shown to or fetched by the client: allow-listed schemes only.
    pub(crate) fn url(&mut self, field: &str, url: &str) {
        self.template(field, url);
        let fixed = url
            .split('{')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // A path (`/demo/images/logo.svg`) names the server that serves the project: the
        // runtime resolves it (against the address the client used for pictures, its own
        // address for API calls), so a project does not hard-code where it is served.
        let path = fixed.starts_with('/') && !fixed.starts_with("//");
        let ok = fixed.is_empty() && url.starts_with('{')
            || path
            || ["https://", "http://", "data:image/"]
                .iter()
                .any(|s| fixed.starts_with(s));
        if !ok {
            self.push(
                Severity::Error,
                field,
                "a URL must start with https://, http://, data:image/ or / (a path on the \
                 server), or be a variable"
                    .into(),
            );
        }
    }

    /// Every string of a JSON value may hold placeholders.
    pub(crate) fn json_templates(&mut self, field: &str, value: &serde_json::Value) {
        match value {
            serde_json::Value::String(s) => self.template(field, s),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.json_templates(&format!("{field}[{i}]"), item);
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    self.json_templates(&format!("{field}.{k}"), v);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn variable(&mut self, field: &str, name: &str) {
        if !self.variables.contains(name) {
            self.push(
                Severity::Error,
                field,
                format!("`{name}` is not a declared variable"),
            );
        }
    }

    pub(crate) fn entity(&mut self, field: &str, name: &str) {
        if !self.entities.contains(name) {
            self.push(
                Severity::Error,
                field,
                format!(
                    "`{name}` is not an entity of this version (nor a built-in: {})",
                    BUILTIN_ENTITIES.join(", ")
                ),
            );
        }
    }

    pub(crate) fn intent(&mut self, field: &str, name: &str) {
        if !self.intents.contains(name) {
            self.push(
                Severity::Error,
                field,
                format!("`{name}` is not an intent of this version"),
            );
        }
    }

    /// An intent used where it must lead somewhere by itself.
    pub(crate) fn global_intent(&mut self, field: &str, name: &str) {
        if self.intents.contains(name) && !self.global_intents.contains(name) {
            self.push(
                Severity::Error,
                field,
                format!("`{name}` leads nowhere: it is not in settings.globalIntents"),
            );
        }
    }

    pub(crate) fn flow(&mut self, field: &str, id: &str) {
        if self.flows.contains(id) {
            self.used_flows.insert(id.to_owned());
        } else {
            self.push(
                Severity::Error,
                field,
                format!("`{id}` is not a flow of this version"),
            );
        }
    }

    pub(crate) fn expression(&mut self, field: &str, source: &str) {
        let names: Vec<&str> = self.variables.iter().map(String::as_str).collect();
        if let Err(e) = self.expressions.compile(source, &names) {
            self.push(
                Severity::Error,
                field,
                format!("the expression `{source}` is invalid: {e}"),
            );
        }
    }

    /// A code block's JavaScript.
    pub(crate) fn code(&mut self, field: &str, source: &str) {
        if let Err(e) = self.expressions.compile_code(source) {
            self.push(Severity::Error, field, format!("the code is invalid: {e}"));
        }
    }

    // ---- the walk ----

    fn check_version(&mut self) {
        let version = self.version;
        self.check_declarations();
        self.flow("startFlow", &version.start_flow);
        let mut flow_ids = BTreeSet::new();
        for flow in &version.flows {
            self.flow = Some(flow.id.clone());
            self.block = None;
            if !flow_ids.insert(flow.id.as_str()) {
                self.error("id", "two flows have this id");
            }
            self.blocks.clear();
            self.links.clear();
            let mut duplicates = BTreeSet::new();
            for block in &flow.blocks {
                if !self.blocks.insert(block.id()) {
                    duplicates.insert(block.id());
                }
            }
            for id in duplicates {
                self.error("blocks", &format!("two blocks have the id `{id}`"));
            }
            if !self.blocks.contains(flow.start.as_str()) {
                self.error(
                    "start",
                    &format!(
                        "the flow starts at `{}`, which is not one of its blocks",
                        flow.start
                    ),
                );
            }
            for block in &flow.blocks {
                self.block = Some(block.id().to_owned());
                if block.id().is_empty() {
                    self.error("id", "a block needs an id");
                }
                block.check(self);
            }
            self.block = None;
            self.check_reachable(&flow.start, flow.blocks.iter().map(|b| b.id()));
        }
        self.flow = None;
        for (i, global) in version.settings.global_intents.iter().enumerate() {
            self.flow(&format!("settings.globalIntents[{i}].flow"), &global.flow);
        }
        for flow in &version.flows {
            if !self.used_flows.contains(&flow.id) {
                self.flow = Some(flow.id.clone());
                self.push(
                    Severity::Warning,
                    "",
                    "nothing runs this flow: it is not the start flow, no goto_flow names it, and no global intent starts it".into(),
                );
            }
        }
        self.flow = None;
    }

    fn check_reachable<'b>(&mut self, start: &str, blocks: impl Iterator<Item = &'b str>) {
        let mut seen = BTreeSet::from([start.to_owned()]);
        let mut queue = VecDeque::from([start.to_owned()]);
        while let Some(block) = queue.pop_front() {
            for next in self.links.get(&block).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    queue.push_back(next.clone());
                }
            }
        }
        for block in blocks {
            if !seen.contains(block) {
                self.block = Some(block.to_owned());
                self.push(
                    Severity::Warning,
                    "",
                    "no path from the flow's start reaches this block".into(),
                );
            }
        }
        self.block = None;
    }

    fn check_declarations(&mut self) {
        let version = self.version;
        let mut names = BTreeSet::new();
        for (i, v) in version.variables.iter().enumerate() {
            let field = format!("variables[{i}].name");
            if !is_identifier(&v.name) {
                self.error(
                    &field,
                    &format!("`{}` is not a valid variable name (letters, digits and `_`, not starting with a digit)", v.name),
                );
            } else if crate::compile::BUILTIN_VARIABLES.contains(&v.name.as_str()) {
                self.error(&field, &format!("`{}` is a built-in variable", v.name));
            }
            if !names.insert(v.name.as_str()) {
                self.error(
                    &field,
                    &format!("the variable `{}` is declared twice", v.name),
                );
            }
        }
        let mut entity_names = BTreeSet::new();
        for (i, e) in version.entities.iter().enumerate() {
            let field = format!("entities[{i}]");
            if BUILTIN_ENTITIES.contains(&e.name.as_str()) {
                self.error(&field, &format!("`{}` is a built-in entity", e.name));
            }
            if !entity_names.insert(e.name.as_str()) {
                self.error(
                    &field,
                    &format!("the entity `{}` is declared twice", e.name),
                );
            }
            if e.values.is_empty() {
                self.error(&field, &format!("the entity `{}` has no values", e.name));
            }
        }
        let mut intent_names = BTreeSet::new();
        for (i, intent) in version.intents.iter().enumerate() {
            let field = format!("intents[{i}]");
            if !intent_names.insert(intent.name.as_str()) {
                self.error(
                    &field,
                    &format!("the intent `{}` is declared twice", intent.name),
                );
            }
            if intent.utterances.is_empty() {
                self.error(
                    &format!("{field}.utterances"),
                    &format!("the intent `{}` needs sample utterances", intent.name),
                );
            }
            let slots: BTreeSet<&str> = intent.slots.iter().map(|s| s.name.as_str()).collect();
            for (j, slot) in intent.slots.iter().enumerate() {
                self.entity(&format!("{field}.slots[{j}].entity"), &slot.entity);
                self.variable(&format!("{field}.slots[{j}].variable"), slot.variable());
            }
            for (j, utterance) in intent.utterances.iter().enumerate() {
                for piece in split_slots(utterance) {
                    if let Err(slot) = piece
                        && !slots.contains(slot)
                    {
                        self.error(
                            &format!("{field}.utterances[{j}]"),
                            &format!("`{{{slot}}}` is not a slot of the intent `{}`", intent.name),
                        );
                    }
                }
            }
        }
        let settings = &version.settings;
        if !(0.0..=1.0).contains(&settings.nlu_threshold) {
            self.error(
                "settings.nluThreshold",
                "the threshold is a confidence between 0 and 1",
            );
        }
        if settings.step_budget == 0 || settings.step_budget > 10_000 {
            self.error(
                "settings.stepBudget",
                "the step budget must be between 1 and 10000",
            );
        }
        if settings.no_match.is_empty() {
            self.error("settings.noMatch", "give at least one no-match prompt");
        }
        for (i, prompt) in settings.no_match.iter().enumerate() {
            self.template(&format!("settings.noMatch[{i}]"), prompt);
        }
        if let Some(no_reply) = &settings.no_reply {
            if no_reply.timeout == 0 || no_reply.timeout > 3_600 {
                self.error(
                    "settings.noReply.timeout",
                    "the timeout is 1 to 3600 seconds",
                );
            }
            for (i, prompt) in no_reply.prompts.iter().enumerate() {
                self.template(&format!("settings.noReply.prompts[{i}]"), prompt);
            }
        }
        let mut globals = BTreeSet::new();
        for (i, g) in settings.global_intents.iter().enumerate() {
            self.intent(&format!("settings.globalIntents[{i}].intent"), &g.intent);
            if !globals.insert(g.intent.as_str()) {
                self.error(
                    &format!("settings.globalIntents[{i}].intent"),
                    &format!("`{}` is a global intent twice", g.intent),
                );
            }
        }
    }
}

/// An absolute `http(s)` URL, or a path on the server that serves the project.
fn is_web_url(url: &str) -> bool {
    let absolute = url.starts_with("https://") || url.starts_with("http://");
    let path = url.starts_with('/') && !url.starts_with("//");
    (absolute || path) && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}
