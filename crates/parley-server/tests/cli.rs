//! The `parley` binary as a person meets it: `parley check` on a broken project file (every
//! problem, each with its JSON path and file position, and no backtrace even with
//! `RUST_BACKTRACE=1`), and `parley chat` rendering the demo's markdown, plain through a pipe and
//! in ANSI styles on a terminal.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use parley_server::BUNDLED_DEMO;
use serde_json::{Value, json};

fn parley(args: &[&str], stdin: &str) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(args)
            .env_remove("NO_COLOR"),
        stdin,
    )
}

fn run(command: &mut Command, stdin: &str) -> Output {
    let mut child = command
        // Set on many developers' machines: user errors must not print a backtrace under it.
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// 1-based line and column of the first `needle` after `after` in `text`.
fn position(text: &str, after: &str, needle: &str) -> (usize, usize) {
    let start = text.find(after).unwrap();
    let at = start + text[start..].find(needle).unwrap();
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_reports_every_problem_located_and_no_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let mut project: Value = serde_json::from_str(BUNDLED_DEMO).unwrap();
    let blocks = &mut project["versions"][0]["flows"][0]["blocks"];
    // A condition block has no `next` (a typo for a branch's), a version has no `variabels`,
    // and a link to a block that does not exist.
    blocks[0]["next"] = json!("welcome");
    blocks[1]["next"] = json!("nowhere");
    project["versions"][0]["variabels"] = json!([]);
    let body = serde_json::to_string_pretty(&project).unwrap();
    let file = write(dir.path(), "broken.json", &body);
    let out = parley(&["check", &file], "");
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let (line, column) = position(&body, r#""id": "greet""#, r#""next""#);
    let (vline, vcolumn) = position(&body, r#""variabels""#, r#""variabels""#);
    let (nline, ncolumn) = position(&body, r#""nowhere""#, r#""nowhere""#);
    let expected = [
        format!(
            "{file}:{line}:{column}: error: versions[0].flows[0].blocks[0]: unknown field \
             `next`, expected one of `id`, `branches`, `else`"
        ),
        format!(
            "{file}:{vline}:{vcolumn}: error: versions[0]: unknown field `variabels`, expected \
             one of `id`, `startFlow`, `flows`, `intents`, `entities`, `variables`, `settings`"
        ),
        format!(
            "{file}:{nline}:{ncolumn}: error: version `v1`, flow `main`, block `welcome`, field \
             `next`: links to `nowhere`, which is not a block of the flow `main`"
        ),
        format!("parley: error: {file} is not a valid project: 3 error(s) above"),
    ];
    assert_eq!(log.lines().collect::<Vec<_>>(), expected, "{log}");
    assert!(!log.to_lowercase().contains("backtrace"), "{log}");

    // A syntax error: serde_json's position, once.
    let file = write(dir.path(), "cut.json", "{\n  \"id\": \"p\",\n  \"name\"");
    let out = parley(&["check", &file], "");
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            format!("{file}:3:8: error: EOF while parsing an object"),
            format!("parley: error: {file} is not a valid project file (1 problem(s) above)"),
        ],
        "{log}"
    );

    // A file that is not there, and a bad argument to serve: one line each.
    let missing = dir.path().join("missing.json").display().to_string();
    let out = parley(&["check", &missing], "");
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        log.starts_with(&format!(
            "parley: error: cannot read the project {missing}: "
        )),
        "{log}"
    );
    assert_eq!(log.lines().count(), 1, "{log}");
    let demo = write(dir.path(), "demo.json", BUNDLED_DEMO);
    let data = dir.path().display().to_string();
    let args = [
        "serve",
        "--state-secret",
        "beef",
        "--project",
        &demo,
        "--data-dir",
        &data,
    ];
    let out = parley(&args, "");
    let log = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.ends_with(
            "parley: error: --state-secret must be 64 hexadecimal digits (32 random bytes)\n"
        ),
        "{log}"
    );
    assert!(!log.to_lowercase().contains("backtrace"), "{log}");

    // The demo is valid; its optional LLM answer is named when no model is configured, and
    // not when one is.
    let out = parley(&["check", &demo], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("valid"));
    assert!(
        text(&out.stderr).contains("LLM blocks"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_parley"))
            .args(["check", &demo])
            .env("PARLEY_LLM_BASE_URL", "http://127.0.0.1:9/v1"),
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("LLM blocks"),
        "{}",
        text(&out.stderr)
    );
}

/// What `parley chat` says to the demo on launch, then to "hi".
fn assert_demo_chat(out: &str, bold: &str, image: &str, first_option: &str) {
    let welcome = [
        format!("bot> Hi! Welcome to {bold} 🍕"),
        format!("bot> Hello, and welcome to {bold} 🍕"),
    ];
    assert!(welcome.iter().any(|w| out.contains(w)), "{out:?}");
    assert!(out.contains(image), "{out:?}");
    assert!(out.contains(first_option), "{out:?}");
    assert!(!out.contains("**"), "markdown left as it is: {out:?}");
    // The demo's greeting answers "hi".
    assert!(out.contains("👋"), "{out:?}");
}

#[test]
fn chat_through_a_pipe_is_plain_text() {
    let out = parley(&["chat"], "hi\n/quit\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = text(&out.stdout);
    assert!(
        !out.contains('\x1b'),
        "no escape sequences through a pipe: {out:?}"
    );
    assert_demo_chat(
        &out,
        "Pizza Palace",
        "bot> [image] http://127.0.0.1:8080/demo/images/logo.svg",
        "   1) Order a pizza",
    );
    assert!(
        out.contains("e.g. I'd like a large pepperoni pizza."),
        "{out:?}"
    );
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), bold, italic and links are
/// ANSI styles.
#[cfg(unix)]
#[test]
fn chat_on_a_terminal_has_ansi_styles() {
    let command = format!("{} chat", env!("CARGO_BIN_EXE_parley"));
    let out = run(
        Command::new("script")
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env_remove("NO_COLOR"),
        "hi\n/quit\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = text(&out.stdout);
    assert_demo_chat(
        &out,
        "\x1b[1mPizza Palace\x1b[22m",
        "bot> \x1b[2m[image]\x1b[22m \x1b[4mhttp://127.0.0.1:8080/demo/images/logo.svg\x1b[24m",
        "   \x1b[1m1\x1b[22m) Order a pizza",
    );
    assert!(
        out.contains("e.g. \x1b[3mI'd like a large pepperoni pizza\x1b[23m."),
        "{out:?}"
    );

    // NO_COLOR (no-color.org) asks for none, terminal or not.
    let out = run(
        Command::new("script")
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env("NO_COLOR", "1"),
        "hi\n/quit\n",
    );
    let out = text(&out.stdout);
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(out.contains("Pizza Palace 🍕"), "{out:?}");
}
