//! `cargo xtask demo`, and the server process it starts (which the test's browser check of the
//! demo reuses); `cargo xtask demo --watch`, `trunk serve` in front of that server, and the
//! test's check of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, command, root, run, target_dir};
use crate::tools::Browser;
use crate::{tools, widget};

pub(crate) fn main(addr: SocketAddr, watch: bool, port: Option<u16>) -> Result<()> {
    tools::ensure_widget_toolchain()?;
    if watch {
        return main_watch(addr, port);
    }
    widget::build_release()?;
    let parley = build_server()?;
    let mut server = Server::start(&parley, addr)?;
    println!();
    // The demo starts on the workbench: the chat beside everything on the wire (README, "The
    // workbench"); the page with the widget alone in its corner is the site a visitor sees.
    println!("Parley demo, open: {}workbench", server.url);
    println!(
        "The widget on a plain page, as a visitor sees it: {}",
        server.url
    );
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
                // The workbench's debug panels, on loopback (the demo's one version is also
                // its production: without the switch no keyless caller gets them).
                .arg("--debug-traces")
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

/// `cargo xtask demo --watch`: the runtime, and `trunk serve` in front of it until Ctrl-C.
fn main_watch(addr: SocketAddr, port: Option<u16>) -> Result<()> {
    let parley = build_server()?;
    // The first debug build of the widget compiles its dependencies: minutes on a fresh machine.
    let mut watch = Watch::start(&parley, addr, port, Duration::from_secs(1800), false)?;
    println!();
    println!(
        "Parley demo, rebuilt and reloaded on every change of the widget: {}",
        watch.url
    );
    println!(
        "(the runtime is at {}; Ctrl-C stops both)",
        watch.runtime.url
    );
    let status = watch.trunk.wait()?;
    if !status.success() {
        bail!("trunk serve stopped: {status}");
    }
    Ok(())
}

/// Where `trunk serve` writes its debug build, apart from `dist/` (the release bundle, which
/// `parley serve`, the size budget and the end-to-end tests use).
fn watch_dist_dir() -> PathBuf {
    target_dir().join("trunk-serve/dist")
}

/// The runtime and `trunk serve` in front of it (the committed `Trunk.toml`, with its proxies
/// pointed at the runtime's address); both stopped when dropped.
pub(crate) struct Watch {
    pub(crate) runtime: Server,
    trunk: Child,
    /// Whether trunk leads its own process group (see `start`).
    group: bool,
    /// The page `trunk serve` builds.
    pub(crate) url: String,
}

impl Watch {
    /// Starts the runtime on `addr` (port 0: a free one) and `trunk serve` on `port` (`None`:
    /// `Trunk.toml`'s), and waits at most `within` for trunk's first build to be served.
    ///
    /// `group`: trunk in its own process group, which dropping the `Watch` stops whole (trunk
    /// and the cargo build it may be running: a killed trunk leaves cargo holding the target
    /// directory's lock). Not for a terminal's session: Ctrl-C reaches only the terminal's group.
    pub(crate) fn start(
        parley: &Path,
        addr: SocketAddr,
        port: Option<u16>,
        within: Duration,
        group: bool,
    ) -> Result<Watch> {
        let port = match port {
            Some(port) => port,
            None => committed_trunk_port()?,
        };
        // No --widget-dir: the page comes from trunk; the runtime answers the API. Its public
        // URL is trunk's: trunk's proxy sends the backend's host without its port as `Host`,
        // so the pictures' paths would otherwise be made absolute against port 80.
        let runtime = Server::spawn(
            command(parley)
                .arg("serve")
                .arg("--addr")
                .arg(addr.to_string())
                .arg("--public-url")
                .arg(format!("http://127.0.0.1:{port}"))
                .arg("--debug-traces")
                .arg("--data-dir")
                .arg(root().join("target/parley-data")),
        )?;
        let runtime_addr = address_of(&runtime.url)?;
        let (config, port) = trunk_config(runtime_addr, Some(port))?;
        let mut trunk = command("trunk");
        trunk.arg("serve").arg("--config").arg(&config);
        #[cfg(unix)]
        if group {
            use std::os::unix::process::CommandExt;
            trunk.process_group(0);
        }
        eprintln!("$ trunk serve --config {}", config.display());
        let trunk = trunk.spawn().context("cannot start trunk")?;
        let mut watch = Watch {
            runtime,
            trunk,
            group,
            url: format!("http://127.0.0.1:{port}/"),
        };
        watch.wait_until_served(port, within)?;
        Ok(watch)
    }

    /// Polls trunk's port (once a second, at most `within`) until it serves the page.
    fn wait_until_served(&mut self, port: u16, within: Duration) -> Result<()> {
        let at = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.trunk.try_wait()? {
                bail!("trunk serve stopped before serving the page ({status})");
            }
            if let Ok((200, page)) = http(at, "GET", "/", None)
                && page.contains("<html")
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        bail!(
            "trunk serve did not serve the page within {} s",
            within.as_secs()
        )
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        #[cfg(unix)]
        if self.group {
            // The group trunk leads (see `start`): trunk and the cargo it may be running.
            let group = format!("-{}", self.trunk.id());
            let _ = command("kill").args(["-TERM", "--", &group]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(self.trunk.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = self.trunk.kill();
        let _ = self.trunk.wait();
    }
}

/// `http://127.0.0.1:8080/` → `127.0.0.1:8080`.
fn address_of(url: &str) -> Result<SocketAddr> {
    let host = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .with_context(|| format!("not an http:// URL: {url}"))?;
    host.parse()
        .with_context(|| format!("not an address: {host}"))
}

/// The port the committed `Trunk.toml` serves on.
fn committed_trunk_port() -> Result<u16> {
    let text = std::fs::read_to_string(root().join("Trunk.toml")).context("reading Trunk.toml")?;
    let config: toml::Table = text.parse().context("parsing Trunk.toml")?;
    config
        .get("serve")
        .and_then(|serve| serve.get("port"))
        .and_then(toml::Value::as_integer)
        .and_then(|p| u16::try_from(p).ok())
        .context("Trunk.toml has no serve.port")
}

/// The committed `Trunk.toml`, written under `target/` with its proxies' backends at
/// `runtime`, its port `port` (when given), its build into [`watch_dist_dir`], and its paths
/// absolute (trunk reads them relative to the config file). Returns the file and the port.
fn trunk_config(runtime: SocketAddr, port: Option<u16>) -> Result<(PathBuf, u16)> {
    let root = root();
    let text = std::fs::read_to_string(root.join("Trunk.toml")).context("reading Trunk.toml")?;
    let (config, port) = derive_trunk_config(&text, &root, runtime, port, &watch_dist_dir())?;
    let dir = target_dir().join("trunk-serve");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("Trunk.toml");
    std::fs::write(&file, config).with_context(|| format!("writing {}", file.display()))?;
    Ok((file, port))
}

/// [`trunk_config`]'s text, from `Trunk.toml`'s `text` in the directory `root`.
fn derive_trunk_config(
    text: &str,
    root: &Path,
    runtime: SocketAddr,
    port: Option<u16>,
    dist: &Path,
) -> Result<(String, u16)> {
    let mut config: toml::Table = text.parse().context("parsing Trunk.toml")?;
    let absolute = |v: &toml::Value| -> Result<toml::Value> {
        let path = v.as_str().context("a path in Trunk.toml is not a string")?;
        Ok(root.join(path).display().to_string().into())
    };
    let build = table(&mut config, "build")?;
    let target = absolute(
        build
            .get("target")
            .context("Trunk.toml has no build.target")?,
    )?;
    build.insert("target".into(), target);
    build.insert("dist".into(), dist.display().to_string().into());
    if let Some(paths) = table(&mut config, "watch")?.get_mut("watch") {
        let list = paths
            .as_array()
            .context("watch.watch in Trunk.toml is not a list")?;
        *paths = list
            .iter()
            .map(absolute)
            .collect::<Result<Vec<_>>>()?
            .into();
    }
    let serve = table(&mut config, "serve")?;
    if let Some(port) = port {
        serve.insert("port".into(), i64::from(port).into());
    }
    let port = serve
        .get("port")
        .and_then(toml::Value::as_integer)
        .and_then(|p| u16::try_from(p).ok())
        .context("Trunk.toml has no serve.port")?;
    let proxies = config
        .get_mut("proxy")
        .and_then(toml::Value::as_array_mut)
        .context("Trunk.toml has no [[proxy]]")?;
    for proxy in proxies {
        let backend = proxy
            .get_mut("backend")
            .context("a [[proxy]] in Trunk.toml has no backend")?;
        let url = backend.as_str().unwrap_or_default();
        let path = url
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
            .with_context(|| format!("a proxy backend is not an http:// URL with a path: {url}"))?;
        *backend = format!("http://{runtime}{path}").into();
    }
    Ok((toml::to_string(&config)?, port))
}

/// The table `name` of a TOML document, made when missing.
fn table<'a>(config: &'a mut toml::Table, name: &str) -> Result<&'a mut toml::Table> {
    config
        .entry(name)
        .or_insert_with(|| toml::Table::new().into())
        .as_table_mut()
        .with_context(|| format!("`{name}` in Trunk.toml is not a table"))
}

/// One HTTP/1.1 request on loopback, answered with its status and body (bounded: 30 s).
fn http(at: SocketAddr, method: &str, path: &str, json: Option<&str>) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&at, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let body = json.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP answer: {head}"))?;
    Ok((status, body.to_owned()))
}

/// A free loopback port (free when asked; nothing else on this machine picks ports at random).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// `cargo xtask test`'s check of `trunk serve`: the runtime and trunk on free ports, the page
/// with trunk's reload hook, a turn through trunk's proxy over HTTP, then a turn in headless
/// Chromium (`e2e/trunk-serve.cjs`), which leaves `target/screenshots/trunk-serve.png`.
pub(crate) fn watch_check(browser: &Browser) -> Result<()> {
    let playwright = tools::ensure_playwright()?;
    let parley = build_server()?;
    let watch = Watch::start(
        &parley,
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Some(free_port()?),
        Duration::from_secs(900),
        true,
    )?;
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots)?;
    run(command("node")
        .arg(root().join("e2e/trunk-serve.cjs"))
        .arg(&watch.url)
        .arg(&browser.chromium)
        .arg(shots.join("trunk-serve.png"))
        .arg(root().join("index.html"))
        .env("NODE_PATH", playwright.join("node_modules")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::path::Path;

    use super::{derive_trunk_config, http};

    #[test]
    fn the_committed_trunk_toml_is_pointed_at_the_runtime() {
        let text = std::fs::read_to_string(crate::cmd::root().join("Trunk.toml")).unwrap();
        let runtime = SocketAddr::from(([127, 0, 0, 1], 4242));
        let (config, port) =
            derive_trunk_config(&text, Path::new("/r"), runtime, None, Path::new("/d")).unwrap();
        assert_eq!(port, 8081, "not the runtime's default port");
        let config: toml::Table = config.parse().unwrap();
        let backends: Vec<&str> = config["proxy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["backend"].as_str().unwrap())
            .collect();
        for route in ["/interact", "/state", "/public", "/v2", "/v4", "/demo"] {
            let backend = format!("http://127.0.0.1:4242{route}");
            assert!(backends.contains(&backend.as_str()), "{backends:?}");
        }
        assert_eq!(config["build"]["target"].as_str(), Some("/r/index.html"));
        assert_eq!(config["build"]["dist"].as_str(), Some("/d"));
        let watched = config["watch"]["watch"].as_array().unwrap();
        assert!(
            watched
                .iter()
                .all(|p| p.as_str().unwrap().starts_with("/r/"))
        );
        let (_, port) =
            derive_trunk_config(&text, Path::new("/r"), runtime, Some(9), Path::new("/d")).unwrap();
        assert_eq!(port, 9);
    }

    #[test]
    fn http_posts_and_reads_the_answer() {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let at = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let mut body = vec![0; 2];
            std::io::Read::read_exact(&mut reader, &mut body).unwrap();
            let mut stream = stream;
            stream
                .write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
            (head, body)
        });
        let (status, body) = http(at, "POST", "/interact", Some("{}")).unwrap();
        assert_eq!((status, body.as_str()), (201, "hello"));
        let (head, body) = server.join().unwrap();
        assert_eq!(head[0], "POST /interact HTTP/1.1\r\n");
        assert!(
            head.contains(&"Content-Length: 2\r\n".to_owned()),
            "{head:?}"
        );
        assert_eq!(body, b"{}");
    }
}
