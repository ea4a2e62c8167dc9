//! A throwaway PostgreSQL server for the storage tests: Debian's `postgresql` package (installed
//! when missing), a fresh cluster in a temporary directory on a free loopback port, stopped
//! when the tests end. The server's tests read its URL from `PARLEY_TEST_DATABASE_URL`.
//!
//! A URL already in `PARLEY_TEST_DATABASE_URL` is used as it is (a developer's own server).
//! PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres` user
//! that the package creates.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::cmd::{command, run};
use crate::tools::{apt_install, is_root};

/// A running test server; dropping it stops the one we started.
pub(crate) struct Postgres {
    pub(crate) url: String,
    started: Option<(PathBuf, PathBuf)>,
}

/// The newest installed server's binaries (`/usr/lib/postgresql/<major>/bin`).
fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The installed `psql` (the scale-out scenarios create their databases with it).
pub(crate) fn psql() -> Result<PathBuf> {
    bin_dir()
        .map(|bin| bin.join("psql"))
        .filter(|psql| psql.is_file())
        .context("PostgreSQL's psql is missing (the postgresql package installs it)")
}

/// Runs a PostgreSQL tool as the user that owns the cluster.
fn as_owner(bin: &std::path::Path, tool: &str) -> std::process::Command {
    if is_root() {
        let mut cmd = command("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        cmd
    } else {
        command(bin.join(tool))
    }
}

pub(crate) fn start() -> Result<Postgres> {
    if let Ok(url) = std::env::var("PARLEY_TEST_DATABASE_URL") {
        eprintln!("xtask: PostgreSQL tests use PARLEY_TEST_DATABASE_URL");
        return Ok(Postgres { url, started: None });
    }
    let bin = match bin_dir() {
        Some(bin) => bin,
        None => {
            apt_install(&["postgresql"], "PostgreSQL (for the storage tests)")?;
            bin_dir().context("PostgreSQL's binaries are still missing after installing it")?
        }
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let data = std::env::temp_dir().join(format!("parley-test-postgres-{port}"));
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    // Owned by whoever runs the server: create it as that user.
    run(as_owner(&bin, "initdb")
        .args([
            "--auth=trust",
            "--username=parley",
            "--encoding=UTF8",
            "--no-sync",
        ])
        .arg("--pgdata")
        .arg(&data))
    .context("creating a PostgreSQL cluster")?;
    let log = data.join("server.log");
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
    );
    let started = run(as_owner(&bin, "pg_ctl")
        .args(["start", "--wait", "--timeout=60", "--silent"])
        .arg("--pgdata")
        .arg(&data)
        .arg("--log")
        .arg(&log)
        .args(["-o", &options]));
    if let Err(e) = started {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        bail!("PostgreSQL did not start: {e:#}\n{log}");
    }
    eprintln!("xtask: PostgreSQL {} on 127.0.0.1:{port}", bin.display());
    Ok(Postgres {
        url: format!("postgres://parley@127.0.0.1:{port}/postgres"),
        started: Some((bin, data)),
    })
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some((bin, data)) = self.started.take() {
            let _ = run(as_owner(&bin, "pg_ctl")
                .args(["stop", "--mode=fast", "--silent", "--pgdata"])
                .arg(&data));
            let _ = std::fs::remove_dir_all(&data);
        }
    }
}
