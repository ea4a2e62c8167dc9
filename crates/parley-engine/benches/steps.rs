//! Engine speed: turns per second and blocks per second for typical turns, and the cost of a
//! state's JSON round trip. Prints a table; `cargo xtask bench engine` will collect it.
#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::hint::black_box;
use std::time::{Duration, Instant};

use parley_engine::{ApiResult, CompiledVersion, Context, Input, Project, compile, step};
use parley_protocol::{Request, State};
use serde_json::json;

/// Runs `f` repeatedly for about `budget` and returns the mean time per call.
fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    // Warm up, then measure whole batches so the clock is read rarely.
    for _ in 0..10 {
        f();
    }
    let mut calls = 0u32;
    let start = Instant::now();
    while start.elapsed() < budget {
        for _ in 0..50 {
            f();
        }
        calls += 50;
    }
    start.elapsed() / calls
}

fn turn(version: &CompiledVersion, state: Option<&State>, input: Input) -> State {
    step(version, state, input, &Context { seed: 1 })
        .expect("the bench conversation is valid")
        .state
}

fn text(t: &str) -> Input {
    Input::Request(Request::text(t))
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("PARLEY_BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let demo_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/projects/pizza/project.json"),
    )
    .unwrap();
    let demo = compile(Project::from_json(&demo_text).unwrap()).unwrap();
    let v = demo.version("development").unwrap();

    let launched = turn(v, None, Input::Request(Request::launch()));
    let at_quantity = turn(v, Some(&launched), text("I'd like a large pepperoni pizza"));
    let at_card = turn(v, Some(&at_quantity), text("2"));
    let confirm = serde_json::from_value::<Request>(json!({
        "type": "path-summary-0", "payload": { "label": "Confirm" }
    }))
    .unwrap();
    let mut at_api = turn(v, Some(&at_card), Input::Request(confirm.clone()));
    for input in [
        text("Dana"),
        text("dana@example.com"),
        Input::Request(Request::action("success", None)),
    ] {
        at_api = turn(v, Some(&at_api), input);
    }

    let chain = chain_project(100);
    let chain = compile(chain).unwrap();
    let cv = chain.version("v1").unwrap();

    let rows: Vec<(&str, u32, Duration)> = vec![
        (
            "launch (welcome, image, choice)",
            5,
            time(budget, || {
                black_box(turn(v, None, Input::Request(Request::launch())));
            }),
        ),
        (
            "text with NLU and slots",
            3,
            time(budget, || {
                black_box(turn(
                    v,
                    Some(&launched),
                    text("I'd like a large pepperoni pizza"),
                ));
            }),
        ),
        (
            "text, no match",
            1,
            time(budget, || {
                black_box(turn(
                    v,
                    Some(&launched),
                    text("what is the capital of France"),
                ));
            }),
        ),
        (
            "button click",
            2,
            time(budget, || {
                black_box(turn(v, Some(&at_card), Input::Request(confirm.clone())));
            }),
        ),
        (
            "API result resumes the flow",
            4,
            time(budget, || {
                let result = ApiResult::Response {
                    status: 200,
                    body: r#"{"minutes": 25}"#.into(),
                };
                black_box(turn(v, Some(&at_api), Input::ApiResult(result)));
            }),
        ),
        (
            "100 set + condition blocks",
            201,
            time(budget, || {
                black_box(turn(cv, None, Input::Request(Request::launch())));
            }),
        ),
    ];
    println!(
        "{:<36} {:>12} {:>14} {:>14}",
        "engine turn", "µs/turn", "turns/s", "blocks/s"
    );
    for (name, blocks, per) in &rows {
        let secs = per.as_secs_f64();
        println!(
            "{name:<36} {:>12.1} {:>14.0} {:>14.0}",
            secs * 1e6,
            1.0 / secs,
            f64::from(*blocks) / secs
        );
    }
    let state_json = serde_json::to_string(&at_card).unwrap();
    let ser = time(budget, || {
        black_box(serde_json::to_string(&at_card).unwrap());
    });
    let de = time(budget, || {
        black_box(serde_json::from_str::<State>(&state_json).unwrap());
    });
    println!(
        "state JSON ({} bytes): serialise {:.1} µs, parse {:.1} µs",
        state_json.len(),
        ser.as_secs_f64() * 1e6,
        de.as_secs_f64() * 1e6
    );
    // `cargo xtask bench engine` asks for the figures as JSON too.
    if let Some(path) = std::env::var_os("PARLEY_BENCH_JSON") {
        let turns: Vec<_> = rows
            .iter()
            .map(|(name, blocks, per)| {
                let secs = per.as_secs_f64();
                json!({ "turn": name, "us_per_turn": secs * 1e6, "turns_per_second": 1.0 / secs,
                        "blocks_per_second": f64::from(*blocks) / secs })
            })
            .collect();
        let report = json!({
            "bench": "engine",
            "turns": turns,
            "state_json": { "bytes": state_json.len(), "serialise_us": ser.as_secs_f64() * 1e6,
                            "parse_us": de.as_secs_f64() * 1e6 },
        });
        std::fs::write(path, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    }
}

/// A flow of `n` set blocks, each followed by a condition, then a text.
fn chain_project(n: usize) -> Project {
    let mut blocks = Vec::new();
    for i in 0..n {
        blocks.push(json!({ "id": format!("s{i}"), "type": "set", "assignments": [{ "variable": "n", "value": "n + 1" }], "next": format!("c{i}") }));
        let next = if i + 1 < n {
            format!("s{}", i + 1)
        } else {
            "done".to_owned()
        };
        blocks.push(json!({ "id": format!("c{i}"), "type": "condition", "branches": [{ "if": "n > 100000", "next": "done" }], "else": next }));
    }
    blocks.push(json!({ "id": "done", "type": "text", "texts": ["{n}"] }));
    serde_json::from_value(json!({
        "id": "chain", "name": "Chain",
        "versions": [{ "id": "v1", "startFlow": "main",
            "variables": [{ "name": "n", "default": 0 }],
            "settings": { "stepBudget": 1000 },
            "flows": [{ "id": "main", "start": "s0", "blocks": blocks }] }]
    }))
    .unwrap()
}
