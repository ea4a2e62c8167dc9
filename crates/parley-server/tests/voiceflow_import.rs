//! Voiceflow exports through the `parley` binary (issue 18): `parley check` names every node it
//! cannot run (diagram, node id, type), `parley serve --project` refuses such an export unless
//! `--skip-unsupported` and runs each hand-written fixture, and `parley import` writes a project
//! in Parley's format that checks clean.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../parley-engine/tests/voiceflow")
        .join(name)
        .display()
        .to_string()
}

fn parley(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_names_every_unsupported_node_and_skipping_them_is_a_choice() {
    let nodes = fixture("nodes.vfr");
    let out = parley(&["check", &nodes]);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "{nodes}: error: unsupported node: diagram d_root (Root), node m_ai, type \
             generative: Parley has no `generative` step"
        )),
        "{log}"
    );
    assert!(
        log.contains("1 node(s) above cannot run on Parley"),
        "{log}"
    );
    assert!(!log.contains("stack backtrace"), "{log}");
    let out = parley(&["check", "--skip-unsupported", &nodes]);
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("warning: unsupported node: diagram d_root (Root), node m_ai"),
        "{log}"
    );
    for clean in ["agent.vfr", "booking.vfr"] {
        let out = parley(&["check", &fixture(clean)]);
        assert_eq!(out.status.code(), Some(0), "{clean}: {}", stderr(&out));
    }
}

#[test]
fn import_writes_a_project_that_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let written = dir.path().join("agent.json");
    let out = parley(&[
        "import",
        &fixture("agent.vfr"),
        "-o",
        &written.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let project: Value = serde_json::from_str(&std::fs::read_to_string(&written).unwrap()).unwrap();
    assert_eq!(project["id"], "bean-there");
    assert_eq!(
        project["versions"][0]["settings"]["expressionLanguage"],
        "javascript"
    );
    let out = parley(&["check", &written.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Not an export: said so.
    let out = parley(&["import", &written.display().to_string(), "-o", "-"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a Voiceflow export"),
        "{}",
        stderr(&out)
    );
}

/// `parley serve` on a free port; its address once it says it is serving.
struct Server {
    child: Child,
    addr: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(args: &[&str]) -> Result<Server, String> {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_parley"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(args)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = String::new();
    // Bounded by the lines the server writes before it serves or exits (a closed pipe ends it).
    for line in lines.by_ref().take(200) {
        let Ok(line) = line else { break };
        said.push_str(&line);
        said.push('\n');
        if let Some(at) = line.find("http://") {
            let addr = line[at + 7..]
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            // The rest of its log is not read: drain it so the server never blocks on it.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(Server {
                child,
                addr,
                _data: data,
            });
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(said)
}

/// A stateless launch: the traces' texts (and other types by name).
fn launch(addr: &str) -> Vec<String> {
    let body = r#"{"action":{"type":"launch"}}"#;
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /interact HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    // A chunked body: the JSON is the line that starts with `{` or `[`.
    let json = json
        .lines()
        .find(|l| l.starts_with('{') || l.starts_with('['))
        .unwrap_or_else(|| panic!("no JSON in {answer}"));
    let answer: Value = serde_json::from_str(json).unwrap();
    answer["trace"]
        .as_array()
        .unwrap_or_else(|| panic!("no trace in {answer}"))
        .iter()
        .map(|t| match t["type"].as_str() {
            Some("text") => format!("text: {}", t["payload"]["message"].as_str().unwrap_or("")),
            other => other.unwrap_or("?").to_owned(),
        })
        .collect()
}

#[test]
fn serve_runs_each_fixture_and_refuses_unsupported_nodes_unless_told() {
    let started = Instant::now();
    let server = serve(&["--project", &fixture("agent.vfr")]).unwrap();
    assert_eq!(
        launch(&server.addr),
        ["text: Welcome to Bean There!", "choice", "no-reply"]
    );
    drop(server);
    let server = serve(&["--project", &fixture("booking.vfr")]).unwrap();
    assert_eq!(
        launch(&server.addr),
        ["text: Book a table: for how many, and when?"]
    );
    drop(server);
    let refused = serve(&["--project", &fixture("nodes.vfr")]).err().unwrap();
    assert!(
        refused.contains("unsupported node: diagram d_root (Root), node m_ai, type generative"),
        "{refused}"
    );
    let server = serve(&["--skip-unsupported", "--project", &fixture("nodes.vfr")]).unwrap();
    // The speak step's variant is the stateless launch's seed's; the unsupported node ends the
    // turn with a debug trace (left out by default, as Voiceflow's `excludeTypes` leaves it).
    let traces = launch(&server.addr);
    assert_eq!(
        traces[1..],
        [
            "visual",
            "cardV2",
            "carousel",
            "text: From a component.",
            "text: FAQ, second answer (reached by a go-to-block from the component)."
        ],
        "{traces:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
}
