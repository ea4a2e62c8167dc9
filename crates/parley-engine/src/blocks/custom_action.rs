use parley_protocol::{Request, RequestKind, Trace, TraceKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Resume;
use crate::runtime::{Fault, Next, Runner};
use crate::session::Status;
use crate::validate::Checker;

/// Hands control to the client: emits a trace of the author's type (`name`) with `paths` and
/// `defaultPath`, and waits for a request whose type is one of the paths' names, e.g. the host
/// page answering `{ "type": "success" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomActionBlock {
    pub id: String,
    /// The trace type the client sees.
    pub name: String,
    /// Sent as the trace's payload; `{variable}` placeholders in its strings are filled in.
    #[serde(default)]
    pub payload: Value,
    pub paths: Vec<ActionPath>,
    /// The path a client should take when it does not handle the action (an index into
    /// `paths`).
    #[serde(default)]
    pub default_path: usize,
    /// Whether the flow waits for the client's answer (the default). With `false` the trace is
    /// sent and the flow goes on along the default path at once, unless the request's
    /// `config.stopAll` or `config.stopTypes` asks to stop at it (Voiceflow's "stop on action").
    #[serde(default = "waits", skip_serializing_if = "is_true")]
    pub stop: bool,
}

fn waits() -> bool {
    true
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_true(b: &bool) -> bool {
    *b
}

/// A way out of a custom action: the request type that takes it, and where it leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionPath {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Request types with a meaning of their own, which a path may not take.
const RESERVED: [&str; 5] = ["launch", "text", "intent", "no-reply", "event"];

impl CustomActionBlock {
    pub(crate) fn check(&self, cx: &mut Checker) {
        if self.name.trim().is_empty() {
            cx.error("name", "a custom action needs a name (its trace type)");
        }
        if self.paths.is_empty() {
            cx.error("paths", "a custom action needs at least one path");
        }
        if self.default_path >= self.paths.len().max(1) {
            cx.error(
                "defaultPath",
                "the default path must be the index of one of the paths",
            );
        }
        for (i, path) in self.paths.iter().enumerate() {
            if path.name.trim().is_empty() {
                cx.error(
                    &format!("paths[{i}].name"),
                    "a path needs a name (the request type that takes it)",
                );
            } else if RESERVED.contains(&path.name.as_str()) {
                cx.error(
                    &format!("paths[{i}].name"),
                    &format!(
                        "`{}` cannot name a path: it is a request type of its own",
                        path.name
                    ),
                );
            }
            cx.link(&format!("paths[{i}].next"), path.next.as_deref());
        }
        cx.json_templates("payload", &self.payload);
    }

    pub(crate) fn run(&self, rt: &mut Runner) -> Result<Next, Fault> {
        let payload = rt.render_json(&self.payload);
        let mut trace = Trace::new(TraceKind::Custom {
            kind: self.name.clone(),
            payload: Some(payload),
        });
        let paths: Vec<Value> = self
            .paths
            .iter()
            .map(|p| json!({ "event": { "type": p.name } }))
            .collect();
        trace
            .extra
            .insert("defaultPath".to_owned(), self.default_path.into());
        trace.extra.insert("paths".to_owned(), paths.into());
        rt.say(trace);
        if self.stop || rt.stops_at(&self.name) {
            Ok(Next::Wait(Status::CustomAction))
        } else {
            Ok(self.default_next())
        }
    }

    /// Where the default path leads.
    pub(crate) fn default_next(&self) -> Next {
        self.paths
            .get(self.default_path)
            .map_or(Next::Done, |p| Next::follow(&p.next))
    }

    pub(crate) fn resume(&self, request: &Request) -> Result<Resume, Fault> {
        if let RequestKind::Action { kind, .. } = &request.kind
            && let Some(path) = self.paths.iter().find(|p| p.name == *kind)
        {
            return Ok(Resume::Go(Next::follow(&path.next)));
        }
        Ok(Resume::NotMine)
    }
}
