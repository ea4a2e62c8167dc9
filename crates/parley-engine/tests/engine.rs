//! The engine's tests, as data.
//!
//! - `tests/conversations/*.json`: a project (a file or inline), then turns: a request in, the
//!   traces expected out (one line each, see [`describe`]) and, optionally, variables. Every turn
//!   is also run a second time from the same JSON state to check determinism, and the state
//!   goes through JSON between turns, as it does in the stateless API.
//! - `tests/validation/*.json`: a project and every diagnostic it must produce.
//! - `tests/nlu/heldout.json`: paraphrases the demo project never saw, with their intents.

use std::path::{Path, PathBuf};

use parley_engine::{
    ApiResult, CompiledProject, CompiledVersion, Context, Effect, Input, LlmResult, Project, Turn,
    compile, step,
};
use parley_protocol::{Request, State, Trace, TraceKind};
use serde::Deserialize;
use serde_json::{Value, json};

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn json_files(dir: &str) -> Vec<PathBuf> {
    let dir = here().join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests in {}", dir.display());
    files
}

/// A project given by path (relative to the test file) or inline.
fn load_project(spec: &Value, base: &Path) -> Project {
    match spec {
        Value::String(path) => {
            let path = base.parent().unwrap().join(path);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // A Voiceflow export (issue 18) runs through the import, unsupported nodes and all.
            if path.extension().is_some_and(|e| e == "vfr" || e == "vf") {
                return parley_engine::voiceflow::import(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                    .project;
            }
            Project::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
        inline => serde_json::from_value(inline.clone()).unwrap_or_else(|e| panic!("{e}")),
    }
}

fn demo_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/projects/pizza/project.json")
}

fn demo() -> CompiledProject {
    let text = std::fs::read_to_string(demo_path()).unwrap();
    compile(Project::from_json(&text).unwrap()).unwrap_or_else(|r| panic!("{r}"))
}

fn compiled(spec: &Value, base: &Path) -> CompiledProject {
    compile(load_project(spec, base)).unwrap_or_else(|report| panic!("{report}"))
}

/// One line per trace: what a reader of a transcript needs to see.
fn describe(trace: &Trace) -> String {
    let buttons = |b: &Option<Vec<parley_protocol::Button>>| {
        b.iter()
            .flatten()
            .map(|b| b.name.clone())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    match &trace.kind {
        TraceKind::Text(p) => {
            let ai = if p.ai == Some(true) { " [ai]" } else { "" };
            match &p.delay {
                Some(delay) => format!(
                    "text: {}{ai} (delay {delay})",
                    p.message.clone().unwrap_or_default()
                ),
                None => format!("text: {}{ai}", p.message.clone().unwrap_or_default()),
            }
        }
        TraceKind::Speak(p) => match &p.src {
            Some(src) => format!(
                "speak: {} [audio {src}]",
                p.message.clone().unwrap_or_default()
            ),
            None => format!("speak: {}", p.message.clone().unwrap_or_default()),
        },
        TraceKind::Visual(p) => {
            let size = p
                .dimensions
                .as_ref()
                .map(|d| format!(" {}x{}", d.width, d.height))
                .unwrap_or_default();
            format!("image: {}{size}", p.image.clone().unwrap_or_default())
        }
        TraceKind::CardV2(c) => format!(
            "card: {} / {} / {} [{}]",
            c.title.clone().unwrap_or_default(),
            c.description
                .as_ref()
                .and_then(|d| d.text.clone())
                .unwrap_or_default(),
            c.image_url.clone().unwrap_or_default(),
            buttons(&c.buttons)
        ),
        TraceKind::Carousel(p) => format!(
            "carousel: {}",
            p.cards
                .iter()
                .map(|c| format!(
                    "{} [{}]",
                    c.title.clone().unwrap_or_default(),
                    buttons(&c.buttons)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        TraceKind::Choice(p) => format!("choice: {}", buttons(&Some(p.buttons.clone()))),
        TraceKind::NoReply(p) => format!("no-reply: {}", p.timeout),
        TraceKind::End(_) => "end".to_owned(),
        TraceKind::Diagnostic { kind, payload } => {
            format!("{}: {}", kind.as_str(), payload.clone().unwrap_or_default())
        }
        TraceKind::Custom { kind, payload } => format!(
            "custom {kind}: {} paths: {} default: {}",
            payload.clone().unwrap_or_default(),
            trace
                .action_paths()
                .into_iter()
                .map(|p| p.request_type)
                .collect::<Vec<_>>()
                .join(", "),
            trace
                .default_path()
                .map(|d| d.to_string())
                .unwrap_or_default()
        ),
        TraceKind::Invalid { kind, reason, .. } => format!("INVALID {kind}: {reason}"),
    }
}

fn describe_turn(turn: &Turn) -> Vec<String> {
    let mut lines: Vec<String> = turn.traces.iter().map(describe).collect();
    if let Some(Effect::Http(h)) = &turn.effect {
        let headers: Vec<String> = h.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        lines.push(format!(
            "effect: {} {} [{}] {} {}ms",
            h.method,
            h.url,
            headers.join(", "),
            h.body.clone().unwrap_or_default(),
            h.timeout_ms
        ));
    }
    if let Some(Effect::Llm(l)) = &turn.effect {
        let messages: Vec<String> = l
            .messages
            .iter()
            .map(|m| format!("{}: {}", m.role, m.content))
            .collect();
        lines.push(format!(
            "effect: llm {} t={} max={} {}ms [{}]",
            l.model.as_deref().unwrap_or("default"),
            l.temperature
                .map_or("default".to_owned(), |t| t.to_string()),
            l.max_tokens.map_or("default".to_owned(), |t| t.to_string()),
            l.timeout_ms,
            messages.join(" | ")
        ));
    }
    lines
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Conversation {
    about: String,
    project: Value,
    #[serde(default = "development")]
    version: String,
    #[serde(default)]
    seed: u64,
    turns: Vec<TurnSpec>,
}

fn development() -> String {
    "development".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnSpec {
    /// Shorthands for the request; exactly one of them.
    #[serde(default)]
    request: Option<Value>,
    #[serde(default)]
    launch: Option<Value>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    intent: Option<Value>,
    /// Clicks the button with this label in the previous turn's traces.
    #[serde(default)]
    button: Option<String>,
    /// A custom action's path.
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    no_reply: bool,
    /// An API call's result: `{ "status", "body" }` or `{ "failed": reason }`.
    #[serde(default)]
    api: Option<Value>,
    /// A model's answer to an LLM block: `{ "answer": text }` or `{ "failed": reason }`.
    #[serde(default)]
    llm: Option<Value>,
    /// Start this turn from this state instead of the previous turn's (forged states).
    #[serde(default)]
    state: Option<Value>,
    /// The request's `config.stopAll` and `config.stopTypes`.
    #[serde(default)]
    stop_all: bool,
    #[serde(default)]
    stop_types: Vec<String>,
    /// The caller's clock (Unix seconds), user id and platform, as the stateful flavour gives
    /// them.
    #[serde(default)]
    now: Option<i64>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    traces: Option<Vec<String>>,
    #[serde(default)]
    variables: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    error: Option<String>,
    /// What the turn's request was understood as (`type` and, for intents, the name).
    #[serde(default)]
    understood: Option<String>,
}

fn find_button(traces: &[Trace], label: &str) -> Request {
    let mut all = Vec::new();
    for t in traces {
        match &t.kind {
            TraceKind::Choice(p) => all.extend(p.buttons.iter().cloned()),
            TraceKind::CardV2(c) => all.extend(c.buttons.iter().flatten().cloned()),
            TraceKind::Carousel(p) => all.extend(
                p.cards
                    .iter()
                    .flat_map(|c| c.buttons.iter().flatten().cloned()),
            ),
            _ => {}
        }
    }
    all.into_iter()
        .find(|b| b.name == label)
        .unwrap_or_else(|| panic!("no button `{label}` in the previous turn"))
        .request
}

fn input_of(spec: &TurnSpec, previous: &[Trace]) -> Input {
    let request = |v: Value| Input::Request(serde_json::from_value(v).unwrap());
    if let Some(v) = &spec.request {
        return request(v.clone());
    }
    if let Some(payload) = &spec.launch {
        return match payload {
            Value::Bool(true) => request(json!({ "type": "launch" })),
            payload => request(json!({ "type": "launch", "payload": payload })),
        };
    }
    if let Some(text) = &spec.text {
        return request(json!({ "type": "text", "payload": text }));
    }
    if let Some(intent) = &spec.intent {
        return match intent {
            Value::String(name) => {
                request(json!({ "type": "intent", "payload": { "intent": { "name": name } } }))
            }
            payload => request(json!({ "type": "intent", "payload": payload })),
        };
    }
    if let Some(label) = &spec.button {
        return Input::Request(find_button(previous, label));
    }
    if let Some(path) = &spec.action {
        return request(json!({ "type": path }));
    }
    if spec.no_reply {
        return request(json!({ "type": "no-reply" }));
    }
    if let Some(api) = &spec.api {
        return Input::ApiResult(match api.get("failed") {
            Some(reason) => ApiResult::Failed {
                reason: reason.as_str().unwrap_or_default().to_owned(),
            },
            None => ApiResult::Response {
                status: api["status"].as_u64().unwrap() as u16,
                body: match &api["body"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            },
        });
    }
    if let Some(llm) = &spec.llm {
        return Input::LlmResult(match llm.get("failed") {
            Some(reason) => LlmResult::Failed {
                reason: reason.as_str().unwrap_or_default().to_owned(),
            },
            None => LlmResult::Answer {
                text: llm["answer"].as_str().unwrap().to_owned(),
            },
        });
    }
    panic!("a turn needs a request, launch, text, intent, button, action, no_reply, api or llm");
}

fn understood(request: &Option<Request>) -> String {
    match request.as_ref().map(|r| &r.kind) {
        Some(parley_protocol::RequestKind::Intent(p)) => format!(
            "intent {} {}",
            p.intent.name,
            p.entities
                .iter()
                .flatten()
                .map(|e| format!("{}={}", e.name, e.value))
                .collect::<Vec<_>>()
                .join(" ")
        )
        .trim_end()
        .to_owned(),
        Some(_) => request.as_ref().unwrap().type_name().to_owned(),
        None => "nothing".to_owned(),
    }
}

fn run_turn(
    version: &CompiledVersion,
    state_json: Option<&str>,
    input: Input,
    ctx: &Context,
) -> Result<(Turn, String), String> {
    let state: Option<State> = state_json.map(|s| serde_json::from_str(s).expect("state JSON"));
    let turn = step(version, state.as_ref(), input, ctx).map_err(|e| e.to_string())?;
    // The stateless path: the state leaves as JSON and comes back as JSON.
    let json = serde_json::to_string(&turn.state).unwrap();
    Ok((turn, json))
}

fn check_conversation(path: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(path).unwrap();
    let conversation: Conversation =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        !conversation.about.is_empty(),
        "{name}: say what it checks in `about`"
    );
    let project = compiled(&conversation.project, path);
    let version = project
        .version(&conversation.version)
        .unwrap_or_else(|| panic!("{name}: no version {}", conversation.version));
    let ctx = Context {
        seed: conversation.seed,
        ..Context::default()
    };
    let mut state: Option<String> = None;
    let mut previous: Vec<Trace> = Vec::new();
    // `PARLEY_RECORD=1` writes what the engine said into the file instead of comparing: for
    // writing a new test, whose transcript must then be read line by line before committing.
    let record = std::env::var_os("PARLEY_RECORD").is_some();
    let mut recorded: Value = serde_json::from_str(&text).unwrap();
    for (i, spec) in conversation.turns.iter().enumerate() {
        let at = format!("{name}, turn {}", i + 1);
        let from = spec.state.as_ref().map(|s| s.to_string()).or(state.clone());
        let input = input_of(spec, &previous);
        let ctx = Context {
            stop_all: spec.stop_all,
            stop_types: spec.stop_types.clone(),
            now: spec.now,
            user_id: spec.user_id.clone(),
            platform: spec.platform.clone(),
            ..ctx.clone()
        };
        let first = run_turn(version, from.as_deref(), input.clone(), &ctx);
        let again = run_turn(version, from.as_deref(), input, &ctx);
        match (&first, &again) {
            (Ok((t1, s1)), Ok((t2, s2))) => {
                assert_eq!(
                    s1, s2,
                    "{at}: the same state and request gave another state"
                );
                assert_eq!(
                    serde_json::to_string(&t1.traces).unwrap(),
                    serde_json::to_string(&t2.traces).unwrap(),
                    "{at}: the same state and request gave other traces"
                );
            }
            (a, b) => assert_eq!(a.is_err(), b.is_err(), "{at}: not deterministic"),
        }
        match (first, &spec.error) {
            (Err(error), Some(expected)) => {
                assert_eq!(&error, expected, "{at}: another error");
                continue;
            }
            (Err(error), None) => panic!("{at}: unexpected error: {error}"),
            (Ok(_), Some(expected)) => panic!("{at}: expected the error {expected:?}"),
            (Ok((turn, json)), None) => {
                let got = describe_turn(&turn);
                if record {
                    recorded["turns"][i]["traces"] = json!(got);
                } else if let Some(expected) = &spec.traces {
                    assert_eq!(
                        &got,
                        expected,
                        "{at}: other traces; got:\n{}",
                        serde_json::to_string_pretty(&got).unwrap()
                    );
                }
                if let Some(expected) = &spec.variables {
                    for (k, v) in expected {
                        assert_eq!(turn.state.variables.get(k), Some(v), "{at}: variable `{k}`");
                    }
                }
                if let Some(expected) = &spec.understood {
                    assert_eq!(&understood(&turn.request), expected, "{at}: understood as");
                }
                previous = turn.traces;
                state = Some(json);
            }
        }
    }
    if record {
        let text = serde_json::to_string_pretty(&recorded).unwrap() + "\n";
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn conversations() {
    // `PARLEY_CONVERSATIONS=<dir>` runs the tests of that directory instead: a transcript the
    // workbench exported (e2e/workbench.cjs) before it is copied in here.
    let dir = std::env::var("PARLEY_CONVERSATIONS").unwrap_or_else(|_| "conversations".into());
    let files = json_files(&dir);
    for path in &files {
        check_conversation(path);
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationCase {
    about: String,
    project: Value,
    diagnostics: Vec<String>,
}

#[test]
fn validation() {
    for path in json_files("validation") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case: ValidationCase = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!case.about.is_empty());
        let project = load_project(&case.project, &path);
        let got: Vec<String> = match compile(project) {
            Ok(p) => p.warnings().iter().map(ToString::to_string).collect(),
            Err(report) => report.diagnostics.iter().map(ToString::to_string).collect(),
        };
        if std::env::var_os("PARLEY_RECORD").is_some() {
            let mut recorded: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            recorded["diagnostics"] = json!(got);
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&recorded).unwrap() + "\n",
            )
            .unwrap();
            continue;
        }
        assert_eq!(
            got,
            case.diagnostics,
            "{name}: other diagnostics; got:\n{}",
            serde_json::to_string_pretty(&got).unwrap()
        );
    }
}

#[test]
fn the_demo_project_is_clean() {
    let compiled = demo();
    let warnings: Vec<String> = compiled
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(warnings, Vec::<String>::new());
}

#[test]
fn the_committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("project.schema.json");
    let current = serde_json::to_string_pretty(&Project::json_schema()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == current,
        "project.schema.json is stale: run `UPDATE_SCHEMA=1 cargo test -p parley-engine --test engine`"
    );
}

#[derive(Debug, Deserialize)]
struct Heldout {
    text: String,
    intent: Option<String>,
}

/// The NLU on paraphrases the demo project never saw. The floor guards against regressions;
/// `cargo bench -p parley-engine` prints the figures.
#[test]
fn nlu_accuracy_on_held_out_paraphrases() {
    let project = demo();
    let version = project.version("development").unwrap();
    let cases: Vec<Heldout> =
        serde_json::from_str(&std::fs::read_to_string(here().join("nlu/heldout.json")).unwrap())
            .unwrap();
    let (mut in_scope, mut right, mut said_no_match, mut right_no_match) = (0, 0, 0, 0);
    let mut misses = Vec::new();
    for case in &cases {
        let got = version.classify(&case.text).map(|m| m.intent);
        if case.intent.is_some() {
            in_scope += 1;
        }
        if got.is_none() {
            said_no_match += 1;
            if case.intent.is_none() {
                right_no_match += 1;
            }
        }
        if got == case.intent {
            if case.intent.is_some() {
                right += 1;
            }
        } else {
            misses.push(format!(
                "{:?} → {got:?} (expected {:?})",
                case.text, case.intent
            ));
        }
    }
    let accuracy = right as f64 / in_scope as f64;
    let precision = right_no_match as f64 / said_no_match.max(1) as f64;
    eprintln!(
        "NLU: top-1 accuracy {accuracy:.3} ({right}/{in_scope}), no-match precision {precision:.3} ({right_no_match}/{said_no_match})"
    );
    for m in &misses {
        eprintln!("  miss: {m}");
    }
    assert!(
        accuracy >= 0.85,
        "top-1 accuracy {accuracy:.3} fell below 0.85:\n{}",
        misses.join("\n")
    );
    assert!(
        precision >= 0.75,
        "no-match precision {precision:.3} fell below 0.75:\n{}",
        misses.join("\n")
    );
}

/// A small deterministic generator for the mutation tests (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Picks a random node of the tree and changes it: removed, retyped, or given a name that
/// exists elsewhere in the project (which makes the interesting, almost-valid mistakes).
fn mutate(value: &mut Value, rng: &mut Rng, names: &[String]) {
    let descend = rng.below(4) != 0;
    match value {
        Value::Object(map) if !map.is_empty() && descend => {
            let key = map.keys().nth(rng.below(map.len())).unwrap().clone();
            if rng.below(8) == 0 {
                map.remove(&key);
            } else if let Some(child) = map.get_mut(&key) {
                mutate(child, rng, names);
            }
        }
        Value::Array(items) if !items.is_empty() && descend => {
            let i = rng.below(items.len());
            match rng.below(8) {
                0 => {
                    items.remove(i);
                }
                1 => {
                    let copy = items[i].clone();
                    items.push(copy);
                }
                _ => mutate(&mut items[i], rng, names),
            }
        }
        leaf => {
            *leaf = match rng.below(9) {
                0 => Value::Null,
                1 => json!(rng.next() as i64),
                2 => json!(-1),
                3 => json!(""),
                4 => json!(names[rng.below(names.len())]),
                5 => json!([]),
                6 => json!({}),
                7 => json!(true),
                _ => json!("{missing} ] } \" \u{0}"),
            }
        }
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Never a panic on any project: thousands of mutated copies of the demo go through the loader
/// and validation, and those that still compile hold a short conversation. (`fuzz/` has the
/// coverage-guided version of this.)
#[test]
fn mutated_projects_never_panic() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/projects/pizza/project.json");
    let original: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = Vec::new();
    collect_strings(&original, &mut names);
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let (mut parsed, mut compiled_ok) = (0, 0);
    for _ in 0..1500 {
        let mut project = original.clone();
        for _ in 0..=rng.below(3) {
            mutate(&mut project, &mut rng, &names);
        }
        let Ok(project) = serde_json::from_value::<Project>(project) else {
            continue;
        };
        parsed += 1;
        let Ok(compiled) = compile(project) else {
            continue;
        };
        compiled_ok += 1;
        for version in compiled.versions() {
            let mut state: Option<State> = None;
            for text in ["launch", "a large pepperoni pizza", "2", "help", "menu"] {
                let request = if text == "launch" {
                    Request::launch()
                } else {
                    Request::text(text)
                };
                let ctx = Context {
                    seed: rng.next(),
                    ..Context::default()
                };
                if let Ok(turn) = step(version, state.as_ref(), Input::Request(request), &ctx) {
                    state = Some(turn.state);
                }
            }
        }
    }
    // The mutations must exercise both paths, or this test proves nothing.
    assert!(
        parsed > 150 && compiled_ok > 50,
        "parsed {parsed}, compiled {compiled_ok}"
    );
}

/// Never a panic on any state: mutated copies of real states are refused or used, never crash.
#[test]
fn mutated_states_never_panic() {
    let project = demo();
    let version = project.version("development").unwrap();
    let mut states = Vec::new();
    let mut state: Option<State> = None;
    for text in ["launch", "a large pizza", "Pepperoni", "3"] {
        let request = if text == "launch" {
            Request::launch()
        } else {
            Request::text(text)
        };
        let turn = step(
            version,
            state.as_ref(),
            Input::Request(request),
            &Context::default(),
        )
        .unwrap();
        states.push(serde_json::to_value(&turn.state).unwrap());
        state = Some(turn.state);
    }
    let mut names = Vec::new();
    collect_strings(
        &serde_json::to_value(version.definition()).unwrap(),
        &mut names,
    );
    let mut rng = Rng(0xC0FF_EE00_0000_0042);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..3000 {
        let mut value = states[i % states.len()].clone();
        mutate(&mut value, &mut rng, &names);
        let Ok(state) = serde_json::from_value::<State>(value) else {
            continue;
        };
        match step(
            version,
            Some(&state),
            Input::Request(Request::text("2")),
            &Context::default(),
        ) {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(
        accepted > 100 && refused > 100,
        "accepted {accepted}, refused {refused}"
    );
}

#[test]
fn malformed_project_files_say_where() {
    let cases = [
        ("{", "EOF while parsing an object at line 1 column 1"),
        (
            r#"{"id": "p", "name": "P", "versions": [{"id": "v", "startFlow": "m", "flows": [{"id": "m", "start": "a", "blocks": [{"id": "a", "type": "teleport"}]}]}]}"#,
            "unknown variant `teleport`",
        ),
        (
            r#"{"id": "p", "name": "P", "versions": [{"id": "v", "startFlow": "m", "flows": [{"id": "m", "start": "a", "blocks": [{"id": "a", "type": "end", "colour": "red"}]}]}]}"#,
            "unknown field `colour`",
        ),
        (
            r#"{"id": "p", "name": "P", "versions": [{"id": "v", "startFlow": "m", "flows": [], "variabels": []}]}"#,
            "unknown field `variabels`",
        ),
        (
            r#"{"id": 7, "name": "P", "versions": []}"#,
            "invalid type: integer `7`, expected a string at line 1 column 8",
        ),
    ];
    for (text, expected) in cases {
        let err = Project::from_json(text).unwrap_err().to_string();
        assert!(err.contains(expected), "{text}: {err}");
    }
}

/// A turn taken with a `Dialogue` (the state read once, written once) gives what `step` gives
/// step by step through the wire state; an input the conversation cannot take changes nothing.
#[test]
fn a_dialogue_gives_what_steps_give() {
    let project = compile(
        serde_json::from_value::<Project>(json!({
            "id": "t", "name": "T", "versions": [{ "id": "v1", "startFlow": "main",
                "variables": [{ "name": "temp", "default": null }],
                "flows": [{ "id": "main", "start": "hi", "blocks": [
                    { "id": "hi", "type": "text", "texts": ["Looking…"], "next": "call" },
                    { "id": "call", "type": "api_call", "method": "GET", "url": "https://api.test/t",
                      "mappings": [{ "path": "t", "variable": "temp" }], "success": "ok" },
                    { "id": "ok", "type": "text", "texts": ["It is {temp}."], "next": "call2" },
                    { "id": "call2", "type": "api_call", "method": "GET", "url": "https://api.test/u",
                      "success": "done" },
                    { "id": "done", "type": "text", "texts": ["Done."] }
                ] }] }]
        }))
        .unwrap(),
    )
    .unwrap();
    let version = project.version("v1").unwrap();
    let ctx = Context {
        seed: 7,
        ..Context::default()
    };
    let answer = |t: &str| {
        Input::ApiResult(ApiResult::Response {
            status: 200,
            body: format!("{{\"t\": {t}}}"),
        })
    };
    // Step by step through the wire state.
    let one = step(version, None, Input::Request(Request::launch()), &ctx).unwrap();
    let two = step(version, Some(&one.state), answer("21"), &ctx).unwrap();
    let three = step(version, Some(&two.state), answer("0"), &ctx).unwrap();
    // The same turn with a dialogue.
    let mut dialogue = parley_engine::Dialogue::resume(version, None, 7).unwrap();
    let a = dialogue
        .handle(version, Input::Request(Request::launch()), &ctx)
        .unwrap();
    // A wrong input (a request while an API call is pending) is refused and changes nothing.
    let before = dialogue.state();
    assert!(
        dialogue
            .handle(version, Input::Request(Request::text("hi")), &ctx)
            .is_err()
    );
    assert_eq!(dialogue.state(), before);
    let b = dialogue.handle(version, answer("21"), &ctx).unwrap();
    let c = dialogue.handle(version, answer("0"), &ctx).unwrap();
    assert_eq!((a.traces, a.effect), (one.traces, one.effect));
    assert_eq!((b.traces, b.effect), (two.traces, two.effect));
    assert_eq!((c.traces, c.effect), (three.traces, three.effect));
    assert_eq!(dialogue.into_state(), three.state);
}
