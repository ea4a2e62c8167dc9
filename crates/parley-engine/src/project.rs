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
    /// Whether web pages may talk to the project without a key on Voiceflow's public route
    /// (`/public/{projectID}/…`, what Voiceflow's web widget calls, and a v4 session start),
    /// under the origin rule above and a per-client rate limit. When absent: yes while the
    /// project has never had a key, no once it has one (a project locked with a key stays
    /// locked); `true` opens the public route of a project with keys, `false` closes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access: Option<bool>,
    /// Requests per minute one client address may make without a key on the public route.
    #[serde(
        default = "public_rate_by_default",
        skip_serializing_if = "is_default_public_rate"
    )]
    pub public_requests_per_minute: u32,
    /// How the assistant looks in Voiceflow's web widget, which reads it at load
    /// (`GET /public/{projectID}/publishing`). Parley's widget takes the same from its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant: Option<Assistant>,
    pub versions: Vec<Version>,
}

/// The assistant's look, as Voiceflow's publishing settings name it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assistant {
    /// The title in the chat's header (the project's name when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The accent colour, `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// The assistant's picture in the header, and its avatar beside its messages (URLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// The keyless public route's rate per client address, unless the project sets one.
pub const DEFAULT_PUBLIC_REQUESTS_PER_MINUTE: u32 = 120;

fn public_rate_by_default() -> u32 {
    DEFAULT_PUBLIC_REQUESTS_PER_MINUTE
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if"
)]
fn is_default_public_rate(n: &u32) -> bool {
    *n == DEFAULT_PUBLIC_REQUESTS_PER_MINUTE
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
    /// A custom entity's name, or a built-in: `number`, `email`, `yes_no`, `date` (ISO 8601:
    /// `2026-12-24`, `--12-24` without a year, or a relative day as said: `tomorrow`).
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
    /// The language of the version's expressions (conditions, set blocks): `rhai` (Parley's
    /// own) or `javascript` (Voiceflow's, which code blocks need; imported projects use it).
    #[serde(default, skip_serializing_if = "ExpressionLanguage::is_rhai")]
    pub expression_language: ExpressionLanguage,
}

/// The language a version's expressions are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExpressionLanguage {
    /// Rhai: sandboxed, its variables checked when the project is compiled.
    #[default]
    Rhai,
    /// JavaScript (QuickJS), with the variables as globals, as Voiceflow runs its projects'.
    Javascript,
}

impl ExpressionLanguage {
    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's skip_serializing_if"
    )]
    fn is_rhai(&self) -> bool {
        *self == ExpressionLanguage::Rhai
    }
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
            expression_language: ExpressionLanguage::Rhai,
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

/// A project file that is not a project, or not one: what is wrong, where in the JSON (the
/// path of the value, `versions[0].flows[0].blocks[3]`; empty for the whole document) and where
/// in the file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectError {
    pub path: String,
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for ProjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for ProjectError {}

impl ProjectError {
    /// serde_json's error reading the text, at its line and column (its message without them).
    fn of_text(e: &serde_json::Error) -> ProjectError {
        let message = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        ProjectError {
            path: String::new(),
            message: message.strip_suffix(&suffix).unwrap_or(&message).to_owned(),
            line: e.line(),
            column: e.column(),
        }
    }
}

/// What [`Project::read_json`] made of a file: every problem of its shape it found and, when
/// each of them could be set aside (an unknown field is dropped), the project without them, for
/// validation to find the rest.
#[derive(Debug)]
pub struct Read {
    pub project: Option<Project>,
    pub problems: Vec<ProjectError>,
}

/// Shape problems reported at most, each costing one more pass over the document.
const MAX_PROBLEMS: usize = 50;

impl Project {
    /// Reads a project from JSON; the error is the first problem, with its JSON path, line and
    /// column.
    pub fn from_json(text: &str) -> Result<Project, ProjectError> {
        let read = Project::read_json(text);
        match (read.project, read.problems.into_iter().next()) {
            (Some(project), None) => Ok(project),
            (_, Some(first)) => Err(first),
            (None, None) => unreachable!("read_json gives a project or a problem"),
        }
    }

    /// Reads a project from JSON, going on past the problems it can set aside: an unknown field
    /// (a typo, a field of another block type) is reported and dropped, and the rest read again;
    /// any other problem stops the reading.
    pub fn read_json(text: &str) -> Read {
        // The common case, a valid file, in one pass.
        let direct = match serde_json::from_str::<Project>(text) {
            Ok(project) => {
                return Read {
                    project: Some(project),
                    problems: Vec::new(),
                };
            }
            Err(e) => e,
        };
        // A syntax error (or the end of the file): serde_json knows where.
        let only = |e: &serde_json::Error| Read {
            project: None,
            problems: vec![ProjectError::of_text(e)],
        };
        let document = match direct.is_data() {
            true => serde_json::from_str::<Value>(text),
            false => return only(&direct),
        };
        let mut document = match document {
            Ok(document) => document,
            Err(e) => return only(&e),
        };
        let mut problems = Vec::new();
        while problems.len() < MAX_PROBLEMS {
            let e = match serde_path_to_error::deserialize::<_, Project>(&document) {
                // What only the text shows (a key given twice, which the document keeps once):
                // serde_json's own error, with its position.
                Ok(_) if problems.is_empty() => return only(&direct),
                Ok(project) => {
                    return Read {
                        project: Some(project),
                        problems,
                    };
                }
                Err(e) => e,
            };
            let segments: Vec<Step> = e
                .path()
                .iter()
                .map_while(|s| match s {
                    serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                    // An externally tagged variant is a key in JSON.
                    serde_path_to_error::Segment::Enum { variant } => {
                        Some(Step::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => None,
                })
                .collect();
            let message = e.inner().to_string();
            let unknown = quoted_after(&message, "unknown field ");
            let mut segments = segments;
            // The path of an unknown field names the object (inside a block) or the field itself
            // (elsewhere): name the object, as for a block.
            if let (Some(field), Some(Step::Key(last))) = (&unknown, segments.last())
                && field == last
            {
                segments.pop();
            }
            // Point at the unknown key itself, or at the value the path names.
            let offset = locate(text, &segments, unknown.as_deref())
                .or_else(|| locate(text, &segments, None))
                .unwrap_or(0);
            let (line, column) = line_and_column(text, offset);
            problems.push(ProjectError {
                path: path_string(&segments),
                message,
                line,
                column,
            });
            let dropped = unknown.is_some_and(|field| {
                value_at(&mut document, &segments)
                    .and_then(Value::as_object_mut)
                    .and_then(|object| object.remove(&field))
                    .is_some()
            });
            if !dropped {
                break;
            }
        }
        Read {
            project: None,
            problems,
        }
    }

    /// Where the value at `path` (`versions[0].flows[2].blocks[1].next`, as validation's
    /// locations spell it) starts in the project file `text`: 1-based line and column. As deep
    /// as the path exists.
    pub fn position(text: &str, path: &str) -> Option<(usize, usize)> {
        let mut segments = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (key, indexes) = part.split_once('[').unwrap_or((part, ""));
            if !key.is_empty() {
                segments.push(Step::Key(key.to_owned()));
            }
            for index in indexes.split('[') {
                if let Ok(i) = index.trim_end_matches(']').parse() {
                    segments.push(Step::Index(i));
                }
            }
        }
        (0..=segments.len())
            .rev()
            .find_map(|n| locate(text, &segments[..n], None))
            .map(|offset| line_and_column(text, offset))
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

/// One step of a JSON path.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn path_string(segments: &[Step]) -> String {
    let mut path = String::new();
    for s in segments {
        match s {
            Step::Key(k) if path.is_empty() => path.push_str(k),
            Step::Key(k) => {
                path.push('.');
                path.push_str(k);
            }
            Step::Index(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

/// `unknown field `next`, expected …` → `next`.
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?.strip_prefix('`')?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn value_at<'a>(value: &'a mut Value, segments: &[Step]) -> Option<&'a mut Value> {
    segments.iter().try_fold(value, |v, s| match s {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The byte offset in `text` (a syntactically valid JSON document) of the value at `segments`,
/// or of the key `key` of the object there.
fn locate(text: &str, segments: &[Step], key: Option<&str>) -> Option<usize> {
    let mut scan = Scan {
        bytes: text.as_bytes(),
        at: 0,
    };
    scan.space();
    for s in segments {
        match s {
            Step::Key(k) => {
                scan.find_key(text, k)?;
                scan.space();
            }
            Step::Index(i) => {
                scan.expect(b'[')?;
                for _ in 0..*i {
                    scan.space();
                    scan.skip_value()?;
                    scan.space();
                    scan.expect(b',')?;
                }
                scan.space();
            }
        }
    }
    match key {
        Some(k) => scan.find_key(text, k),
        None => Some(scan.at),
    }
}

/// A cursor over a valid JSON document.
struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// Past a string; answers its raw extent (quotes included).
    fn skip_string(&mut self) -> Option<(usize, usize)> {
        let start = self.at;
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Some((start, self.at));
                }
                _ => self.at += 1,
            }
        }
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string().map(|_| ()),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.at += 1;
                loop {
                    self.space();
                    match self.peek()? {
                        b if b == close => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' | b':' => self.at += 1,
                        _ => self.skip_value()?,
                    }
                }
            }
            _ => {
                // A number, `true`, `false` or `null`.
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// In the object at the cursor, finds the member `key`: leaves the cursor on its value and
    /// answers where the key starts.
    fn find_key(&mut self, text: &str, key: &str) -> Option<usize> {
        self.expect(b'{')?;
        loop {
            self.space();
            let (start, end) = self.skip_string()?;
            let name: String = serde_json::from_str(&text[start..end]).ok()?;
            self.space();
            self.expect(b':')?;
            self.space();
            if name == key {
                return Some(start);
            }
            self.skip_value()?;
            self.space();
            self.expect(b',')?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Project;

    const BLOCKS: &str = r#"{
  "id": "p",
  "name": "P",
  "versions": [
    {
      "id": "v",
      "startFlow": "main",
      "flows": [
        {
          "id": "main",
          "start": "a",
          "blocks": [
            { "id": "a", "type": "text", "texts": ["hi"], "colour": "red", "next": "b" },
            { "id": "b", "type": "condition", "branches": [], "next": "c" },
            { "id": "c", "type": "end" }
          ]
        }
      ],
      "variabels": []
    }
  ]
}"#;

    #[test]
    fn unknown_fields_are_each_reported_with_path_and_position_then_set_aside() {
        let read = Project::read_json(BLOCKS);
        let problems: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "versions[0].flows[0].blocks[0]: unknown field `colour`, expected one of `id`, \
                 `texts`, `delay`, `next` at line 13 column 59",
                "versions[0].flows[0].blocks[1]: unknown field `next`, expected one of `id`, \
                 `branches`, `else` at line 14 column 63",
                "versions[0]: unknown field `variabels`, expected one of `id`, `startFlow`, \
                 `flows`, `intents`, `entities`, `variables`, `settings` at line 19 column 7",
            ]
        );
        // Without them the project reads, for validation to go on.
        let project = read
            .project
            .expect("read once the unknown fields are dropped");
        assert_eq!(project.versions[0].flows[0].blocks.len(), 3);
        // from_json answers the first.
        assert_eq!(Project::from_json(BLOCKS).unwrap_err(), read.problems[0]);
    }

    #[test]
    fn other_problems_stop_the_reading_and_point_at_the_value() {
        let text = BLOCKS.replace(r#""startFlow": "main""#, r#""startFlow": 7"#);
        let read = Project::read_json(&text);
        assert!(read.project.is_none());
        let last = read.problems.last().unwrap().to_string();
        assert_eq!(
            last,
            "versions[0].startFlow: invalid type: integer `7`, expected a string at line 7 \
             column 20"
        );
        let text = BLOCKS.replace(r#""type": "end""#, r#""type": "teleport""#);
        let first = Project::from_json(&text).unwrap_err();
        assert_eq!(first.path, "versions[0].flows[0].blocks[0]", "{first}");
        let read = Project::read_json(&text);
        let last = read.problems.last().unwrap();
        assert_eq!(last.path, "versions[0].flows[0].blocks[2].type");
        assert!(
            last.message.starts_with("unknown variant `teleport`"),
            "{last}"
        );
        assert_eq!((last.line, last.column), (15, 34));
    }

    #[test]
    fn a_key_given_twice_is_refused() {
        let text = r#"{ "id": "p", "name": "P", "name": "Q", "versions": [] }"#;
        let read = Project::read_json(text);
        assert!(read.project.is_none());
        assert_eq!(read.problems.len(), 1);
        assert_eq!(
            read.problems[0].to_string(),
            "duplicate field `name` at line 1 column 32"
        );
    }

    #[test]
    fn syntax_errors_keep_serde_json_s_position() {
        let e = Project::from_json("{\n  \"id\": \"p\",\n  \"name\"").unwrap_err();
        assert_eq!(e.path, "");
        assert_eq!(
            e.to_string(),
            "EOF while parsing an object at line 3 column 8"
        );
    }

    #[test]
    fn positions_of_validation_paths() {
        assert_eq!(
            Project::position(BLOCKS, "versions[0].flows[0].blocks[2].type"),
            Some((15, 34))
        );
        assert_eq!(
            Project::position(BLOCKS, "versions[0].startFlow"),
            Some((7, 20))
        );
        // As deep as the path exists.
        assert_eq!(
            Project::position(BLOCKS, "versions[0].flows[0].blocks[7]"),
            Some((12, 21))
        );
        assert_eq!(Project::position(BLOCKS, ""), Some((1, 1)));
    }
}
