//! `cargo xtask`: the project's automation, in Rust so that it runs wherever cargo does.
//!
//! - `cargo xtask demo`: installs what is missing, builds the widget, starts the server and
//!   prints the URL; with `--watch`, `trunk serve` in front of the server instead.
//! - `cargo xtask test`: everything CI runs (`.ci/run` calls exactly this), with a summary.
//! - `cargo xtask dist`: the release bundle (loader, hashed app files, demo page) in `dist/` and
//!   the npm package in `npm/`.
//!
//! Key decision: a fresh machine needs only Rust and the package registries. Every tool is
//! installed from crates.io or Debian's packages by [`tools`], at the versions pinned in the
//! workspace `Cargo.toml` and `Cargo.lock`; nothing downloads a prebuilt binary.

#![allow(clippy::print_stdout, reason = "a command-line tool reports on stdout")]

mod bench;
mod cmd;
mod demo;
mod nginx;
mod postgres;
mod test;
mod tools;
mod widget;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Parley's automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the widget, start the runtime with the bundled demo, print the URL.
    Demo {
        /// Where the demo server listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Serve the widget with `trunk serve` instead (its debug build, rebuilt and reloaded in
        /// the browser on every change), in front of the runtime, as Trunk.toml describes.
        #[arg(long)]
        watch: bool,
        /// The port `trunk serve` listens on (with --watch). Default: Trunk.toml's, 8081.
        #[arg(long, requires = "watch")]
        port: Option<u16>,
    },
    /// Build the release bundle into dist/ (loader, hashed glue and wasm, demo page) and the npm
    /// package into npm/.
    Dist,
    /// Run everything CI runs: format, lints (native and wasm32), native tests, browser tests,
    /// the release build of the widget with its size budget, and a browser check of the demo.
    Test,
    /// Measure: `server` (load on loopback against a bare axum baseline), `engine` (turns/s),
    /// `widget` (bundle sizes, first paint, first message, a long transcript).
    /// Figures are printed and written as JSON under target/bench/.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
}

#[derive(Debug, Subcommand)]
enum BenchWhat {
    /// Whole conversations against the release server and a bare axum baseline, per flavour and
    /// concurrency.
    Server {
        /// Concurrent conversations, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
        concurrency: Vec<usize>,
        /// Seconds per run (the bound in time).
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Requests per run at most (the bound in count).
        #[arg(long, default_value_t = 200_000)]
        max_requests: u64,
    },
    /// The engine's turns per second and blocks per second.
    Engine,
    /// The bundle's sizes, and the widget's timings in headless Chromium.
    Widget {
        /// Page loads measured.
        #[arg(long, default_value_t = 10)]
        runs: u32,
    },
}

fn main() -> std::process::ExitCode {
    let result = match Cli::parse().command {
        Command::Demo { addr, watch, port } => demo::main(addr, watch, port),
        Command::Test => test::main(),
        Command::Dist => tools::ensure_widget_toolchain().and_then(|()| widget::dist()),
        Command::Bench { what } => match what {
            BenchWhat::Server {
                concurrency,
                seconds,
                max_requests,
            } => bench::server(&bench::Load {
                concurrency,
                seconds,
                max_requests,
            }),
            BenchWhat::Engine => bench::engine(),
            BenchWhat::Widget { runs } => bench::widget(runs),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes says what failed; a backtrace of xtask itself would not help.
            eprintln!("xtask: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
