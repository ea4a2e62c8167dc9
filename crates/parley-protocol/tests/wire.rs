//! Tests as data: every JSON file under `tests/fixtures/<kind>/` is a message in the shape
//! Voiceflow's clients and runtimes send (see `tests/fixtures/SOURCES.md`). Each is parsed into
//! its type, must re-serialise to the same JSON, and has a snapshot of how it was understood.

use std::path::{Path, PathBuf};

use parley_protocol::{
    Config, ErrorBody, Request, State, StatefulRequest, StatelessRequest, StatelessResponse, Trace,
    TraceKind,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The crate's one normalisation: `null` in an object reads as an absent field.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Parses every fixture of one kind as `T`, checks the round trip, snapshots the typed value,
/// and returns the typed values for kind-specific checks.
fn check<T>(kind: &str) -> Vec<(String, T)>
where
    T: DeserializeOwned + Serialize + std::fmt::Debug,
{
    let dir = fixtures_dir().join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());

    let mut parsed = Vec::new();
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let original: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{kind}/{name}.json is not JSON: {e}"));
        let typed: T = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{kind}/{name}.json does not parse: {e}"));
        let written = serde_json::to_value(&typed).unwrap();
        assert_eq!(
            without_nulls(written),
            without_nulls(original),
            "{kind}/{name}.json does not round-trip"
        );
        insta::assert_snapshot!(format!("{kind}__{name}"), format!("{typed:#?}"));
        parsed.push((name, typed));
    }
    parsed
}

/// A known trace type must never have been read as `Invalid` in a fixture of a real shape.
fn assert_no_invalid(kind: &str, name: &str, traces: &[Trace]) {
    for trace in traces {
        if let TraceKind::Invalid {
            kind: t, reason, ..
        } = &trace.kind
        {
            panic!("{kind}/{name}.json: the `{t}` trace was not understood: {reason}");
        }
    }
}

#[test]
fn requests() {
    let requests = check::<Request>("request");
    let text = requests
        .iter()
        .find(|(n, _)| n == "text")
        .expect("a text fixture");
    assert_eq!(text.1.type_name(), "text");
}

#[test]
fn traces() {
    for (name, trace) in check::<Trace>("trace") {
        assert_no_invalid("trace", &name, std::slice::from_ref(&trace));
    }
}

#[test]
fn trace_arrays() {
    for (name, traces) in check::<Vec<Trace>>("trace_array") {
        assert_no_invalid("trace_array", &name, &traces);
    }
}

#[test]
fn stateless_requests() {
    check::<StatelessRequest>("stateless_request");
}

#[test]
fn stateless_responses() {
    for (name, response) in check::<StatelessResponse>("stateless_response") {
        assert_no_invalid("stateless_response", &name, &response.trace);
    }
}

#[test]
fn states() {
    check::<State>("state");
}

#[test]
fn stateful_requests() {
    check::<StatefulRequest>("stateful_request");
}

#[test]
fn configs() {
    check::<Config>("config");
}

#[test]
fn errors() {
    check::<ErrorBody>("error");
}

// Targeted behaviour: the error paths and the accessors a client or the runtime relies on.

fn request(json: Value) -> Result<Request, String> {
    serde_json::from_value(json).map_err(|e| e.to_string())
}

#[test]
fn malformed_requests_are_refused_with_a_reason() {
    let cases = [
        (
            serde_json::json!({ "type": "text", "payload": 42 }),
            "invalid `text` request: the payload must be a string",
        ),
        (
            serde_json::json!({ "type": "text" }),
            "invalid `text` request: the payload must be a string",
        ),
        (
            serde_json::json!({ "type": "intent", "payload": { "query": "hi" } }),
            "invalid `intent` request: missing field `intent`",
        ),
        (
            serde_json::json!({ "type": "intent", "payload": { "intent": { "name": 3 } } }),
            "invalid `intent` request: invalid type: integer `3`, expected a string",
        ),
        (
            serde_json::json!({ "type": "event", "payload": {} }),
            "invalid `event` request: missing field `event`",
        ),
        (
            serde_json::json!({ "type": "launch", "payload": { "variables": [1] } }),
            "invalid `launch` request: invalid type: sequence, expected a map",
        ),
        (
            serde_json::json!({ "type": "", "payload": "x" }),
            "invalid `` request: the type must not be empty",
        ),
        (
            serde_json::json!({ "payload": "x" }),
            "missing field `type`",
        ),
        (
            serde_json::json!({ "type": 7 }),
            "invalid type: integer `7`, expected a string",
        ),
        (
            serde_json::json!("launch"),
            "invalid type: string \"launch\", expected struct RawMessage",
        ),
    ];
    for (json, expected) in cases {
        let err = request(json.clone()).expect_err(&json.to_string());
        assert!(
            err.starts_with(expected),
            "{json}: got {err:?}, expected {expected:?}"
        );
    }
}

#[test]
fn unknown_request_types_are_kept_whole() {
    let json = serde_json::json!({
        "type": "path-64e4c1b8a2f3d50007a1b2c3",
        "payload": { "label": "Large", "actions": [] },
        "diagramID": "64e4c1b8a2f3d50007a1b2c0"
    });
    let request = request(json.clone()).unwrap();
    assert_eq!(request.type_name(), "path-64e4c1b8a2f3d50007a1b2c3");
    assert_eq!(request.label(), Some("Large"));
    assert_eq!(serde_json::to_value(&request).unwrap(), json);
}

#[test]
fn a_known_trace_with_a_bad_payload_is_kept_as_invalid_and_round_trips() {
    let json = serde_json::json!({ "type": "choice", "payload": { "buttons": "nope" }, "time": 1 });
    let trace: Trace = serde_json::from_value(json.clone()).unwrap();
    match &trace.kind {
        TraceKind::Invalid { kind, reason, .. } => {
            assert_eq!(kind, "choice");
            assert!(reason.contains("expected a sequence"), "{reason}");
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(serde_json::to_value(&trace).unwrap(), json);
}

#[test]
fn a_turn_with_one_bad_trace_keeps_the_others() {
    let json = serde_json::json!([
        { "type": "text", "payload": { "message": "Hi" } },
        { "type": "visual", "payload": { "visualType": "image", "image": 5 } },
        { "type": "somethingNew", "payload": null },
        { "type": "end" }
    ]);
    let traces: Vec<Trace> = serde_json::from_value(json).unwrap();
    let kinds: Vec<_> = traces
        .iter()
        .map(|t| match &t.kind {
            TraceKind::Text(_) => "text",
            TraceKind::Invalid { .. } => "invalid",
            TraceKind::Custom { .. } => "custom",
            TraceKind::End(_) => "end",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["text", "invalid", "custom", "end"]);
}

#[test]
fn traces_must_at_least_have_a_string_type() {
    for json in [
        serde_json::json!({ "payload": {} }),
        serde_json::json!({ "type": null }),
        serde_json::json!([]),
    ] {
        assert!(
            serde_json::from_value::<Trace>(json.clone()).is_err(),
            "{json}"
        );
    }
}

#[test]
fn stateful_bodies_accept_action_or_request() {
    let new: StatefulRequest =
        serde_json::from_value(serde_json::json!({ "action": { "type": "launch" } })).unwrap();
    let old: StatefulRequest =
        serde_json::from_value(serde_json::json!({ "request": { "type": "launch" } })).unwrap();
    assert_eq!(new.action, old.action);
    assert_eq!(new.action_key, parley_protocol::ActionKey::Action);
    assert_eq!(old.action_key, parley_protocol::ActionKey::Request);

    let both = serde_json::json!({
        "action": { "type": "text", "payload": "new" },
        "request": { "type": "text", "payload": "old" }
    });
    let body: StatefulRequest = serde_json::from_value(both.clone()).unwrap();
    assert_eq!(
        body.action,
        Request::text("new"),
        "action wins over request"
    );
    assert_eq!(
        serde_json::to_value(&body).unwrap(),
        both,
        "and the body round-trips"
    );

    let err =
        serde_json::from_value::<StatefulRequest>(serde_json::json!({ "config": {} })).unwrap_err();
    assert_eq!(err.to_string(), "missing field `action`");
    let err = serde_json::from_value::<StatefulRequest>(
        serde_json::json!({ "action": { "type": "text", "payload": [] } }),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid `text` request: the payload must be a string"
    );
}

#[test]
fn stateless_bodies_launch_without_a_request_and_need_a_well_formed_state() {
    // No request, or `null` (what runtime-client-js's `start()` sends), is a launch; `action`
    // is read as well as `request`, and wins.
    for body in [
        serde_json::json!({ "state": null }),
        serde_json::json!({ "request": null }),
        serde_json::json!({ "action": null, "request": null }),
    ] {
        let parsed = serde_json::from_value::<StatelessRequest>(body.clone()).unwrap();
        assert_eq!(parsed.request, Request::launch(), "{body}");
    }
    let parsed = serde_json::from_value::<StatelessRequest>(serde_json::json!({
        "action": { "type": "text", "payload": "hi" }, "request": { "type": "launch" }
    }))
    .unwrap();
    assert_eq!(parsed.request, Request::text("hi"));
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        serde_json::json!({
            "action": { "type": "text", "payload": "hi" }, "request": { "type": "launch" }
        })
    );
    let err = serde_json::from_value::<StatelessRequest>(serde_json::json!({
        "state": { "storage": {}, "variables": {} },
        "request": { "type": "launch" }
    }))
    .unwrap_err();
    assert_eq!(err.to_string(), "missing field `stack`");
}

#[test]
fn config_defaults() {
    let config = Config::default();
    assert!(config.strips_ssml(), "stripSSML defaults to true");
    assert!(!config.excludes("debug"));
    let config: Config = serde_json::from_value(
        serde_json::json!({ "stripSSML": false, "excludeTypes": ["block", "debug", "flow"] }),
    )
    .unwrap();
    assert!(!config.strips_ssml());
    assert!(config.excludes("debug") && !config.excludes("text"));
}

#[test]
fn numbers_keep_their_exact_form() {
    for json in [
        serde_json::json!({ "type": "no-reply", "payload": { "timeout": 10 } }),
        serde_json::json!({ "type": "no-reply", "payload": { "timeout": 2.5 } }),
        serde_json::json!({ "type": "text", "payload": { "message": "x", "delay": 1000 }, "time": 1_732_000_000_123_u64 }),
    ] {
        let trace: Trace = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&trace).unwrap(), json);
    }
    let trace: Trace = serde_json::from_value(
        serde_json::json!({ "type": "no-reply", "payload": { "timeout": -1 } }),
    )
    .unwrap();
    let TraceKind::NoReply(p) = trace.kind else {
        panic!()
    };
    assert_eq!(
        p.timeout_secs(),
        None,
        "a negative timeout is not a timeout"
    );
}

#[test]
fn custom_actions_are_known_by_their_paths_even_under_a_builtin_type() {
    let json = serde_json::json!({
        "type": "text",
        "payload": "{\"orderId\": 58213}",
        "defaultPath": 1,
        "paths": [{ "event": { "type": "success" } }, { "event": { "type": "failure" }, "label": "Failed" }, { "event": {} }]
    });
    let trace: Trace = serde_json::from_value(json.clone()).unwrap();
    assert!(matches!(&trace.kind, TraceKind::Custom { kind, .. } if kind == "text"));
    let paths: Vec<_> = trace
        .action_paths()
        .into_iter()
        .map(|p| p.request_type)
        .collect();
    assert_eq!(
        paths,
        ["success", "failure"],
        "a path without an event type is skipped"
    );
    assert_eq!(trace.default_path(), Some(1));
    assert_eq!(serde_json::to_value(&trace).unwrap(), json);
}

/// What a trace means, as one line: the same for the serde types and for `read::read_trace`.
fn meaning_of_typed(trace: &Trace) -> String {
    use parley_protocol::{Button, Card};
    let buttons = |list: &[Button]| {
        list.iter()
            .map(|b| format!("{}->{}", b.name, b.request.type_name()))
            .collect::<Vec<_>>()
    };
    let card = |c: &Card| {
        let d = c.description.as_ref();
        format!(
            "card {:?} {:?} slate={:?} {:?} {:?}",
            c.title,
            d.and_then(|d| d.text.clone()),
            d.and_then(|d| d.slate.as_ref().map(Vec::len)),
            c.image_url,
            buttons(c.buttons.as_deref().unwrap_or_default())
        )
    };
    if matches!(trace.extra.get("paths"), Some(Value::Array(_))) {
        let paths: Vec<String> = trace
            .action_paths()
            .into_iter()
            .map(|p| p.request_type)
            .collect();
        return format!("action {} {paths:?}", trace.type_name());
    }
    match &trace.kind {
        TraceKind::Text(p) => format!(
            "text {:?} slate={:?} delay={:?}",
            p.message,
            p.slate
                .as_ref()
                .and_then(|s| s.content.as_ref().map(Vec::len)),
            p.delay_ms()
        ),
        TraceKind::Speak(p) => format!("speak {:?} {:?}", p.message, p.src),
        TraceKind::Visual(p) => format!(
            "visual {:?} {:?} {:?}",
            p.image,
            p.dimensions.as_ref().and_then(|d| d.width.as_f64()),
            p.dimensions.as_ref().and_then(|d| d.height.as_f64())
        ),
        TraceKind::CardV2(c) => card(c),
        TraceKind::Carousel(p) => format!(
            "carousel {:?}",
            p.cards.iter().map(card).collect::<Vec<_>>()
        ),
        TraceKind::Choice(p) => format!("choice {:?}", buttons(&p.buttons)),
        TraceKind::NoReply(p) => format!("no-reply {:?}", p.timeout_secs()),
        TraceKind::End(_) => "end".to_owned(),
        TraceKind::Diagnostic { kind, .. } => format!("diagnostic {}", kind.as_str()),
        TraceKind::Custom { kind, .. } => format!("other {kind}"),
        TraceKind::Invalid { kind, .. } => format!("invalid {kind}"),
    }
}

fn meaning_of_read(trace: &Value) -> String {
    use parley_protocol::read::{ButtonRead, CardRead, Json, TraceRead, read_trace};
    let buttons = |list: &[ButtonRead<Value>]| {
        list.iter()
            .map(|b| {
                let kind = b.request.field("type").and_then(|t| t.text());
                format!("{}->{}", b.name, kind.unwrap_or_default())
            })
            .collect::<Vec<_>>()
    };
    let card = |c: &CardRead<Value>| {
        format!(
            "card {:?} {:?} slate={:?} {:?} {:?}",
            c.title,
            c.text,
            c.slate.as_ref().map(Vec::len),
            c.image_url,
            buttons(&c.buttons)
        )
    };
    match read_trace(trace) {
        TraceRead::Text {
            message,
            slate,
            delay_ms,
        } => format!(
            "text {message:?} slate={:?} delay={delay_ms:?}",
            slate.as_ref().map(Vec::len)
        ),
        TraceRead::Speak { message, src } => format!("speak {message:?} {src:?}"),
        TraceRead::Visual {
            image,
            width,
            height,
        } => format!("visual {image:?} {width:?} {height:?}"),
        TraceRead::Card(c) => card(&c),
        TraceRead::Carousel(cards) => {
            format!("carousel {:?}", cards.iter().map(card).collect::<Vec<_>>())
        }
        TraceRead::Choice(list) => format!("choice {:?}", buttons(&list)),
        TraceRead::NoReply { timeout_secs } => format!("no-reply {timeout_secs:?}"),
        TraceRead::End => "end".to_owned(),
        TraceRead::Diagnostic(kind) => format!("diagnostic {kind}"),
        TraceRead::Action { kind, paths } => format!("action {kind} {paths:?}"),
        TraceRead::Other(kind) => format!("other {kind}"),
        TraceRead::Invalid { kind, .. } => format!("invalid {kind}"),
    }
}

/// The serde-free reader the widget uses understands every trace fixture, and a set of
/// malformed traces, exactly as the serde types do.
#[test]
fn the_light_reader_agrees_with_the_types() {
    let mut traces: Vec<(String, Value)> = Vec::new();
    let read = |kind: &str| -> Vec<(String, Value)> {
        let dir = fixtures_dir().join(kind);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| {
                let name = format!("{kind}/{}", p.file_stem().unwrap().to_string_lossy());
                (
                    name,
                    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
                )
            })
            .collect()
    };
    traces.extend(read("trace"));
    for (name, list) in read("trace_array") {
        for (i, t) in list.as_array().unwrap().iter().enumerate() {
            traces.push((format!("{name}[{i}]"), t.clone()));
        }
    }
    for (name, response) in read("stateless_response") {
        for (i, t) in response["trace"].as_array().unwrap().iter().enumerate() {
            traces.push((format!("{name}.trace[{i}]"), t.clone()));
        }
    }
    let malformed = serde_json::json!([
        { "type": "text", "payload": { "message": 5 } },
        { "type": "text", "payload": "hello" },
        { "type": "text", "payload": { "message": "hi", "delay": "soon" } },
        { "type": "text", "payload": { "message": "hi", "slate": { "content": "x" } } },
        { "type": "text" },
        { "type": "speak", "payload": [1] },
        { "type": "visual", "payload": { "image": "https://x.example/a.png", "dimensions": { "width": "wide", "height": 1 } } },
        { "type": "visual", "payload": { "image": 7 } },
        { "type": "cardV2", "payload": "card" },
        { "type": "cardV2", "payload": { "title": "T", "buttons": [{ "name": "B" }] } },
        { "type": "cardV2", "payload": { "title": "T", "description": "plain" } },
        { "type": "carousel", "payload": { "cards": "oops" } },
        { "type": "carousel", "payload": { "cards": [{ "title": 3 }] } },
        { "type": "carousel" },
        { "type": "choice", "payload": { "buttons": [{ "name": "A", "request": { "payload": 1 } }] } },
        { "type": "choice", "payload": { "buttons": [{ "name": 1, "request": { "type": "x" } }] } },
        { "type": "choice", "payload": {} },
        { "type": "no-reply", "payload": { "timeout": "10" } },
        { "type": "no-reply", "payload": { "timeout": -1 } },
        { "type": "end", "payload": "bye" },
        { "type": "choice", "payload": { "buttons": [] }, "paths": [{ "event": { "type": "done" } }, { "event": {} }] },
        { "type": "debug", "payload": 1 },
        { "type": "brandNew", "payload": { "x": 1 } }
    ]);
    for (i, t) in malformed.as_array().unwrap().iter().enumerate() {
        traces.push((format!("malformed[{i}]"), t.clone()));
    }
    assert!(traces.len() > 60, "{} traces", traces.len());
    for (name, value) in &traces {
        let typed: Trace = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(
            meaning_of_read(value),
            meaning_of_typed(&typed),
            "{name}: {value}"
        );
    }
}
