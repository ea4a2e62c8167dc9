//! `cargo xtask bench server | engine`: the figures behind every speed claim. Each prints a
//! short table and writes JSON under `target/bench/`, so runs can be compared.
//!
//! - `server`: the release `parley` binary with the demo project, driven on loopback by the
//!   `loadgen` example (whole conversations, stateless and stateful, at several concurrencies,
//!   bounded in time and count), and in the same run a bare axum server answering a fixed turn
//!   (the `bare_axum` example): the result is a ratio that holds on a noisy machine.
//!   Then the stateful conversations streamed (server-sent events) against their JSON answers
//!   at 16 and 64 conversations (issue 17), and two cases of issue 15: stateless conversations
//!   of 2 KB utterances at 16 conversations, and `/health`'s latency while four clients send
//!   long texts back to back.
//! - `engine`: criterion benches of typical turns and the state's JSON
//!   (`crates/parley-engine/benches/steps.rs`) and of signing and verifying a state
//!   (`crates/parley-server/benches/signing.rs`), summed up from criterion's estimates.
//! - `widget`: the release bundle's files (raw, gzip -9, brotli -q 11), and in Debian's headless
//!   Chromium (playwright-core) the time to the launcher painted, from the launcher click to the
//!   first bot message painted (pacing off, the real release server), and to append one line to
//!   a restored 1,000-line transcript (`xtask/bench/widget.cjs`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cmd::{cargo, command, root, run, target_dir};
use crate::demo::Server;
use crate::{tools, widget};

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
            // The load generator is one address starting thousands of conversations a minute,
            // which the keyless new-session rate (30 a minute by default) refuses: lift it.
            .args(["--new-sessions-per-minute", "4000000000"])
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
    // Issue 15: long utterances cost CPU; the engine runs them on blocking threads, so
    // `/health` (an async worker's work) is not held up by them.
    let long = measure(&parley.url, "long", 16)?;
    println!(
        "\n2 KB utterances, 16 conversations: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        long["requests_per_second"].as_f64().unwrap_or(0.0),
        long["p50_ms"].as_f64().unwrap_or(0.0),
        long["p99_ms"].as_f64().unwrap_or(0.0),
        long["errors"],
    );
    let hostile = measure(&parley.url, "hostile", 4)?;
    println!(
        "/health while 4 clients send long texts ({} sent: half at 2,000 characters, half \
         240 KB): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} errors",
        hostile["hostile_turns"],
        hostile["p50_ms"].as_f64().unwrap_or(0.0),
        hostile["p99_ms"].as_f64().unwrap_or(0.0),
        hostile["max_ms"].as_f64().unwrap_or(0.0),
        hostile["errors"],
    );
    rows.extend(streaming(&parley.url, &measure)?);
    rows.extend(scale_out(load, &release, &measure)?);
    rows.push(json!({ "flavour": "long (2 KB utterances)", "concurrency": 16, "parley": long }));
    rows.push(
        json!({ "flavour": "hostile (/health latency)", "concurrency": 4, "parley": hostile }),
    );
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

/// Issue 17: the same stateful conversations through the legacy stream (server-sent events,
/// each step's traces sent as the engine makes them) against the JSON answer, in one run: turns
/// per second, the time to the first frame against the time to the whole answer, frames per
/// second.
fn streaming(
    url: &str,
    measure: &dyn Fn(&str, &str, usize) -> Result<Value>,
) -> Result<Vec<Value>> {
    println!(
        "\n{:>5} | {:>10} {:>8} | {:>10} {:>8} {:>11} {:>11} {:>9} | {:>6}",
        "conc",
        "json/s",
        "p50 ms",
        "stream/s",
        "p50 ms",
        "first p50",
        "first p99",
        "frames/s",
        "ratio"
    );
    let mut rows = Vec::new();
    for concurrency in [16, 64] {
        let json = measure(url, "stateful", concurrency)?;
        let stream = measure(url, "stream", concurrency)?;
        let f = |v: &Value, key: &str| v[key].as_f64().unwrap_or(0.0);
        let ratio = f(&stream, "requests_per_second")
            / f(&json, "requests_per_second").max(f64::MIN_POSITIVE);
        println!(
            "{:>5} | {:>10.0} {:>8.2} | {:>10.0} {:>8.2} {:>11.2} {:>11.2} {:>9.0} | {:>6.2}",
            concurrency,
            f(&json, "requests_per_second"),
            f(&json, "p50_ms"),
            f(&stream, "requests_per_second"),
            f(&stream, "p50_ms"),
            f(&stream, "first_frame_p50_ms"),
            f(&stream, "first_frame_p99_ms"),
            f(&stream, "frames_per_second"),
            ratio
        );
        if stream["errors"].as_u64().unwrap_or(0) > 0 {
            println!("  ({} streamed turns failed)", stream["errors"]);
        }
        rows.push(json!({
            "flavour": "stream (legacy v2 SSE) against stateful JSON",
            "concurrency": concurrency,
            "parley": stream,
            "parley_json": json,
            "throughput_ratio": ratio,
        }));
    }
    Ok(rows)
}

/// What `bench engine` reports: criterion group/function, label, and the blocks a turn runs
/// (0 for the non-turn rows).
const ENGINE_ROWS: [(&str, &str, u32); 13] = [
    ("turn/launch", "launch (welcome, image, choice)", 5),
    ("turn/text_nlu_slots", "text with NLU and slots", 3),
    ("turn/text_no_match", "text, no match", 1),
    ("turn/button", "button click", 2),
    ("turn/api_resume", "API result resumes the flow", 4),
    (
        "turn/api_turn_steps",
        "paid order + API call, step by step (JSON between)",
        6,
    ),
    (
        "turn/api_turn_dialogue",
        "paid order + API call, one Dialogue",
        6,
    ),
    (
        "turn/set_condition_chain_100",
        "100 set + condition blocks",
        201,
    ),
    ("state/serialise", "state JSON: serialise", 0),
    ("state/parse", "state JSON: parse", 0),
    ("signing/sign", "state: sign (HMAC-SHA256, with a clone)", 0),
    ("signing/verify", "state: verify (with a clone)", 0),
    ("signing/clone_only", "state: the clone alone", 0),
];

pub(crate) fn engine() -> Result<()> {
    let home = target_dir().join("criterion");
    let status = cargo()
        .args([
            "bench",
            "--locked",
            "--package",
            "parley-engine",
            "--bench",
            "steps",
            "--package",
            "parley-server",
            "--bench",
            "signing",
        ])
        .env("CRITERION_HOME", &home)
        .status()
        .context("running the engine benches")?;
    if !status.success() {
        bail!("the engine benches failed");
    }
    println!(
        "\n{:<42} {:>10} {:>10} {:>12} {:>12}",
        "engine (criterion mean)", "µs", "± µs", "per second", "blocks/s"
    );
    let mut rows = Vec::new();
    for (id, label, blocks) in ENGINE_ROWS {
        let path = home.join(id).join("new/estimates.json");
        let estimates: Value = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )?;
        let ns = estimates["mean"]["point_estimate"]
            .as_f64()
            .context("criterion's mean")?;
        let half_width = (estimates["mean"]["confidence_interval"]["upper_bound"]
            .as_f64()
            .unwrap_or(ns)
            - estimates["mean"]["confidence_interval"]["lower_bound"]
                .as_f64()
                .unwrap_or(ns))
            / 2.0;
        let per_second = 1e9 / ns;
        let blocks_per_second = f64::from(blocks) * per_second;
        println!(
            "{label:<42} {:>10.2} {:>10.2} {per_second:>12.0} {:>12}",
            ns / 1e3,
            half_width / 1e3,
            if blocks > 0 {
                format!("{blocks_per_second:.0}")
            } else {
                "-".to_owned()
            }
        );
        rows.push(json!({
            "id": id, "label": label, "mean_us": ns / 1e3,
            "ci95_half_width_us": half_width / 1e3, "per_second": per_second,
            "blocks": blocks, "blocks_per_second": blocks_per_second,
        }));
    }
    let path = bench_dir()?.join("engine.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({ "bench": "engine", "rows": rows }))?,
    )?;
    println!("\nwritten to {}", path.display());
    Ok(())
}

pub(crate) fn widget(runs: u32) -> Result<()> {
    tools::ensure_widget_toolchain()?;
    let browser = tools::ensure_browser()?;
    let playwright = tools::ensure_playwright()?;
    let app = widget::build_release()?;
    let dist = widget::dist_dir();
    let assets = widget::bundle(&dist, &app)?;
    let kb = |b: u64| b as f64 / 1000.0;
    println!(
        "\n{:<44} {:>9} {:>10} {:>10}",
        "file", "raw KB", "gzip -9 KB", "brotli KB"
    );
    let mut files = Vec::new();
    let (mut raw, mut gzip, mut brotli) = (0, 0, 0);
    for asset in &assets {
        let br = asset.brotli;
        println!(
            "{:<44} {:>9.1} {:>10.1} {:>10.1}",
            asset.name,
            kb(asset.raw),
            kb(asset.gzip),
            kb(br)
        );
        (raw, gzip, brotli) = (raw + asset.raw, gzip + asset.gzip, brotli + br);
        files.push(
            json!({ "file": asset.name, "raw": asset.raw, "gzip": asset.gzip, "brotli": br }),
        );
    }
    println!(
        "{:<44} {:>9.1} {:>10.1} {:>10.1}",
        "total",
        kb(raw),
        kb(gzip),
        kb(brotli)
    );

    // The real server (release), serving this build, on a free loopback port.
    let parley = crate::demo::build_parley(true)?;
    let data = bench_dir()?.join("widget-data");
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    let server = Server::spawn(
        command(&parley)
            .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .arg("--widget-dir")
            .arg(&dist)
            .env("RUST_LOG", "warn"),
    )?;
    let out = command("node")
        .arg(root().join("xtask/bench/widget.cjs"))
        .arg(&server.url)
        .arg(&browser.chromium)
        .arg(runs.to_string())
        .env("NODE_PATH", playwright.join("node_modules"))
        .output()
        .context("running node")?;
    drop(server);
    if !out.status.success() {
        bail!(
            "the browser bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let timings: Value =
        serde_json::from_slice(&out.stdout).context("reading the bench's report")?;
    println!(
        "\n{:<44} {:>10} {:>10}   ({runs} runs, headless Chromium)",
        "timing", "median ms", "p90 ms"
    );
    for (name, label) in [
        ("launcher_painted", "page load to launcher painted (loader)"),
        ("app_ready", "page load to app ready (parley:ready)"),
        (
            "first_message_painted",
            "launcher click to first bot message",
        ),
        ("click_waiting_for_app", "  of which waiting for the app"),
        ("click_launch_request", "  of which the launch request"),
        ("click_rest", "  of which mounting and rendering"),
        (
            "slow_launcher_painted",
            "slow link: page load to launcher painted",
        ),
        ("slow_app_ready", "slow link: page load to app ready"),
        ("append_to_10", "one line appended to 10"),
        ("append_to_1000", "one line appended to 1,000"),
    ] {
        println!(
            "{label:<44} {:>10.1} {:>10.1}",
            timings[name]["median"].as_f64().unwrap_or(0.0),
            timings[name]["p90"].as_f64().unwrap_or(0.0)
        );
    }
    let ratio = timings["append_to_1000"]["median"].as_f64().unwrap_or(0.0)
        / timings["append_to_10"]["median"]
            .as_f64()
            .unwrap_or(1.0)
            .max(f64::MIN_POSITIVE);
    println!("{:<44} {ratio:>10.2}", "append: 1,000 lines / 10 lines");
    let report = json!({
        "bench": "widget",
        "files": files,
        "total": { "raw": raw, "gzip": gzip, "brotli": brotli },
        "timings_ms": timings,
    });
    let path = bench_dir()?.join("widget.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    println!("\nwritten to {}", path.display());
    Ok(())
}

/// Issue 20: stateful turns per second with one PostgreSQL and 1, 2 and 3 servers against one
/// server on SQLite, in the same run, at 64 conversations in all (split between the servers,
/// one loadgen each, with user ids of its own); the database's transactions per turn
/// (`pg_stat_database`). On a 2-core machine the servers, the database and the load generators
/// share the cores: the figure is the cost of a turn, not a speed-up.
fn scale_out(
    load: &Load,
    release: &std::path::Path,
    measure: &dyn Fn(&str, &str, usize) -> Result<Value>,
) -> Result<Vec<Value>> {
    const CONVERSATIONS: usize = 64;
    let postgres = crate::postgres::start()?;
    let psql = crate::postgres::psql()?;
    let sql = |url: &str, query: &str| -> Result<String> {
        crate::cmd::output(command(&psql).arg(url).args([
            "-v",
            "ON_ERROR_STOP=1",
            "-Atq",
            "-c",
            query,
        ]))
        .with_context(|| format!("psql: {query}"))
    };
    let serve = |database: Option<&str>, dir: &std::path::Path| -> Result<Server> {
        let mut cmd = command(release.join("parley"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .args(["--new-sessions-per-minute", "4000000000"])
            .args(["--state-secret", &"5e".repeat(32)])
            .env("RUST_LOG", "warn");
        if let Some(url) = database {
            cmd.args(["--database-url", url]);
        }
        Server::spawn(&mut cmd)
    };
    let data = bench_dir()?.join("scale-out-data");
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data)?;
    println!(
        "\nstateful, {CONVERSATIONS} conversations in all | {:>8} {:>8} {:>8} {:>6} | {:>9}",
        "turns/s", "p50 ms", "p99 ms", "errors", "xacts/turn"
    );
    let mut rows = Vec::new();
    let sqlite = serve(None, &data.join("sqlite"))?;
    let one = measure(&sqlite.url, "stateful", CONVERSATIONS)?;
    drop(sqlite);
    let f = |v: &Value, key: &str| v[key].as_f64().unwrap_or(0.0);
    println!(
        "{:<34} | {:>8.0} {:>8.2} {:>8.2} {:>6} | {:>9}",
        "SQLite, 1 server",
        f(&one, "requests_per_second"),
        f(&one, "p50_ms"),
        f(&one, "p99_ms"),
        one["errors"].as_u64().unwrap_or(0),
        "-"
    );
    rows.push(json!({ "flavour": "scale-out: stateful on SQLite", "servers": 1, "concurrency": CONVERSATIONS, "parley": one }));
    for servers in 1..=3usize {
        let name = format!("parley_bench_{servers}_{}", std::process::id());
        sql(&postgres.url, &format!("CREATE DATABASE {name}"))?;
        // The same server, the new database: the path after the authority.
        let (base, query) = postgres
            .url
            .split_once('?')
            .map_or((postgres.url.as_str(), ""), |(b, q)| (b, q));
        let head = base.rsplit_once('/').map_or(base, |(head, _)| head);
        let url = if query.is_empty() {
            format!("{head}/{name}")
        } else {
            format!("{head}/{name}?{query}")
        };
        let running = (0..servers)
            .map(|i| serve(Some(&url), &data.join(format!("pg-{servers}-{i}"))))
            .collect::<Result<Vec<_>>>()?;
        let xacts = || -> Result<f64> {
            let n = sql(
                &url,
                &format!(
                    "SELECT xact_commit + xact_rollback FROM pg_stat_database \
                     WHERE datname = '{name}'"
                ),
            )?;
            n.trim().parse::<f64>().context("pg_stat_database")
        };
        let before = xacts()?;
        // One loadgen per server, at the same time, each with its share of the conversations.
        let reports = std::thread::scope(|scope| {
            let handles: Vec<_> = running
                .iter()
                .enumerate()
                .map(|(i, server)| {
                    let share = CONVERSATIONS / servers + usize::from(i < CONVERSATIONS % servers);
                    let url = server.url.clone();
                    scope.spawn(move || {
                        let out = command(release.join("examples/loadgen"))
                            .args([url.trim_end_matches('/'), "stateful"])
                            .arg(share.to_string())
                            .arg(load.seconds.to_string())
                            .arg((load.max_requests / servers as u64).to_string())
                            .env("LOADGEN_USERS", format!("s{i}"))
                            .output()
                            .context("running loadgen")?;
                        if !out.status.success() {
                            bail!("loadgen failed: {}", String::from_utf8_lossy(&out.stderr));
                        }
                        serde_json::from_slice::<Value>(&out.stdout).context("loadgen's report")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("a loadgen thread panicked"))?
                })
                .collect::<Result<Vec<Value>>>()
        })?;
        // A backend reports its counts lazily, and always when it exits: stop the servers
        // (their connections end) before reading.
        drop(running);
        std::thread::sleep(std::time::Duration::from_millis(1000));
        let after = xacts()?;
        let rate: f64 = reports.iter().map(|r| f(r, "requests_per_second")).sum();
        let turns: f64 = reports.iter().map(|r| f(r, "requests")).sum();
        // The slowest loadgen's percentiles (each measures its own share).
        let p50 = reports.iter().map(|r| f(r, "p50_ms")).fold(0.0, f64::max);
        let p99 = reports.iter().map(|r| f(r, "p99_ms")).fold(0.0, f64::max);
        let errors: u64 = reports
            .iter()
            .map(|r| r["errors"].as_u64().unwrap_or(0))
            .sum();
        // Less the few the xacts() queries themselves count.
        let per_turn = (after - before - 2.0) / turns.max(1.0);
        println!(
            "{:<34} | {:>8.0} {:>8.2} {:>8.2} {:>6} | {:>9.2}",
            format!("PostgreSQL, {servers} server(s)"),
            rate,
            p50,
            p99,
            errors,
            per_turn
        );
        rows.push(json!({
            "flavour": "scale-out: stateful on PostgreSQL",
            "servers": servers,
            "concurrency": CONVERSATIONS,
            "requests_per_second": rate,
            "p50_ms_slowest_server": p50,
            "p99_ms_slowest_server": p99,
            "errors": errors,
            "transactions_per_turn": per_turn,
            "loadgens": reports,
        }));
        let _ = sql(&postgres.url, &format!("DROP DATABASE {name} WITH (FORCE)"));
    }
    drop(postgres);
    Ok(rows)
}
