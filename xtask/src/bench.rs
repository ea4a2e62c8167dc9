//! `cargo xtask bench server | engine`: the figures behind every speed claim. Each prints a
//! short table and writes JSON under `target/bench/`, so runs can be compared.
//!
//! - `server`: the release `parley` binary with the demo project, driven on loopback by the
//!   `loadgen` example (whole conversations, stateless and stateful, at several concurrencies,
//!   bounded in time and count), and in the same run a bare axum server answering a fixed turn
//!   (the `bare_axum` example): the result is a ratio that holds on a noisy machine.
//! - `engine`: the engine's bench binary (`crates/parley-engine/benches/steps.rs`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cmd::{cargo, command, root, run};
use crate::demo::Server;

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn bench_dir() -> Result<PathBuf> {
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The load run's bounds.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) concurrency: Vec<usize>,
    pub(crate) seconds: f64,
    pub(crate) max_requests: u64,
}

pub(crate) fn server(load: &Load) -> Result<()> {
    run(cargo().args([
        "build",
        "--release",
        "--locked",
        "--package",
        "parley-server",
        "--bin",
        "parley",
        "--example",
        "loadgen",
        "--example",
        "bare_axum",
    ]))?;
    let release = target_dir().join("release");
    let data = bench_dir()?.join("server-data");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    let parley = Server::spawn(
        command(release.join("parley"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            // Warnings only: a log line per request would measure the terminal.
            .env("RUST_LOG", "warn"),
    )?;
    let bare = Server::spawn(command(release.join("examples/bare_axum")).arg("127.0.0.1:0"))?;
    let loadgen = release.join("examples/loadgen");

    let measure = |url: &str, flavour: &str, concurrency: usize| -> Result<Value> {
        let out = command(&loadgen)
            .args([url.trim_end_matches('/'), flavour])
            .arg(concurrency.to_string())
            .arg(load.seconds.to_string())
            .arg(load.max_requests.to_string())
            .output()
            .context("running loadgen")?;
        if !out.status.success() {
            bail!("loadgen failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        serde_json::from_slice(&out.stdout).context("reading loadgen's report")
    };

    let mut rows = Vec::new();
    println!(
        "\n{:<10} {:>5} | {:>9} {:>8} {:>8} {:>6} | {:>9} {:>8} {:>8} | {:>6}",
        "flavour",
        "conc",
        "parley/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "bare/s",
        "p50 ms",
        "p99 ms",
        "ratio"
    );
    for flavour in ["stateless", "stateful"] {
        for &concurrency in &load.concurrency {
            let ours = measure(&parley.url, flavour, concurrency)?;
            let baseline = measure(&bare.url, flavour, concurrency)?;
            let rate = |v: &Value| v["requests_per_second"].as_f64().unwrap_or(0.0);
            let ratio = rate(&ours) / rate(&baseline).max(f64::MIN_POSITIVE);
            println!(
                "{:<10} {:>5} | {:>9.0} {:>8.2} {:>8.2} {:>6} | {:>9.0} {:>8.2} {:>8.2} | {:>6.2}",
                flavour,
                concurrency,
                rate(&ours),
                ours["p50_ms"].as_f64().unwrap_or(0.0),
                ours["p99_ms"].as_f64().unwrap_or(0.0),
                ours["errors"],
                rate(&baseline),
                baseline["p50_ms"].as_f64().unwrap_or(0.0),
                baseline["p99_ms"].as_f64().unwrap_or(0.0),
                ratio
            );
            rows.push(json!({
                "flavour": flavour,
                "concurrency": concurrency,
                "parley": ours,
                "bare_axum": baseline,
                "throughput_ratio": ratio,
            }));
        }
    }
    drop(parley);
    drop(bare);
    let report = json!({
        "bench": "server",
        "seconds_per_run": load.seconds,
        "max_requests_per_run": load.max_requests,
        "machine_cores": std::thread::available_parallelism().map_or(0, usize::from),
        "runs": rows,
    });
    let path = bench_dir()?.join("server.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("\nwritten to {}", path.display());
    Ok(())
}

pub(crate) fn engine() -> Result<()> {
    let out = cargo()
        .args([
            "bench",
            "--locked",
            "--package",
            "parley-engine",
            "--bench",
            "steps",
        ])
        .env("PARLEY_BENCH_JSON", bench_dir()?.join("engine.json"))
        .status()
        .context("running the engine bench")?;
    if !out.success() {
        bail!("the engine bench failed");
    }
    println!("written to {}", bench_dir()?.join("engine.json").display());
    Ok(())
}
