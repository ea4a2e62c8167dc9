//! Installing what the build and the tests need, from the package registries only.
//!
//! | tool | from | version |
//! |---|---|---|
//! | `wasm32-unknown-unknown` | rustup | the toolchain's |
//! | `trunk` | crates.io (`cargo install`) | `[workspace.metadata.parley.tools]` in Cargo.toml |
//! | `wasm-bindgen` (+ test runner) | crates.io (`wasm-bindgen-cli`) | exactly the one in Cargo.lock |
//! | `wasm-opt` | npm (`binaryen`), into `target/tools` | `[workspace.metadata.parley.tools]` |
//! | `node`, `npm` (for binaryen) | Debian (`nodejs`, `npm`) | Debian's |
//! | `chromium`, `chromedriver` | Debian (`chromium`, `chromium-driver`) | Debian's |
//! | Voiceflow's clients (conformance) | npm, into `target/tools/voiceflow` | `[workspace.metadata.parley.tools]` |
//!
//! Debian packages are installed with apt-get when we run as root; otherwise we stop and say
//! what to install.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, cargo_bin_dir, command, npm_tools_dir, output, root, run};

pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The browser and its driver, for the browser tests and the demo check.
#[derive(Debug, Clone)]
pub(crate) struct Browser {
    pub(crate) chromium: PathBuf,
    pub(crate) chromedriver: PathBuf,
}

/// Everything the widget's build needs: the wasm target, trunk, wasm-bindgen, wasm-opt.
pub(crate) fn ensure_widget_toolchain() -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen()?;
    ensure_trunk()?;
    ensure_wasm_opt()?;
    ensure_terser().map(|_| ())
}

pub(crate) fn ensure_wasm_target() -> Result<()> {
    let installed = output(command("rustup").args(["target", "list", "--installed"]));
    match installed {
        Some(list) if list.lines().any(|t| t.trim() == WASM_TARGET) => Ok(()),
        Some(_) => run(command("rustup").args(["target", "add", WASM_TARGET])),
        None => {
            // No rustup: accept a toolchain that ships the target's standard library.
            let sysroot = output(command("rustc").args(["--print", "sysroot"]))
                .context("cannot run rustc")?;
            let lib = PathBuf::from(sysroot).join("lib/rustlib").join(WASM_TARGET);
            if lib.is_dir() {
                Ok(())
            } else {
                bail!("the {WASM_TARGET} target is missing and rustup is not available")
            }
        }
    }
}

/// The wasm-bindgen version in Cargo.lock: trunk and the test runner require exactly it.
pub(crate) fn locked_wasm_bindgen_version() -> Result<String> {
    let text = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let lock: toml::Table = text.parse().context("parsing Cargo.lock")?;
    let packages = lock
        .get("package")
        .and_then(|p| p.as_array())
        .context("Cargo.lock has no packages")?;
    packages
        .iter()
        .find(|p| p.get("name").and_then(|n| n.as_str()) == Some("wasm-bindgen"))
        .and_then(|p| p.get("version")?.as_str())
        .map(str::to_owned)
        .context("wasm-bindgen is not in Cargo.lock")
}

/// A tool's pinned version from `[workspace.metadata.parley.tools]`.
fn pinned_version(tool: &str) -> Result<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).context("reading Cargo.toml")?;
    let manifest: toml::Table = text.parse().context("parsing Cargo.toml")?;
    manifest
        .get("workspace")
        .and_then(|w| {
            w.get("metadata")?
                .get("parley")?
                .get("tools")?
                .get(tool)?
                .as_str()
        })
        .map(str::to_owned)
        .with_context(|| format!("no version for {tool} in [workspace.metadata.parley.tools]"))
}

/// The version a cargo-installed tool reports (`trunk 0.22.1` → `0.22.1`).
fn installed_version(binary: &str) -> Option<String> {
    let text = output(command(cargo_bin_dir().join(binary)).arg("--version"))
        .or_else(|| output(command(binary).arg("--version")))?;
    text.split_whitespace().nth(1).map(str::to_owned)
}

fn cargo_install(krate: &str, version: &str, extra: &[&str]) -> Result<()> {
    eprintln!("xtask: installing {krate} {version} from crates.io (this takes a few minutes)");
    let install = || {
        let mut cmd = cargo();
        cmd.args(["install", krate, "--version", &format!("={version}")])
            .args(extra);
        cmd
    };
    // The crate's own lockfile first. It can name a dependency version that the registry no
    // longer serves (yanked); then let cargo pick the newest compatible versions instead.
    run(install().arg("--locked")).or_else(|locked| {
        eprintln!("xtask: the locked install failed ({locked:#}); retrying without --locked");
        run(&mut install())
    })
}

pub(crate) fn ensure_wasm_bindgen() -> Result<()> {
    let wanted = locked_wasm_bindgen_version()?;
    let have = installed_version("wasm-bindgen");
    let runner = installed_version("wasm-bindgen-test-runner");
    if have.as_deref() == Some(wanted.as_str()) && runner.as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    cargo_install("wasm-bindgen-cli", &wanted, &["--force"])
}

pub(crate) fn ensure_trunk() -> Result<()> {
    let wanted = pinned_version("trunk")?;
    if installed_version("trunk").as_deref() == Some(wanted.as_str()) {
        return Ok(());
    }
    // See the pin's comment in Cargo.toml for `--ignore-rust-version`; no `update_check`, so
    // trunk never calls out at build time.
    cargo_install(
        "trunk",
        &wanted,
        &[
            "--ignore-rust-version",
            "--no-default-features",
            "--features",
            "rustls",
            "--force",
        ],
    )
}

/// wasm-opt from the npm `binaryen` package. Debian's binaryen (108) is too old for what
/// wasm-bindgen emits today: its output fails at load with "WebAssembly.Table.set(): Argument 1
/// is invalid for table" because it rewrites the externref table.
pub(crate) fn ensure_wasm_opt() -> Result<()> {
    let wanted = pinned_version("binaryen")?;
    let major = wanted.split('.').next().unwrap_or_default();
    let have = output(command("wasm-opt").arg("--version")).unwrap_or_default();
    if have.starts_with(&format!("wasm-opt version {major} ")) {
        return Ok(());
    }
    npm_install(&npm_tools_dir(), &[format!("binaryen@{wanted}")])?;
    let have = output(command("wasm-opt").arg("--version")).unwrap_or_default();
    if !have.starts_with(&format!("wasm-opt version {major} ")) {
        bail!(
            "wasm-opt {major} is still not the one on PATH after installing it (found: {have:?})"
        );
    }
    Ok(())
}

/// The npm `playwright-core` and `axe-core` at the pinned versions, in their own prefix under
/// target/tools (so that installing binaryen never prunes them); answers that prefix (node
/// resolves from it).
pub(crate) fn ensure_playwright() -> Result<PathBuf> {
    ensure_npm_packages("playwright", &["playwright-core", "axe-core"])
}

/// Voiceflow's own published clients (`@voiceflow/react-chat`, `@voiceflow/sdk-runtime`,
/// `@voiceflow/runtime-client-js`) at the pinned versions, in their own prefix under target/tools,
/// for the conformance scenarios (`e2e/voiceflow.cjs`); answers that prefix.
pub(crate) fn ensure_voiceflow_clients() -> Result<PathBuf> {
    ensure_npm_packages(
        "voiceflow",
        &[
            "@voiceflow/react-chat",
            "@voiceflow/sdk-runtime",
            "@voiceflow/runtime-client-js",
        ],
    )
}

/// The npm `terser` at the pinned version (it minifies the loader and the wasm-bindgen glue:
/// 0.7 KB gzip -9 fewer than trunk's minifier); answers the `terser` command.
pub(crate) fn ensure_terser() -> Result<PathBuf> {
    let dir = ensure_npm_packages("terser", &["terser"])?;
    Ok(dir.join("node_modules/.bin/terser"))
}

/// npm `packages` at their pinned versions in the prefix `target/tools/<prefix>`, installed
/// when one is missing or at another version; answers the prefix.
fn ensure_npm_packages(prefix: &str, packages: &[&str]) -> Result<PathBuf> {
    let dir = npm_tools_dir().join(prefix);
    let mut wanted = Vec::new();
    let mut missing = false;
    for package in packages {
        let version = pinned_version(package)?;
        let manifest = dir.join("node_modules").join(package).join("package.json");
        let have = std::fs::read_to_string(&manifest).unwrap_or_default();
        missing |= !have.contains(&format!("\"version\": \"{version}\""));
        wanted.push(format!("{package}@{version}"));
    }
    if missing {
        npm_install(&dir, &wanted)?;
    }
    Ok(dir)
}

/// `npm install` of `packages` (`name@version`) into the prefix `dir`, from the npm registry;
/// node and npm come from Debian when missing. Packages that share a prefix go in one call: a
/// later `npm install` of one would prune the others.
fn npm_install(dir: &Path, packages: &[String]) -> Result<()> {
    if output(command("npm").arg("--version")).is_none() {
        apt_install(
            &["nodejs", "npm"],
            "node and npm (for the npm-packaged tools)",
        )?;
    }
    std::fs::create_dir_all(dir)?;
    eprintln!(
        "xtask: installing {} from the npm registry",
        packages.join(" and ")
    );
    run(command("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(dir)
        .args(packages))
}

/// Debian's `brotli` command, for the bundle's brotli size.
pub(crate) fn ensure_brotli() -> Result<()> {
    if output(command("brotli").arg("--version")).is_some() {
        return Ok(());
    }
    apt_install(&["brotli"], "brotli (the bundle's precompressed files)")
}

pub(crate) fn ensure_browser() -> Result<Browser> {
    let find = |name: &str| output(command("which").arg(name)).map(PathBuf::from);
    if let (Some(chromium), Some(chromedriver)) = (find("chromium"), find("chromedriver")) {
        return Ok(Browser {
            chromium,
            chromedriver,
        });
    }
    apt_install(
        &["chromium", "chromium-driver"],
        "chromium and chromedriver",
    )?;
    match (find("chromium"), find("chromedriver")) {
        (Some(chromium), Some(chromedriver)) => Ok(Browser {
            chromium,
            chromedriver,
        }),
        _ => bail!("chromium or chromedriver is still missing after installing them"),
    }
}

pub(crate) fn is_root() -> bool {
    output(command("id").arg("-u")).as_deref() == Some("0")
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

pub(crate) fn apt_install(packages: &[&str], what: &str) -> Result<()> {
    let line = format!("apt-get install -y {}", packages.join(" "));
    if !is_root() {
        bail!("{what} is missing: install it with `sudo apt-get update && sudo {line}`");
    }
    eprintln!("xtask: installing {what} from Debian's packages");
    if !APT_UPDATED.swap(true, Ordering::SeqCst) {
        run(command("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    run(command("apt-get")
        .args(["install", "-y"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .with_context(|| format!("installing {what}"))
}

/// Debian's `nginx` (the scale-out step's load balancer), installed when missing. The package
/// would start its service on port 80: a `policy-rc.d` that refuses (Debian's way to install
/// without starting services) is in place for the install, and removed after.
pub(crate) fn ensure_nginx() -> Result<PathBuf> {
    let nginx = PathBuf::from("/usr/sbin/nginx");
    if nginx.is_file() {
        return Ok(nginx);
    }
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let ours = is_root() && !policy.exists();
    if ours {
        std::fs::write(
            policy,
            "#!/bin/sh\n# cargo xtask: install nginx without starting it\nexit 101\n",
        )?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(policy, std::fs::Permissions::from_mode(0o755))?;
    }
    let installed = apt_install(&["nginx"], "nginx (the scale-out test's load balancer)");
    if ours {
        let _ = std::fs::remove_file(policy);
    }
    installed?;
    if !nginx.is_file() {
        bail!(
            "nginx is still missing at {} after installing it",
            nginx.display()
        );
    }
    Ok(nginx)
}

/// The flags headless Chromium needs on a machine without a network or a GPU: without the
/// background-networking ones it stalls on connections the machine refuses.
pub(crate) const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
];
