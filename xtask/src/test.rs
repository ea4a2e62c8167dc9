//! `cargo xtask test`: everything CI runs, in order, with a summary at the end.
//!
//! A failing step does not stop the others (a lint failure should not hide a test failure);
//! a failing setup does, since nothing after it could run.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{Counts, TestsFailed, cargo, command, root, run, run_tests};
use crate::demo::{Server, build_server};
use crate::tools::{self, Browser, CHROMIUM_FLAGS, WASM_TARGET};
use crate::{postgres, widget};

struct Step {
    name: &'static str,
    outcome: Result<Option<Counts>>,
    took: Duration,
}

pub(crate) fn main() -> Result<()> {
    let started = Instant::now();
    eprintln!("xtask: checking the toolchain (installs what is missing)");
    tools::ensure_widget_toolchain().context("setting up the widget toolchain")?;
    let browser = tools::ensure_browser().context("setting up the browser")?;
    let postgres = postgres::start().context("starting PostgreSQL for the storage tests")?;

    let mut steps = Vec::new();
    let mut step = |name: &'static str, f: &dyn Fn() -> Result<Option<Counts>>| {
        eprintln!("\n==> {name}");
        let t = Instant::now();
        let outcome = f();
        if let Err(e) = &outcome {
            eprintln!("xtask: {name} FAILED: {e:#}");
        }
        steps.push(Step {
            name,
            outcome,
            took: t.elapsed(),
        });
    };

    step("format", &|| {
        run(cargo().args(["fmt", "--all", "--check"])).map(|()| None)
    });
    step("clippy (native)", &|| {
        run(cargo()
            .args(["clippy", "--workspace", "--all-targets", "--locked", "--"])
            .args(["-D", "warnings"]))
        .map(|()| None)
    });
    step("clippy (wasm32: widget, protocol)", &|| {
        run(cargo()
            .args([
                "clippy",
                "--all-targets",
                "--locked",
                "--target",
                WASM_TARGET,
            ])
            .args(["--package", "parley-widget", "--package", "parley-protocol"])
            .args(["--", "-D", "warnings"]))
        .map(|()| None)
    });
    step("native tests", &|| {
        // The server's storage tests run against SQLite and this PostgreSQL.
        run_tests(
            cargo()
                .args(["test", "--workspace", "--locked"])
                .env("PARLEY_TEST_DATABASE_URL", &postgres.url)
                .env("PARLEY_REQUIRE_POSTGRES", "1"),
        )
        .map(Some)
    });
    step(
        "schemathesis: openapi.json against the real server",
        &|| schemathesis().map(|()| None),
    );
    step("browser tests (headless Chromium)", &|| {
        browser_tests(&browser).map(Some)
    });
    step("widget release build, size budgets, npm package", &|| {
        let app = widget::build_release()?;
        widget::report_size(&widget::bundle(&widget::dist_dir(), &app)?)?;
        widget::npm_package(&app)?;
        Ok(None)
    });
    step("demo page in headless Chromium", &|| {
        demo_check(&browser).map(|()| None)
    });
    step("trunk serve: a turn through its proxy", &|| {
        crate::demo::watch_check(&browser).map(|()| None)
    });
    step("end-to-end (Chromium, real server, real build)", &|| {
        end_to_end(&browser).map(Some)
    });
    step("scale-out: nginx, three servers, PostgreSQL", &|| {
        crate::nginx::scale_out(&browser, &postgres.url).map(Some)
    });

    summarise(&steps, started.elapsed())
}

/// Schemathesis, pinned: the newest release when this step was written.
const SCHEMATHESIS: &str = "4.32.5";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Schemathesis (PyPI, in its own virtualenv under `target/tools`) generates requests from
/// `openapi.json` and sends them to the real `parley` binary on loopback: every answer must be
/// documented (its status, content type and schema) and none may be a 5xx. Bounded: a few
/// examples per operation, one worker, a time budget, a fixed seed.
fn schemathesis() -> Result<()> {
    let venv = crate::cmd::npm_tools_dir().join(format!("schemathesis-{SCHEMATHESIS}"));
    let st = venv.join("bin/st");
    if !st.is_file() {
        run(command("python3").args(["-m", "venv"]).arg(&venv))?;
        run(command(venv.join("bin/pip"))
            .args(["install", "--quiet"])
            .arg(format!("schemathesis=={SCHEMATHESIS}")))?;
    }
    let parley = build_server()?;
    let data = root().join("target/schemathesis-data");
    let _ = std::fs::remove_dir_all(&data);
    // Generated user ids are new sessions: the per-address rate of new sessions would turn
    // most of them into 429s, which say nothing about the document.
    let server = Server::spawn(
        command(&parley)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(["--new-sessions-per-minute", "1000000", "--data-dir"])
            .arg(&data)
            .env("RUST_LOG", "warn"),
    )?;
    let base = server.url.trim_end_matches('/');
    // In target/: schemathesis keeps its example database in `.schemathesis/` of its directory.
    run(command(&st)
        .current_dir(crate::cmd::target_dir())
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--url", base, "--workers", "1", "--seed", "15"])
        // What the answers must be: no 5xx, and every status, content type, header and body
        // as documented. Not positive_data_acceptance / negative_data_rejection, which judge
        // how strictly the server reads a request against the document (a random projectID is
        // schema-valid and rightly 404; its generator also sends path values its own patterns
        // exclude).
        .args(["--checks", CHECKS])
        .args(["--max-examples", "20", "--max-time", "300"])
        .args(["--request-timeout", "10", "--no-color"]))
}

/// The widget's `tests/web.rs` in headless Chromium, through wasm-bindgen-test-runner (the
/// runner is set for wasm32 in `.cargo/config.toml`).
fn browser_tests(browser: &Browser) -> Result<Counts> {
    run_tests(
        cargo()
            .args([
                "test",
                "--locked",
                "--package",
                "parley-widget",
                "--test",
                "web",
            ])
            .args(["--target", WASM_TARGET])
            .env("CHROMEDRIVER", &browser.chromedriver)
            .env(
                "WASM_BINDGEN_TEST_WEBDRIVER_JSON",
                root().join("tests/webdriver.json"),
            )
            .env("WASM_BINDGEN_TEST_TIMEOUT", "60"),
    )
}

/// Serves the release build with the real `parley` binary on a free loopback port and loads it
/// in headless Chromium: the page passes when the wasm ran and painted the launcher. Leaves a
/// screenshot in `target/screenshots/demo.png`.
fn demo_check(browser: &Browser) -> Result<()> {
    let parley = build_server()?;
    let server = Server::start(&parley, SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let profile = root().join("target/chromium-profile");
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots)?;
    let chromium = |extra: &[&str]| {
        let _ = std::fs::remove_dir_all(&profile);
        let mut cmd = command(&browser.chromium);
        cmd.args(CHROMIUM_FLAGS)
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--virtual-time-budget=15000")
            .arg("--window-size=1024,768")
            .args(extra)
            .arg(&server.url);
        cmd
    };
    let dom = crate::cmd::output(&mut chromium(&["--dump-dom"]))
        .context("headless Chromium failed to load the demo page")?;
    // The widget lives in a Shadow DOM root, which --dump-dom does not print; its host element
    // gets `data-parley` once the widget is mounted.
    if !dom.contains("data-parley=") {
        bail!(
            "the demo page loaded but the widget did not mount (no [data-parley] host in the DOM)"
        );
    }
    let shot = shots.join("demo.png");
    run(&mut chromium(&[&format!(
        "--screenshot={}",
        shot.display()
    )]))?;
    check_png(&shot)?;
    println!(
        "demo page: the widget mounted; screenshot at {}",
        shot.display()
    );
    drop(server);
    Ok(())
}

/// `e2e/run.cjs`: Debian's Chromium through playwright-core against the real `parley` server and
/// the release build `dist/` and the npm tarball (built by the step before); the example hosts
/// on another origin (the Vite one installs the tarball and Vite from npm); screenshots in
/// `target/screenshots/`.
fn end_to_end(browser: &Browser) -> Result<Counts> {
    let counts = run_tests(&mut e2e_runner(browser)?)?;
    // A runner that stopped before its summary must not pass for a clean run.
    if counts.passed == 0 || counts.failed > 0 {
        bail!(
            "the end-to-end run reported {} passed, {} failed",
            counts.passed,
            counts.failed
        );
    }
    Ok(counts)
}

/// `node e2e/run.cjs` with its arguments and the npm tools it needs (playwright-core, and
/// Voiceflow's published clients for the conformance scenarios), for the end-to-end step and
/// the scale-out step (which picks its scenarios by environment).
pub(crate) fn e2e_runner(browser: &Browser) -> Result<std::process::Command> {
    let playwright = tools::ensure_playwright()?;
    let voiceflow = tools::ensure_voiceflow_clients()?;
    let parley = build_server()?;
    let mut node = command("node");
    node.arg(root().join("e2e/run.cjs"))
        .arg(&parley)
        .arg(widget::dist_dir())
        .arg(&browser.chromium)
        .arg(root().join("target/screenshots"))
        .arg(widget::npm_tarball())
        .env("NODE_PATH", playwright.join("node_modules"))
        .env("PARLEY_VOICEFLOW_DIR", &voiceflow);
    Ok(node)
}

fn check_png(path: &Path) -> Result<()> {
    let bytes =
        std::fs::read(path).with_context(|| format!("no screenshot at {}", path.display()))?;
    if !bytes.starts_with(b"\x89PNG") {
        bail!("{} is not a PNG", path.display());
    }
    Ok(())
}

fn summarise(steps: &[Step], took: Duration) -> Result<()> {
    println!(
        "\n== cargo xtask test: summary ({:.0} s)",
        took.as_secs_f64()
    );
    let mut total = Counts::default();
    let mut failed_steps = 0;
    for s in steps {
        let (status, detail) = match &s.outcome {
            Ok(Some(c)) => {
                total.add(*c);
                ("ok", format!("{} passed", c.passed))
            }
            Ok(None) => ("ok", String::new()),
            Err(e) => {
                failed_steps += 1;
                if let Some(tests) = e.downcast_ref::<TestsFailed>() {
                    total.add(tests.counts);
                }
                (
                    "FAILED",
                    format!("{e:#}").lines().next().unwrap_or("").to_owned(),
                )
            }
        };
        println!(
            "{status:>6}  {:<42} {:>6.1} s  {detail}",
            s.name,
            s.took.as_secs_f64()
        );
    }
    println!(
        "steps: {} passed, {} failed",
        steps.len() - failed_steps,
        failed_steps
    );
    println!("tests: {} passed, {} failed", total.passed, total.failed);
    if failed_steps > 0 {
        bail!("{failed_steps} step(s) failed");
    }
    Ok(())
}
