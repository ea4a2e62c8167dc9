//! The `parley` command: a thin shell over the `parley_server` library.
//!
//! Key decision: a mistake in what the user gave (a project file, an argument, an address) is a
//! [`UserError`], printed as its message alone; anything else is a bug or a broken machine, and
//! keeps anyhow's report, with the backtrace `RUST_BACKTRACE` asks for.

// Beside this file, not in src/bin/ (where cargo would take it for another binary).
#[path = "parley/terminal.rs"]
mod terminal;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use parley_engine::{CompiledProject, Diagnostic, Location, Project, Severity, compile};
use parley_protocol::{Request, TraceKind};
use parley_server::http::ApiCaller;
use parley_server::keys::Scope;
use parley_server::signing::Signer;
use parley_server::store::Store;
use parley_server::turn::{shape, take_turn};
use parley_server::{AppState, BUNDLED_DEMO, Options, app, run_with};

/// mimalloc instead of glibc's malloc: allocation was a fifth of the server's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "parley", version, about = "Parley's dialog runtime")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Voiceflow exports (issue 18): serve (or check) a project whose nodes Parley cannot all
    /// run; each such node then ends the turn with a `debug` trace. Without it they are refused.
    #[arg(long, global = true)]
    skip_unsupported: bool,
}

/// `--skip-unsupported`, for [`from_text`] wherever a project is loaded.
static SKIP_UNSUPPORTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at start-up: the size of `serve`'s options costs nothing"
)]
enum Command {
    /// Serve the Dialog API for the projects (the bundled demo when none is given), the built
    /// widget and its demo page.
    Serve {
        /// A project file; repeat for several. None: the bundled Pizza Palace demo.
        #[arg(long = "project")]
        projects: Vec<PathBuf>,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        #[command(flatten)]
        storage: Storage,
        /// The secret that signs stateless state, as 64 hex digits; servers behind one load
        /// balancer need the same one. Repeat it (or separate with commas) to rotate: the first
        /// signs, any of them verifies. Default: made on first start, kept in the data dir.
        #[arg(
            long,
            env = "PARLEY_STATE_SECRET",
            hide_env_values = true,
            value_delimiter = ','
        )]
        state_secret: Vec<String>,
        /// The built widget (trunk's output), served at `/`.
        #[arg(long)]
        widget_dir: Option<PathBuf>,
        /// The URL clients reach this server at, when it is not the one they name in `Host`
        /// (behind a TLS proxy: `https://chat.example.com`). A project's pictures given as
        /// paths (`/demo/images/logo.svg`) are made absolute against it.
        #[arg(long, value_parser = parse_public_url)]
        public_url: Option<String>,
        /// Give `debug` traces (`config.debug`, the workbench's NLU, API and seed panels) to any
        /// caller of the development version of a project without keys, not only to a secret
        /// key. For a laptop or the demo: never on a server that visitors reach, where that
        /// version is what they are served and the traces show each API call's headers.
        #[arg(long)]
        debug_traces: bool,
        #[command(flatten)]
        limits: parley_server::Limits,
    },
    /// Manage API keys (kept in the session database; a running server sees a change within
    /// five seconds).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        storage: Storage,
    },
    /// Talk to a project in the terminal (the bundled demo when none is given). Type a
    /// message, a button's number, `/path NAME` to answer a custom action, `/restart`, `/quit`.
    Chat {
        /// The project file.
        project: Option<PathBuf>,
        /// The version: an id, `development` or `production`.
        #[arg(long, default_value = "development")]
        version: String,
        /// The `parley serve` that the project's paths name (its pictures, and API calls
        /// given as `/…`).
        #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = parse_public_url)]
        server: String,
    },
    /// Validate a project file: print every problem, exit non-zero on errors. A Voiceflow
    /// export (`.vfr`, or a `.vf` with programs) is checked through its import, and every
    /// node Parley cannot run is named (diagram, node id, type).
    Check {
        /// The project file.
        project: PathBuf,
    },
    /// Convert a Voiceflow export (`.vfr`, or a `.vf` with programs) into Parley's project
    /// format, to read or edit; `parley serve --project agent.vfr` runs the export directly.
    Import {
        /// The Voiceflow export.
        export: PathBuf,
        /// Where to write the project (`-`: standard output).
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// Where state lives.
#[derive(Debug, clap::Args)]
struct Storage {
    /// Where the state secret and the SQLite session database live.
    #[arg(long, default_value = "parley-data", global = true)]
    data_dir: PathBuf,
    /// Keep sessions and keys in this database instead: `postgres://user:pass@host/db` (shared
    /// by several servers) or `sqlite://PATH`.
    #[arg(long, env = "PARLEY_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

impl Storage {
    async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        parley_server::store::open(self.database_url.as_deref(), &self.data_dir)
            .await
            .with_context(|| match &self.database_url {
                Some(_) => "cannot open the database --database-url names".to_owned(),
                None => format!(
                    "cannot open the session database in {}",
                    self.data_dir.display()
                ),
            })
    }
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a key and print it (once: only its hash is kept).
    Create {
        /// The project id the key is for.
        #[arg(long)]
        project: String,
        /// `public` (interact only, for web pages; rate limited) or `secret` (everything).
        #[arg(long, default_value = "public")]
        scope: Scope,
        /// What the key is for.
        #[arg(long, default_value = "")]
        name: String,
        /// Requests per minute for the whole key (public keys).
        #[arg(long, default_value_t = 1200)]
        per_minute: u32,
        /// Requests per minute from one client address (public keys).
        #[arg(long, default_value_t = 120)]
        per_client_per_minute: u32,
    },
    /// List the keys (never the keys themselves).
    List,
    /// Revoke a key by its id (the middle part of the key).
    Revoke { id: String },
}

/// A mistake in what the user gave: the message says what to fix; a backtrace would not help.
#[derive(Debug)]
struct UserError(String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

fn user(message: impl Into<String>) -> anyhow::Error {
    UserError(message.into()).into()
}

/// `.context(…)` for the user's mistakes: the message, then the cause.
trait UserContext<T> {
    fn user_context(self, what: impl FnOnce() -> String) -> anyhow::Result<T>;
}

impl<T, E: std::fmt::Display> UserContext<T> for Result<T, E> {
    fn user_context(self, what: impl FnOnce() -> String) -> anyhow::Result<T> {
        self.map_err(|e| user(format!("{}: {e}", what())))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // anyhow's own report (returning the error from main) prints a backtrace whenever
    // RUST_BACKTRACE is set: right for a bug, noise for a typo in a project file.
    match cli().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.chain().any(|cause| cause.is::<UserError>()) => {
            eprintln!("parley: error: {e:#}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("parley: error: {e:?}");
            ExitCode::FAILURE
        }
    }
}

async fn cli() -> anyhow::Result<()> {
    // `RUST_LOG=tower_http=debug` logs every request; errors always carry the request id.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    SKIP_UNSUPPORTED.store(cli.skip_unsupported, std::sync::atomic::Ordering::Relaxed);
    match cli.command {
        Command::Serve {
            projects,
            addr,
            storage,
            state_secret,
            widget_dir,
            public_url,
            debug_traces,
            limits,
        } => {
            parley_server::turn::allow_keyless_debug(debug_traces);
            serve(
                projects,
                addr,
                &storage,
                &state_secret,
                widget_dir,
                public_url,
                limits,
            )
            .await
        }
        Command::Keys { command, storage } => keys(command, &storage).await,
        Command::Chat {
            project,
            version,
            server,
        } => chat(project, &version, &server).await,
        Command::Import { export, output } => import(&export, &output),
        Command::Check { project } => {
            let compiled = load(&project)?;
            for warning in compiled.warnings() {
                eprintln!("{warning}");
            }
            // LLM blocks need a model the server is told of; without one they take their
            // failure paths.
            let llm_unconfigured = compiled.versions().any(|v| v.uses_llm())
                && std::env::var_os("PARLEY_LLM_BASE_URL").is_none();
            if llm_unconfigured {
                eprintln!(
                    "warning: the project has LLM blocks, but PARLEY_LLM_BASE_URL names no \
                     language model here: they will take their failure paths"
                );
            }
            eprintln!(
                "{}: valid ({} warning(s))",
                project.display(),
                compiled.warnings().len() + usize::from(llm_unconfigured)
            );
            Ok(())
        }
    }
}

/// Reads and validates a project file; on errors, prints every problem found.
fn load(path: &Path) -> anyhow::Result<CompiledProject> {
    let text = std::fs::read_to_string(path)
        .user_context(|| format!("cannot read the project {}", path.display()))?;
    from_text(&text, &path.display().to_string())
}

/// Reads and validates a project; prints every problem it finds, each as
/// `FILE:LINE:COLUMN: error: …` with the JSON path of the value: the file's shape first (each
/// unknown field is set aside and the reading goes on), then, when it could be read,
/// validation's errors and warnings.
fn from_text(text: &str, name: &str) -> anyhow::Result<CompiledProject> {
    // A Voiceflow export runs through its import into Parley's format: one engine for both.
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(text)
        && parley_engine::voiceflow::is_voiceflow(&document)
    {
        let project = voiceflow_project(&document, name)?;
        let converted = serde_json::to_string_pretty(&project)?;
        return from_text(&converted, &format!("{name} (imported)"));
    }
    let read = Project::read_json(text);
    for p in &read.problems {
        let path = if p.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", p.path)
        };
        eprintln!("{name}:{}:{}: error: {path}{}", p.line, p.column, p.message);
    }
    let Some(project) = read.project else {
        return Err(user(format!(
            "{name} is not a valid project file ({} problem(s) above)",
            read.problems.len()
        )));
    };
    let paths = JsonPaths::of(&project);
    let say = |d: &Diagnostic| match paths
        .of_location(&d.location)
        .and_then(|path| Project::position(text, &path))
    {
        Some((line, column)) => eprintln!("{name}:{line}:{column}: {d}"),
        None => eprintln!("{name}: {d}"),
    };
    let errors = match compile(project) {
        Ok(compiled) if read.problems.is_empty() => return Ok(compiled),
        Ok(compiled) => {
            compiled.warnings().iter().for_each(say);
            0
        }
        Err(report) => {
            report.diagnostics.iter().for_each(say);
            report
                .diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count()
        }
    };
    Err(user(format!(
        "{name} is not a valid project: {} error(s) above",
        read.problems.len() + errors
    )))
}

/// A Voiceflow export as Parley's project: every node it cannot run is printed (diagram, node
/// id, type, why) and refuses the project, unless `--skip-unsupported`.
fn voiceflow_project(document: &serde_json::Value, name: &str) -> anyhow::Result<Project> {
    let import = parley_engine::voiceflow::import_value(document)
        .map_err(|e| user(format!("{name}: {e}")))?;
    let skip = SKIP_UNSUPPORTED.load(std::sync::atomic::Ordering::Relaxed);
    let severity = if skip { "warning" } else { "error" };
    for node in &import.unsupported {
        eprintln!("{name}: {severity}: unsupported node: {node}");
    }
    if !import.unsupported.is_empty() && !skip {
        return Err(user(format!(
            "{name}: {} node(s) above cannot run on Parley; `--skip-unsupported` serves the \
             project with each of them ending the turn (a `debug` trace)",
            import.unsupported.len()
        )));
    }
    Ok(import.project)
}

/// `parley import`: a Voiceflow export written as Parley's project file (checked first).
fn import(export: &Path, output: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(export)
        .user_context(|| format!("cannot read the export {}", export.display()))?;
    let name = export.display().to_string();
    let document: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| user(format!("{name} is not JSON: {e}")))?;
    let project = voiceflow_project(&document, &name)?;
    let json = serde_json::to_string_pretty(&project)? + "\n";
    // Written only once it compiles: what `import` writes, `serve` runs.
    from_text(&json, &format!("{name} (imported)"))?;
    if output == Path::new("-") {
        use std::io::Write as _;
        std::io::stdout().write_all(json.as_bytes())?;
    } else {
        std::fs::write(output, json)
            .user_context(|| format!("cannot write {}", output.display()))?;
        eprintln!("{name}: written to {}", output.display());
    }
    Ok(())
}

/// The JSON path of each version, flow and block of a project, by id: where validation's
/// locations are in the file.
struct JsonPaths {
    /// In file order.
    versions: Vec<(String, Vec<FlowIds>)>,
}

/// A flow's id and its blocks' ids, in file order.
type FlowIds = (String, Vec<String>);

impl JsonPaths {
    fn of(project: &Project) -> JsonPaths {
        let versions = project
            .versions
            .iter()
            .map(|v| {
                let flows = v
                    .flows
                    .iter()
                    .map(|f| {
                        let blocks = f.blocks.iter().map(|b| b.id().to_owned()).collect();
                        (f.id.clone(), blocks)
                    })
                    .collect();
                (v.id.clone(), flows)
            })
            .collect();
        JsonPaths { versions }
    }

    /// `versions[0].flows[2].blocks[1].buttons[0].next`, as deep as the location says.
    fn of_location(&self, at: &Location) -> Option<String> {
        let mut path = String::new();
        let mut flows = None;
        let mut blocks = None;
        if let Some(version) = &at.version {
            let i = self.versions.iter().position(|(id, _)| id == version)?;
            path = format!("versions[{i}]");
            flows = Some(&self.versions[i].1);
        }
        if let (Some(flow), Some(flows)) = (&at.flow, flows) {
            let i = flows.iter().position(|(id, _)| id == flow)?;
            path.push_str(&format!(".flows[{i}]"));
            blocks = Some(&flows[i].1);
        }
        if let (Some(block), Some(blocks)) = (&at.block, blocks) {
            let i = blocks.iter().position(|id| id == block)?;
            path.push_str(&format!(".blocks[{i}]"));
        }
        if let Some(field) = &at.field {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
        }
        Some(path)
    }
}

#[allow(clippy::print_stdout, reason = "the key is the command's output")]
async fn keys(command: KeysCommand, storage: &Storage) -> anyhow::Result<()> {
    let store = storage.open().await?;
    match command {
        KeysCommand::Create {
            project,
            scope,
            name,
            per_minute,
            per_client_per_minute,
        } => {
            let (record, key) = parley_server::keys::generate(
                &project,
                scope,
                &name,
                per_minute,
                per_client_per_minute,
            );
            store.create_key(&record).await?;
            eprintln!(
                "created the {scope} key {} for the project `{project}`; keep it now, it is not \
                 shown again:",
                record.id
            );
            println!("{key}");
        }
        KeysCommand::List => {
            println!(
                "id                project  scope   per-min  per-client  created     revoked  name"
            );
            for k in store.keys().await? {
                println!(
                    "{:<17} {:<8} {:<7} {:>7}  {:>10}  {:<11} {:<8} {}",
                    k.id,
                    k.project,
                    k.scope,
                    k.per_minute,
                    k.per_client_per_minute,
                    k.created_at,
                    if k.revoked_at.is_some() { "yes" } else { "no" },
                    k.name
                );
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_key(&id).await? {
                return Err(user(format!("there is no live key with the id `{id}`")));
            }
            eprintln!("revoked the key {id}; running servers refuse it within five seconds");
        }
    }
    Ok(())
}

async fn serve(
    paths: Vec<PathBuf>,
    addr: SocketAddr,
    storage: &Storage,
    state_secret: &[String],
    widget_dir: Option<PathBuf>,
    public_url: Option<String>,
    limits: parley_server::Limits,
) -> anyhow::Result<()> {
    let data_dir = &storage.data_dir;
    let projects = if paths.is_empty() {
        vec![from_text(BUNDLED_DEMO, "the bundled demo project")?]
    } else {
        paths
            .iter()
            .map(|p| load(p))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let options = Options { widget_dir };
    options.check().map_err(|e| user(format!("{e:#}")))?;
    let signer = match state_secret {
        [first, previous @ ..] => Signer::new(parse_secret(first)?).with_previous(
            previous
                .iter()
                .map(|hex| parse_secret(hex))
                .collect::<anyhow::Result<_>>()?,
        ),
        [] => Signer::load_or_create(data_dir)
            .with_context(|| format!("cannot set up the state secret in {}", data_dir.display()))?,
    };
    let store = storage.open().await?;
    let ids: Vec<(String, String)> = projects
        .iter()
        .map(|p| (p.name.clone(), p.id.clone()))
        .collect();
    let names: Vec<String> = ids
        .iter()
        .map(|(name, id)| format!("{name} ({id})"))
        .collect();
    let known: Vec<&str> = ids.iter().map(|(_, id)| id.as_str()).collect();
    if let [first, ..] = limits.unknown_projects(&known)[..] {
        return Err(user(format!(
            "--project-… options name `{first}`, which is none of this server's projects ({})",
            known.join(", ")
        )));
    }
    parley_server::turn::configure(&limits);
    let state = AppState::new(projects, signer, store)
        .await
        .map_err(anyhow::Error::msg)?
        .with_limits(limits.clone());
    for (name, id) in &ids {
        if !state.keys().locked(id) {
            tracing::warn!(
                "{name} has no API key: anyone who reaches this address can chat with it \
                 (create one with `parley keys create --project {id}`)"
            );
        }
    }
    // Each connection is a file: raise the soft limit before the first one.
    parley_server::limits::raise_open_files();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .user_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    let state = state.with_urls(public_url, Some(own_url(local)));
    eprintln!(
        "Parley is serving {} at http://{local}/ (Ctrl-C stops it)",
        names.join(", ")
    );
    let retention = state.start_retention();
    run_with(listener, app(state, &options), shutdown_signal(), &limits).await?;
    retention.abort();
    eprintln!("Parley stopped");
    Ok(())
}

/// An `http(s)://` URL without a query or a fragment.
fn parse_public_url(text: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("an http:// or https:// URL with a host".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("a URL without a query or a fragment".to_owned());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// Where this server reaches itself: its listening address, the unspecified address
/// (`0.0.0.0`, `::`) as loopback.
fn own_url(local: SocketAddr) -> String {
    let ip = match local.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, local.port()))
}

/// 64 hex digits: 32 bytes.
fn parse_secret(hex: &str) -> anyhow::Result<[u8; 32]> {
    let hex = hex.trim();
    let bytes: Option<Vec<u8>> = (hex.len() == 64 && hex.is_ascii())
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                .collect()
        })
        .flatten();
    bytes
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| user("--state-secret must be 64 hexadecimal digits (32 random bytes)"))
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed the server simply runs until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A conversation in the terminal: the same turn as the server's, printed as lines.
#[allow(clippy::print_stdout, reason = "the chat talks on stdout")]
async fn chat(path: Option<PathBuf>, version: &str, server: &str) -> anyhow::Result<()> {
    use std::io::BufRead;

    let project = match &path {
        Some(path) => load(path)?,
        None => from_text(BUNDLED_DEMO, "the bundled demo project")?,
    };
    let version = project
        .version(version)
        .ok_or_else(|| user(format!("the project has no version `{version}`")))?
        .clone();
    let caller = ApiCaller::new(version.allows_private_network()).map_err(anyhow::Error::msg)?;
    let style = terminal::Style::for_stdout();
    println!("{} — type a message; /restart, /quit", project.name);
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seed = u64::from_le_bytes(seed);
    let mut state = None;
    let mut buttons: Vec<Request> = Vec::new();
    let mut request = Request::launch();
    let mut lines = std::io::stdin().lock().lines();
    loop {
        let ctx = parley_server::turn::turn_context(seed, None, None, None, None);
        let tools = parley_server::turn::Tools {
            self_url: Some(server),
            ..(&caller).into()
        };
        match take_turn(&version, state.clone(), request, ctx, tools).await {
            Ok(outcome) => {
                state = Some(outcome.state);
                buttons.clear();
                // `shape` writes a text trace as Voiceflow's (a slate tree and a plain `message`);
                // the terminal renders the markdown, so keep each text's, in order (`shape` leaves
                // out no text trace).
                let mut markdown = outcome
                    .traces
                    .iter()
                    .filter_map(|t| match &t.kind {
                        TraceKind::Text(p) => Some(p.message.clone()),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .into_iter();
                for trace in shape(outcome.traces, None, None, Some(server)) {
                    let source = match &trace.kind {
                        TraceKind::Text(_) => markdown.next().flatten(),
                        _ => None,
                    };
                    print!(
                        "{}",
                        terminal::trace(&trace, source.as_deref(), style, &mut buttons)
                    );
                }
            }
            Err(e) => println!("(refused: {})", e.message),
        }
        print!("you> ");
        use std::io::Write;
        std::io::stdout().flush()?;
        let Some(line) = lines.next().transpose()? else {
            println!();
            return Ok(());
        };
        let line = line.trim();
        request = match line {
            "/quit" => return Ok(()),
            "/restart" => Request::launch(),
            _ if line.starts_with("/path ") => Request::action(line["/path ".len()..].trim(), None),
            _ => match line.parse::<usize>() {
                Ok(n) if (1..=buttons.len()).contains(&n) => buttons[n - 1].clone(),
                _ => Request::text(line),
            },
        };
    }
}
