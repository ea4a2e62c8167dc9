//! The stateless flavour's per-request cost around the engine: signing the state the server
//! returns and verifying the one a client sends (HMAC-SHA256 over the state's JSON), on the
//! demo conversation's state at the order card. Run by `cargo xtask bench engine`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parley_engine::{Context, Input, Project, compile, step};
use parley_protocol::{Request, State};
use parley_server::signing::Signer;

fn demo_state() -> State {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/projects/pizza/project.json"),
    )
    .expect("the demo project is readable");
    let demo = compile(Project::from_json(&text).expect("the demo parses")).expect("it compiles");
    let v = demo.version("development").expect("a development version");
    let ctx = Context {
        seed: 1,
        ..Context::default()
    };
    let mut state: Option<State> = None;
    for request in [
        Request::launch(),
        Request::text("I'd like a large pepperoni pizza"),
        Request::text("2"),
    ] {
        let turn = step(v, state.as_ref(), Input::Request(request), &ctx).expect("a valid turn");
        state = Some(turn.state);
    }
    state.expect("three turns ran")
}

fn signing(c: &mut Criterion) {
    let signer = Signer::new([7; 32]);
    let state = demo_state();
    let signed = signer.sign("pizza", "development", state.clone());
    let bytes = serde_json::to_vec(&state)
        .expect("a state serialises")
        .len();

    let mut group = c.benchmark_group("signing");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("sign", |b| {
        b.iter(|| signer.sign("pizza", "development", black_box(state.clone())));
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            signer
                .verify("pizza", "development", black_box(signed.clone()))
                .expect("the signature holds")
        });
    });
    // The clone both calls pay, to read the two above net of it.
    group.bench_function("clone_only", |b| b.iter(|| black_box(state.clone())));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! { name = benches; config = config(); targets = signing }
criterion_main!(benches);
