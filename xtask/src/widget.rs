//! Building the widget with trunk, and measuring what a page fetches for it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::cmd::{command, root, run};

/// The size budget from the design's quality bars: everything the page fetches for a working
/// widget (JS glue + wasm + CSS), gzip -9.
pub(crate) const BUDGET_GZIP_BYTES: u64 = 120_000;

pub(crate) fn dist_dir() -> PathBuf {
    root().join("dist")
}

/// `trunk build --release`: the size-oriented `wasm-release` profile, then wasm-opt.
pub(crate) fn build_release() -> Result<()> {
    run(command("trunk").args(["build", "--release", "--locked"]))
}

/// One file of the bundle.
#[derive(Debug)]
pub(crate) struct Asset {
    pub(crate) name: String,
    pub(crate) raw: u64,
    pub(crate) gzip: u64,
}

/// The JS, wasm and CSS files trunk wrote to `dist/`, with their sizes.
pub(crate) fn bundle(dist: &Path) -> Result<Vec<Asset>> {
    let mut assets = Vec::new();
    for entry in std::fs::read_dir(dist).with_context(|| format!("reading {}", dist.display()))? {
        let path = entry?.path();
        let is_asset = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("js" | "wasm" | "css")
        );
        if !is_asset || !path.is_file() {
            continue;
        }
        assets.push(Asset {
            name: path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            raw: std::fs::metadata(&path)?.len(),
            gzip: gzip9_len(&path)?,
        });
    }
    assets.sort_by(|a, b| a.name.cmp(&b.name));
    if !assets.iter().any(|a| a.name.ends_with(".wasm")) {
        bail!("no .wasm in {}: the widget was not built", dist.display());
    }
    Ok(assets)
}

/// The size of `gzip -9` of a file, from Debian's gzip itself so the figure is the one the
/// budget names.
fn gzip9_len(path: &Path) -> Result<u64> {
    let out = command("gzip")
        .args(["-9", "--no-name", "--stdout"])
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .context("running gzip")?;
    if !out.status.success() {
        bail!("gzip failed on {}", path.display());
    }
    Ok(out.stdout.len() as u64)
}

/// Prints the bundle table and checks the budget.
pub(crate) fn report_size(assets: &[Asset]) -> Result<u64> {
    let kb = |b: u64| b as f64 / 1000.0;
    println!(
        "{:<44} {:>10} {:>12}",
        "widget bundle", "raw KB", "gzip -9 KB"
    );
    for a in assets {
        println!("{:<44} {:>10.1} {:>12.1}", a.name, kb(a.raw), kb(a.gzip));
    }
    let raw: u64 = assets.iter().map(|a| a.raw).sum();
    let gzip: u64 = assets.iter().map(|a| a.gzip).sum();
    println!("{:<44} {:>10.1} {:>12.1}", "total", kb(raw), kb(gzip));
    println!(
        "budget: {:.1} KB of {:.1} KB gzip -9 ({:.0}%)",
        kb(gzip),
        kb(BUDGET_GZIP_BYTES),
        100.0 * gzip as f64 / BUDGET_GZIP_BYTES as f64
    );
    if gzip > BUDGET_GZIP_BYTES {
        bail!(
            "the widget bundle is {:.1} KB gzip -9, over the {:.1} KB budget",
            kb(gzip),
            kb(BUDGET_GZIP_BYTES)
        );
    }
    Ok(gzip)
}
