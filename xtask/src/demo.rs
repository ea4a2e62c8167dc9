//! `cargo xtask demo`, and the server process it starts (which the test's browser check of the
//! demo reuses).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, command, root, run, target_dir};
use crate::{tools, widget};

pub(crate) fn main(addr: SocketAddr) -> Result<()> {
    tools::ensure_widget_toolchain()?;
    widget::build_release()?;
    let parley = build_server()?;
    let mut server = Server::start(&parley, addr)?;
    println!();
    println!("Parley demo: {}", server.url);
    println!("(Ctrl-C stops it)");
    let status = server.child.wait()?;
    if !status.success() {
        bail!("the server stopped: {status}");
    }
    Ok(())
}

/// Builds the `parley` binary (debug) and returns its path.
pub(crate) fn build_server() -> Result<PathBuf> {
    build_parley(false)
}

/// Builds the `parley` binary, in the release profile or not, and returns its path.
pub(crate) fn build_parley(release: bool) -> Result<PathBuf> {
    let mut build = cargo();
    build.args([
        "build",
        "--locked",
        "--package",
        "parley-server",
        "--bin",
        "parley",
    ]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let profile = if release { "release" } else { "debug" };
    Ok(target_dir().join(profile).join("parley"))
}

/// A running `parley serve`, killed when dropped.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) url: String,
}

impl Server {
    /// Starts the server on `addr` (port 0 picks a free one) and waits until it says where it
    /// listens.
    pub(crate) fn start(parley: &PathBuf, addr: SocketAddr) -> Result<Server> {
        Server::spawn(
            command(parley)
                .arg("serve")
                .arg("--addr")
                .arg(addr.to_string())
                .arg("--widget-dir")
                .arg(widget::dist_dir())
                .arg("--data-dir")
                .arg(root().join("target/parley-data")),
        )
    }

    /// Starts a server that announces its `http://` URL on stderr, and waits for it.
    pub(crate) fn spawn(command: &mut std::process::Command) -> Result<Server> {
        let mut child = command
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {:?}", command.get_program()))?;
        let stderr = child.stderr.take().context("no stderr")?;
        let (tx, rx) = mpsc::channel();
        // Relay the server's log, and pick the URL out of the line that announces it.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => Ok(Server { child, url }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait()?;
                bail!("the server did not start ({status})")
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
