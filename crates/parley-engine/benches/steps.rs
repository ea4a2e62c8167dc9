//! Engine speed, with criterion: typical turns (`turn/…`, throughput in blocks, so criterion
//! reports blocks/s; turns/s is one over the time) and the state's JSON round trip
//! (`state/…`). `cargo xtask bench engine` runs this and the server's signing bench and prints
//! one table from criterion's estimates.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parley_engine::{ApiResult, CompiledVersion, Context, Dialogue, Input, Project, compile, step};
use parley_protocol::{Request, State};
use serde_json::json;

fn turn(version: &CompiledVersion, state: Option<&State>, input: Input) -> State {
    step(
        version,
        state,
        input,
        &Context {
            seed: 1,
            ..Context::default()
        },
    )
    .expect("the bench conversation is valid")
    .state
}

fn text(t: &str) -> Input {
    Input::Request(Request::text(t))
}

fn turns(c: &mut Criterion) {
    let demo_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/projects/pizza/project.json"),
    )
    .expect("the demo project is readable");
    let demo = compile(Project::from_json(&demo_text).expect("the demo parses"))
        .expect("the demo compiles");
    let v = demo
        .version("development")
        .expect("the demo has a development version");

    let launched = turn(v, None, Input::Request(Request::launch()));
    let at_quantity = turn(v, Some(&launched), text("I'd like a large pepperoni pizza"));
    let at_card = turn(v, Some(&at_quantity), text("2"));
    let confirm = serde_json::from_value::<Request>(json!({
        "type": "path-summary-0", "payload": { "label": "Confirm" }
    }))
    .expect("a button request");
    let mut at_payment = turn(v, Some(&at_card), Input::Request(confirm.clone()));
    for input in [text("Dana"), text("dana@example.com")] {
        at_payment = turn(v, Some(&at_payment), input);
    }
    let at_api = turn(
        v,
        Some(&at_payment),
        Input::Request(Request::action("success", None)),
    );
    let estimate = || {
        Input::ApiResult(ApiResult::Response {
            status: 200,
            body: r#"{"minutes": 25}"#.into(),
        })
    };
    let chain = compile(chain_project(100)).expect("the chain compiles");
    let cv = chain.version("v1").expect("the chain has v1");

    let mut group = c.benchmark_group("turn");
    // Blocks each turn runs: criterion's throughput is then blocks/s.
    group.throughput(Throughput::Elements(5));
    group.bench_function("launch", |b| {
        b.iter(|| turn(v, None, Input::Request(Request::launch())));
    });
    group.throughput(Throughput::Elements(3));
    group.bench_function("text_nlu_slots", |b| {
        b.iter(|| {
            turn(
                v,
                Some(&launched),
                text(black_box("I'd like a large pepperoni pizza")),
            )
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("text_no_match", |b| {
        b.iter(|| {
            turn(
                v,
                Some(&launched),
                text(black_box("what is the capital of France")),
            )
        });
    });
    group.throughput(Throughput::Elements(2));
    group.bench_function("button", |b| {
        b.iter(|| turn(v, Some(&at_card), Input::Request(confirm.clone())));
    });
    group.throughput(Throughput::Elements(4));
    group.bench_function("api_resume", |b| {
        b.iter(|| turn(v, Some(&at_api), estimate()));
    });
    // A whole turn that suspends on an API call (the paid order asks for the delivery time):
    // step by step through the wire state, against one Dialogue (the state read and written
    // once), in the same run.
    let ctx = Context {
        seed: 1,
        ..Context::default()
    };
    group.throughput(Throughput::Elements(6));
    group.bench_function("api_turn_steps", |b| {
        b.iter(|| {
            let paid = Input::Request(Request::action("success", None));
            let waiting = turn(v, Some(&at_payment), paid);
            turn(v, Some(&waiting), estimate())
        });
    });
    group.bench_function("api_turn_dialogue", |b| {
        b.iter(|| {
            let mut dialogue =
                Dialogue::resume(v, Some(&at_payment), 1).expect("the state is valid");
            let paid = Input::Request(Request::action("success", None));
            dialogue.handle(v, paid, &ctx).expect("the turn is valid");
            dialogue
                .handle(v, estimate(), &ctx)
                .expect("the result is taken");
            dialogue.into_state()
        });
    });
    group.throughput(Throughput::Elements(201));
    group.bench_function("set_condition_chain_100", |b| {
        b.iter(|| turn(cv, None, Input::Request(Request::launch())));
    });
    group.finish();

    let state_json = serde_json::to_string(&at_card).expect("a state serialises");
    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Bytes(state_json.len() as u64));
    group.bench_function("serialise", |b| {
        b.iter(|| serde_json::to_string(black_box(&at_card)).expect("a state serialises"));
    });
    group.bench_function("parse", |b| {
        b.iter(|| serde_json::from_str::<State>(black_box(&state_json)).expect("a state parses"));
    });
    group.finish();
}

fn config() -> Criterion {
    // Short runs: the whole bench takes under a minute on two cores; criterion's command-line
    // options (`-- --measurement-time 10`) still override these.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = turns }
criterion_main!(benches);

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
