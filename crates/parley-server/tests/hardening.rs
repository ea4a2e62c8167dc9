//! Issue 15's findings, each as a test: what an attacker could exhaust or reach. The connection
//! tests run the real `parley` binary on loopback and hold bounded numbers of sockets for
//! bounded times; the rest send the real router requests with `oneshot`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use parley_engine::{Project, compile};
use parley_server::signing::{SIGNED_AT_KEY, Signer};
use parley_server::store::SqliteStore;
use parley_server::{AppState, BUNDLED_DEMO, Limits, Options, app};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A `parley serve` on a free loopback port, killed when dropped.
struct Binary {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Binary {
    fn start(args: &[&str]) -> Binary {
        Self::start_with(|cmd| cmd, args)
    }

    fn start_with(wrap: impl FnOnce(Command) -> Command, args: &[&str]) -> Binary {
        let data = tempfile::tempdir().unwrap();
        let exe = env!("CARGO_BIN_EXE_parley");
        let mut cmd = wrap(Command::new(exe));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        // "Parley is serving … at http://127.0.0.1:PORT/ (Ctrl-C stops it)"
        let mut stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = String::new();
            let mut buf = [0u8; 512];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
                if let Some(rest) = seen.split("http://").nth(1)
                    && let Some(addr) = rest.split('/').next()
                    && rest.contains('/')
                {
                    let _ = tx.send(addr.to_owned());
                    seen.clear();
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server did not start within 30 s")
            .parse()
            .unwrap();
        Binary {
            child,
            addr,
            _data: data,
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        s
    }

    /// GET /health on a new connection: the status and how long it took.
    fn health(&self) -> (u16, Duration) {
        let started = Instant::now();
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, started.elapsed())
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether the server closed the socket (reading gives end of file or a reset); what it sent
/// before is appended to `seen`.
fn closed(s: &mut TcpStream, seen: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A cleartext HTTP/2 client (h2c prior knowledge) gets no connection that outlives the header
/// time: the server speaks HTTP/1 only (hyper's HTTP/2 has no idle or header timer, so a client
/// answering pings could hold a connection, and a permit, for ever).
#[test]
fn cleartext_http2_holds_no_connection() {
    use std::io::Write;
    let server = Binary::start(&["--header-timeout-secs", "2"]);
    let mut s = server.connect();
    // The HTTP/2 connection preface, then an empty SETTINGS frame.
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    // Refused at once as a malformed HTTP/1 request: well before the header time and the
    // HTTP/2 keep-alive pings (which a client could answer) would end it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1500);
    let mut seen = Vec::new();
    while !closed(&mut s, &mut seen) {
        assert!(
            std::time::Instant::now() < deadline,
            "an h2c connection was still open after 1.5 s: {}",
            String::from_utf8_lossy(&seen)
        );
    }
}

/// Finding 1: idle, slow-header (slowloris), slow-body and kept-alive idle connections are
/// closed after the header or body time, and `/health` is answered all along.
#[test]
fn slow_and_idle_connections_are_closed_while_others_are_answered() {
    let server = Binary::start(&["--header-timeout-secs", "2", "--body-timeout-secs", "2"]);
    let mut held: Vec<(&str, TcpStream, Vec<u8>)> = Vec::new();
    for _ in 0..20 {
        held.push(("idle", server.connect(), Vec::new()));
    }
    for _ in 0..20 {
        let mut s = server.connect();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
        held.push(("slow header", s, Vec::new()));
    }
    for _ in 0..10 {
        let mut s = server.connect();
        s.write_all(
            b"POST /interact HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 10485760\r\n\r\n",
        )
        .unwrap();
        s.write_all(&[b' '; 1024]).unwrap();
        held.push(("slow body", s, Vec::new()));
    }
    for _ in 0..10 {
        let mut s = server.connect();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        held.push(("kept-alive idle", s, Vec::new()));
    }
    let started = Instant::now();
    let mut open = held.len();
    let mut worst_health = Duration::ZERO;
    let mut gone: Vec<usize> = Vec::new();
    while open > 0 && started.elapsed() < Duration::from_secs(15) {
        // The slow ones keep trickling, a byte at a time.
        for (kind, s, _) in &mut held {
            let _ = match *kind {
                "slow header" => s.write_all(b"X-a: b\r\n"),
                "slow body" => s.write_all(b" "),
                _ => Ok(()),
            };
        }
        let (status, took) = server.health();
        assert_eq!(status, 200, "/health while connections are held");
        worst_health = worst_health.max(took);
        for (_, s, seen) in &mut held {
            if !gone.contains(&(s as *const TcpStream as usize)) && closed(s, seen) {
                gone.push(s as *const TcpStream as usize);
            }
        }
        open = held.len() - gone.len();
        std::thread::sleep(Duration::from_millis(300));
    }
    let closed_after = started.elapsed();
    for (kind, s, _) in &held {
        assert!(
            gone.contains(&(s as *const TcpStream as usize)),
            "a {kind} connection is still open"
        );
    }
    assert!(
        closed_after < Duration::from_secs(10),
        "closed after {closed_after:?}"
    );
    assert!(worst_health < Duration::from_secs(2), "{worst_health:?}");
    // The slow bodies were told why.
    for (kind, _, seen) in &held {
        if *kind == "slow body" {
            let text = String::from_utf8_lossy(seen);
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            assert!(text.contains("body_timeout"), "{text}");
        }
    }
}

/// Above the connection cap a connection is answered 503 and closed; those under it are served,
/// and once they go, new ones are served again.
#[test]
fn connections_above_the_cap_are_refused_cleanly() {
    let server = Binary::start(&["--max-connections", "4", "--header-timeout-secs", "30"]);
    let held: Vec<TcpStream> = (0..4).map(|_| server.connect()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut extra = server.connect();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answer = String::new();
    let _ = extra.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = server.health();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not served again after the held ones went"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// At start the soft limit of open files is raised to the hard one.
#[cfg(target_os = "linux")]
#[test]
fn the_open_file_limit_is_raised_at_start() {
    let (_, hard) = rlimit_nofile();
    if hard <= 256 {
        eprintln!("note: the hard open-file limit is {hard}: nothing to raise");
        return;
    }
    let server = Binary::start_with(
        |exe| {
            // The shell lowers its soft limit, then becomes the server (same pid).
            let mut sh = Command::new("sh");
            sh.arg("-c")
                .arg("ulimit -Sn 256 && exec \"$0\" \"$@\"")
                .arg(exe.get_program());
            sh
        },
        &[],
    );
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers[0], numbers[1], "{line}");
    assert_eq!(numbers[0], hard.to_string(), "{line}");
}

#[cfg(target_os = "linux")]
fn rlimit_nofile() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(3)
        .take(2)
        .map(|x| x.parse().unwrap_or(u64::MAX))
        .collect();
    (n[0], n[1])
}

// ---------------------------------------------------------------------------------------------
// Through the router.

const INDEX: &str = "<!DOCTYPE html><title>Parley demo</title>";

struct Served {
    router: Router,
    state: AppState,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn served(limits: Limits) -> Served {
    let widget = tempfile::tempdir().unwrap();
    std::fs::write(widget.path().join("index.html"), INDEX).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&data.path().join("sessions.sqlite")).unwrap();
    let project = compile(Project::from_json(BUNDLED_DEMO).unwrap()).unwrap();
    let state = AppState::new(vec![project], Signer::new([9; 32]), Arc::new(store))
        .await
        .unwrap()
        .with_limits(limits);
    let options = Options {
        widget_dir: Some(widget.path().to_path_buf()),
    };
    Served {
        router: app(state.clone(), &options),
        state,
        _dirs: (widget, data),
    }
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn post(path: &str, body: &Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Finding 4: no dotfile, and nothing a symlink leads to outside the widget directory.
#[cfg(unix)]
#[tokio::test]
async fn static_files_serve_no_dotfile_and_follow_no_symlink_out() {
    let server = served(Limits::default()).await;
    let dir = server._dirs.0.path();
    std::fs::write(dir.join(".env"), "SECRET=1").unwrap();
    std::fs::write(dir.join(".trunk-lock"), "").unwrap();
    std::fs::create_dir(dir.join(".git")).unwrap();
    std::fs::write(dir.join(".git/config"), "[core]").unwrap();
    std::fs::create_dir(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/app.css"), "a{}").unwrap();
    std::fs::write(dir.join("assets/.hidden"), "x").unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("passwd"), "root:x:0:0").unwrap();
    std::os::unix::fs::symlink(outside.path().join("passwd"), dir.join("passwd")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.join("elsewhere")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("passwd"), dir.join("page.html.gz")).unwrap();
    std::fs::write(dir.join("page.html"), "<p>page</p>").unwrap();
    // A link that stays inside is fine.
    std::os::unix::fs::symlink(dir.join("assets/app.css"), dir.join("app.css")).unwrap();
    for path in [
        "/.env",
        "/.trunk-lock",
        "/.git/config",
        "/.git/",
        "/assets/.hidden",
        "/%2eenv",
        "/assets/%2Ehidden",
        "/passwd",
        "/elsewhere/passwd",
        "/elsewhere/",
    ] {
        let (status, body) = send(&server.router, get(path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["code"], "not_found", "{path}");
    }
    // A browser that takes gzip is not handed the linked-out twin either.
    let response = server
        .router
        .clone()
        .oneshot(
            Request::get("/page.html")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    for (path, body) in [
        ("/", INDEX),
        ("/assets/app.css", "a{}"),
        ("/app.css", "a{}"),
    ] {
        let response = server.router.clone().oneshot(get(path)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes, body.as_bytes(), "{path}");
    }
}

/// Finding 2: typed text longer than the limit is refused before the NLU reads it; text at the
/// limit is read.
#[tokio::test]
async fn an_utterance_longer_than_the_limit_gets_413() {
    let server = served(Limits::default()).await;
    let max = Limits::default().max_utterance_chars;
    let text = |n: usize| json!({ "request": { "type": "text", "payload": "é".repeat(n) } });
    let (status, body) = send(&server.router, post("/interact", &text(max + 1))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "utterance_too_long");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("2000 characters")
    );
    let query = json!({ "request": { "type": "intent", "payload": {
        "intent": { "name": "order" }, "query": "x".repeat(max + 1) } } });
    let (status, _) = send(&server.router, post("/interact", &query)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, body) = send(&server.router, post("/interact", &text(max))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Stateful too.
    let (status, body) = send(
        &server.router,
        post(
            "/state/user/u1/interact",
            &json!({ "action": text(max + 1)["request"] }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}

/// Finding 6: a `versionID` that is not ASCII, and a quantity that is no number, get 400.
#[tokio::test]
async fn bad_version_ids_and_quantities_get_400() {
    let server = served(Limits::default()).await;
    let request = Request::post("/interact")
        .header("content-type", "application/json")
        .header(
            "versionID",
            axum::http::HeaderValue::from_bytes(b"v\xe9").unwrap(),
        )
        .body(Body::from(r#"{"request": {"type": "launch"}}"#))
        .unwrap();
    let (status, body) = send(&server.router, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_version_id");
    for bad in ["null", "two", "-1", "1.5", ""] {
        let (status, body) = send(
            &server.router,
            get(&format!("/demo/api/estimate?quantity={bad}")),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["code"], "invalid_quantity", "{bad}");
    }
    // A query the route cannot read is a JSON error like the others (schemathesis found
    // axum's plain-text one).
    let (status, body) = send(
        &server.router,
        post(
            "/state/user/u1/interact?verbose=true&verbose=false",
            &json!({ "action": { "type": "launch" } }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_query");
    let (status, body) = send(&server.router, get("/demo/api/estimate?quantity=2")).await;
    assert_eq!(
        (status, body["minutes"].as_u64()),
        (StatusCode::OK, Some(30))
    );
    let (status, body) = send(&server.router, get("/demo/api/estimate")).await;
    assert_eq!(
        (status, body["minutes"].as_u64()),
        (StatusCode::OK, Some(25))
    );
}

/// Finding 6: `/ready` fails when the store takes no write, though it still reads (another
/// connection holds SQLite's write lock past the busy timeout).
#[tokio::test]
async fn ready_fails_when_the_store_cannot_write() {
    let server = served(Limits::default()).await;
    let (status, _) = send(&server.router, get("/ready")).await;
    assert_eq!(status, StatusCode::OK);
    let path = server._dirs.1.path().join("sessions.sqlite");
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (status, body) = send(&server.router, get("/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "not_ready");
    // Reading still works: what `/ready` used to check.
    assert!(server.state_store_reads().await);
    blocker.execute_batch("ROLLBACK").unwrap();
    let (status, _) = send(&server.router, get("/ready")).await;
    assert_eq!(status, StatusCode::OK);
}

/// The same against PostgreSQL (when `PARLEY_TEST_DATABASE_URL` names one): another session
/// holds the probe's table locked; reads go on, `/ready` fails within its time, then recovers.
#[tokio::test]
async fn ready_fails_when_postgres_cannot_write() {
    let Ok(base) = std::env::var("PARLEY_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("PARLEY_REQUIRE_POSTGRES").is_none(),
            "PARLEY_REQUIRE_POSTGRES is set but PARLEY_TEST_DATABASE_URL is not"
        );
        eprintln!("note: PostgreSQL not tested (set PARLEY_TEST_DATABASE_URL)");
        return;
    };
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).unwrap();
    let schema = format!("h{}", u64::from_le_bytes(random));
    let (mut admin, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let url = format!(
        "{base}{}options=-c%20search_path%3D{schema}",
        if base.contains('?') { '&' } else { '?' }
    );
    let store = parley_server::store::open(Some(&url), std::path::Path::new("."))
        .await
        .unwrap();
    let project = compile(Project::from_json(BUNDLED_DEMO).unwrap()).unwrap();
    let state = AppState::new(vec![project], Signer::new([9; 32]), store.clone())
        .await
        .unwrap();
    let router = app(state, &Options { widget_dir: None });
    assert_eq!(send(&router, get("/ready")).await.0, StatusCode::OK);
    let lock = admin.transaction().await.unwrap();
    lock.batch_execute(&format!(
        "LOCK TABLE {schema}.probe IN ACCESS EXCLUSIVE MODE"
    ))
    .await
    .unwrap();
    let started = Instant::now();
    let (status, body) = send(&router, get("/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(store.load("pizza", "nobody").await.is_ok(), "reads go on");
    lock.rollback().await.unwrap();
    assert_eq!(send(&router, get("/ready")).await.0, StatusCode::OK);
}

impl Served {
    /// Whether the database still reads, from another connection.
    async fn state_store_reads(&self) -> bool {
        let path = self._dirs.1.path().join("sessions.sqlite");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0)))
            .is_ok()
    }
}

/// Finding 6: a stateless conversation's states carry its start; past the project's maximum
/// age they are refused with `state_expired`, and within it the same state and request give
/// the same bytes.
#[tokio::test]
async fn stateless_states_expire_after_the_max_age_and_stay_deterministic() {
    let limits = Limits {
        project_state_max_age: vec![("pizza".to_owned(), Duration::from_secs(600))],
        ..Limits::default()
    };
    let server = served(limits).await;
    let (status, first) = send(
        &server.router,
        post("/interact", &json!({ "request": { "type": "launch" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let started = first["state"][SIGNED_AT_KEY].as_i64().unwrap();
    let now = parley_server::keys::now();
    assert!((now - started).abs() < 60, "{started} vs {now}");
    let next = json!({ "state": first["state"], "request": { "type": "text", "payload": "a large pizza" } });
    let (status, once) = send(&server.router, post("/interact", &next)).await;
    assert_eq!(status, StatusCode::OK, "{once}");
    let (_, again) = send(&server.router, post("/interact", &next)).await;
    assert_eq!(once, again, "the same state and request, the same answer");
    assert_eq!(
        once["state"][SIGNED_AT_KEY], started,
        "the start travels on"
    );
    // A state of a conversation that started 11 minutes ago.
    let signer = Signer::new([9; 32]);
    let mut old = first["state"].clone();
    old.as_object_mut().unwrap().remove("signature");
    let old: parley_protocol::State = serde_json::from_value(old).unwrap();
    let old = signer.sign_at("pizza", "v1", old, Some(now - 660));
    let (status, body) = send(
        &server.router,
        post(
            "/interact",
            &json!({ "state": old, "request": { "type": "launch" } }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "state_expired");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("new conversation")
    );
}

fn from(ip: [u8; 4], mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    request
}

/// Finding 3: a project without keys lets one address start only so many sessions a minute;
/// the sessions it has go on, and other addresses are not held back.
#[tokio::test]
async fn new_sessions_per_address_are_rate_limited() {
    let limits = Limits {
        new_sessions_per_minute: 3,
        ..Limits::default()
    };
    let server = served(limits).await;
    let launch = json!({ "action": { "type": "launch" } });
    for user in 0..3 {
        let (status, body) = send(
            &server.router,
            from(
                [10, 0, 0, 1],
                post(&format!("/state/user/u{user}/interact"), &launch),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = send(
        &server.router,
        from(
            [10, 0, 0, 1],
            post("/public/pizza/state/user/u9/interact", &launch),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_sessions");
    // An existing session is no new one.
    let (status, _) = send(
        &server.router,
        from([10, 0, 0, 1], post("/state/user/u0/interact", &launch)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        &server.router,
        from([10, 0, 0, 2], post("/state/user/u9/interact", &launch)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(server.state.keys().locked("pizza").eq(&false));
}
