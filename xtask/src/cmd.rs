//! Running commands: one place that knows the workspace root, the PATH our tools live on, and
//! how to stream a test runner's output while counting its results.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The workspace root (xtask lives one level below it).
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR`, or `target/` in the workspace).
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Where `cargo install` puts binaries.
pub(crate) fn cargo_bin_dir() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"));
    home.join("bin")
}

/// Where xtask installs npm-packaged tools (binaryen's wasm-opt), inside `target/`.
pub(crate) fn npm_tools_dir() -> PathBuf {
    root().join("target/tools")
}

/// PATH with our tools first (npm-installed ones, then cargo's bin directory), so that freshly
/// installed tools are found and win over older copies elsewhere on the machine.
fn tool_path() -> OsString {
    let mut paths = vec![npm_tools_dir().join("node_modules/.bin"), cargo_bin_dir()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

/// A command run from the workspace root with the tools' PATH.
pub(crate) fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root()).env("PATH", tool_path());
    cmd
}

/// `cargo`, the same one that runs xtask.
pub(crate) fn cargo() -> Command {
    command(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn describe(cmd: &Command) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs a command to completion, its output going to ours; fails on a non-zero exit.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let line = describe(cmd);
    eprintln!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs a command and returns its trimmed standard output, or `None` if it cannot be started or
/// fails: used to ask a tool for its version.
pub(crate) fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Test results read off a runner's `test result: ok. N passed; M failed; …` lines.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// Reads one line of libtest's (or wasm-bindgen-test's) output.
    fn read_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split([';', '.']) {
            let mut words = part.split_whitespace();
            match (words.next().map(str::parse::<u64>), words.next()) {
                (Some(Ok(n)), Some("passed")) => self.passed += n,
                (Some(Ok(n)), Some("failed")) => self.failed += n,
                _ => {}
            }
        }
    }
}

/// Runs a test command, echoing its standard output line by line and counting results.
pub(crate) fn run_tests(cmd: &mut Command) -> Result<Counts> {
    let line = describe(cmd);
    eprintln!("$ {line}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start `{line}`"))?;
    let mut counts = Counts::default();
    if let Some(stdout) = child.stdout.take() {
        for text in BufReader::new(stdout).lines() {
            let text = text.context("reading the test output")?;
            println!("{text}");
            counts.read_line(&text);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(TestsFailed {
            counts,
            what: format!("`{line}` failed ({status})"),
        }
        .into());
    }
    Ok(counts)
}

/// A test run that failed, with what it counted before and while failing.
#[derive(Debug)]
pub(crate) struct TestsFailed {
    pub(crate) counts: Counts,
    what: String,
}

impl std::fmt::Display for TestsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Counts { passed, failed } = self.counts;
        write!(f, "{}: {passed} passed, {failed} failed", self.what)
    }
}

impl std::error::Error for TestsFailed {}

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn reads_libtest_and_wasm_bindgen_test_summaries() {
        let mut counts = Counts::default();
        counts.read_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.03s");
        counts.read_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 filtered out; finished in 1.20s",
        );
        counts.read_line("running 5 tests");
        counts.read_line("test result passed 7");
        assert_eq!((counts.passed, counts.failed), (15, 2));
    }
}
