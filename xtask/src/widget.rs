//! Building the widget's release bundle (`cargo xtask dist`): trunk builds the app (the
//! wasm-bindgen glue and the wasm, with hashed names), then the loader (`loader/parley.js`) gets
//! the version, those names and the launcher's styles, and the demo page replaces trunk's (which
//! has an inline script, refused by a strict CSP). And measuring what a page fetches.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::{command, root, run};

#[path = "../../style/minify.rs"]
mod css;

/// The size budget from the design's quality bars: everything the page fetches for a working
/// widget (the loader, the JS glue and the wasm, which holds the CSS), gzip -9.
pub(crate) const BUDGET_GZIP_BYTES: u64 = 120_000;

pub(crate) fn dist_dir() -> PathBuf {
    root().join("dist")
}

/// The loader's own budget (issue #8): it is what every page of a site fetches at once.
pub(crate) const LOADER_BUDGET_GZIP_BYTES: u64 = 5_000;

/// The app's files in `dist/` (the glue, the wasm: hashed names), and the launcher's styles,
/// minified: what the starters' templates are filled with.
pub(crate) struct AppFiles {
    glue: String,
    wasm: String,
    launcher_css: String,
}

/// The names trunk gave the glue and the wasm.
fn trunk_files(dist: &Path) -> Result<(String, String)> {
    let find = |suffix: &str| -> Result<String> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dist)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with("parley-widget-") && name.ends_with(suffix) {
                names.push(name);
            }
        }
        match names.as_slice() {
            [one] => Ok(one.clone()),
            _ => bail!("expected one parley-widget-*{suffix} in dist/, found {names:?}"),
        }
    };
    Ok((find(".js")?, find("_bg.wasm")?))
}

/// Fills the version, the app's file names and the launcher's styles (a single-quoted string)
/// into a template (the loader, the npm module).
fn fill(template: &str, app: &AppFiles) -> String {
    template
        .replace("__PARLEY_VERSION__", env!("CARGO_PKG_VERSION"))
        .replace("__PARLEY_GLUE__", &app.glue)
        .replace("__PARLEY_WASM__", &app.wasm)
        .replace(
            "__PARLEY_LAUNCHER_CSS__",
            &app.launcher_css.replace('\\', "\\\\").replace('\'', "\\'"),
        )
}

/// `--remap-path-prefix` for each of cargo's registry sources: the panic locations of the
/// dependencies (24 in the wasm) then name `crate-1.2.3/src/…` rather than the building
/// machine's `$CARGO_HOME/registry/src/index.crates.io-<hash>/crate-1.2.3/src/…` (99 B gzip
/// -9 of the budget, and a bundle that does not depend on where it was built).
fn registry_remaps() -> String {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(Ok(sources)) = home.map(|h| std::fs::read_dir(h.join("registry/src"))) else {
        return String::new();
    };
    sources
        .filter_map(|e| Some(e.ok()?.path().to_str()?.to_owned()))
        // One flag per word: a path with a space cannot be said this way, and is left as is.
        .filter(|p| !p.contains(' '))
        .map(|p| format!("--remap-path-prefix={p}/="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The release bundle in `dist/`: `trunk build --release` (the size-oriented `wasm-release`
/// profile, then wasm-opt), terser over the glue, then the loader (filled in and minified), the
/// demo page and the precompressed twins; answers the app's files, for the npm package.
pub(crate) fn build_release() -> Result<AppFiles> {
    let dist = dist_dir();
    // trunk keeps files it did not write; old hashed files would make two apps.
    if dist.exists() {
        std::fs::remove_dir_all(&dist).with_context(|| format!("removing {}", dist.display()))?;
    }
    // The linker drops wasm-streams' exports, which no widget calls (see xtask/wasm-link.sh):
    // 5.4 KB gzip -9 of wasm and glue.
    run(command("trunk")
        .args(["build", "--release", "--locked"])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER",
            root().join("xtask/wasm-link.sh"),
        )
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
            registry_remaps(),
        ))?;
    // trunk leaves its own files (`.trunk-lock`, a `.stage` directory) in its output: they are
    // no part of the widget (the server refuses dotfiles anyway), so they do not ship.
    for entry in std::fs::read_dir(&dist)? {
        let path = entry?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            if path.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let (trunk_glue, trunk_wasm) = trunk_files(&dist)?;
    let glue = dist.join(&trunk_glue);
    let text = std::fs::read_to_string(&glue)?;
    std::fs::write(&glue, without_stream_classes(&text)?)?;
    minify_js(&glue, &glue, true)?;
    // trunk's hashes are of cargo's output, taken before wasm-opt (and terser): a new wasm-opt
    // flag would give new content under the old name, which is cached as immutable. So the
    // files are named by a hash of what is served.
    let wasm = name_by_content(&dist, &trunk_wasm, "_bg.wasm")?;
    // The glue's default wasm path (used when none is given) names wasm-bindgen's file; bundlers
    // resolve it (`new URL(…, import.meta.url)`), so it must name the file that ships.
    let text = std::fs::read_to_string(&glue)?;
    let default = "\"parley-widget_bg.wasm\"";
    if text.matches(default).count() != 1 {
        bail!("expected the glue to name {default} once, as its default wasm path");
    }
    std::fs::write(&glue, text.replace(default, &format!("\"{wasm}\"")))?;
    let app = AppFiles {
        glue: name_by_content(&dist, &trunk_glue, ".js")?,
        wasm,
        launcher_css: css::minify(&std::fs::read_to_string(root().join("style/launcher.css"))?),
    };
    let loader = fill(
        &std::fs::read_to_string(root().join("loader/parley.js"))?,
        &app,
    );
    let filled = crate::cmd::target_dir().join("parley-loader.js");
    std::fs::write(&filled, loader)?;
    minify_js(&filled, &dist.join(LOADER), false)?;
    for page in ["index.html", "demo.js"] {
        std::fs::copy(root().join("loader").join(page), dist.join(page))?;
    }
    precompress(&dist, &[&app.glue, &app.wasm, LOADER])?;
    Ok(app)
}

/// wasm-streams' classes, which wasm-bindgen still writes into the glue (the declarations come
/// with the crate) although the linker left their exports out (xtask/wasm-link.sh): each an
/// `export class` with only `free` behind it, and its `FinalizationRegistry`. Nothing imports
/// them (the starters take the glue's `default`): 0.2 KB gzip -9. wasm-bindgen is pinned
/// exactly, so the glue's text is known; a class found in another shape, or named anywhere
/// after, is an error rather than a glue that refers to what is gone.
fn without_stream_classes(glue: &str) -> Result<String> {
    let mut glue = glue.to_owned();
    for class in [
        "IntoUnderlyingByteSource",
        "IntoUnderlyingSink",
        "IntoUnderlyingSource",
    ] {
        if !glue.contains(class) {
            continue;
        }
        let cut = |glue: &mut String, start: &str, end: &str| -> Result<()> {
            let from = glue
                .find(start)
                .with_context(|| format!("the glue has {class}, but no `{start}`"))?;
            let to = glue[from..]
                .find(end)
                .with_context(|| format!("the glue's `{start}` has no `{end}` after it"))?;
            glue.replace_range(from..from + to + end.len(), "");
            Ok(())
        };
        cut(
            &mut glue,
            &format!("export class {class} {{\n"),
            &format!(
                "}}\nif (Symbol.dispose) {class}.prototype[Symbol.dispose] = {class}.prototype.free;\n"
            ),
        )?;
        cut(
            &mut glue,
            &format!("const {class}Finalization = "),
            "_free(ptr, 1));\n",
        )?;
        if glue.contains(class) {
            bail!("the glue still names {class} once its class is out");
        }
    }
    Ok(glue)
}

/// The loader's name in `dist/`.
const LOADER: &str = "parley.js";

/// Writes `.br` (brotli -q 11) and `.gz` (gzip -9) twins of `files`, which the server sends to
/// browsers that accept them: what a page downloads is then the size the budget counts, and
/// [`bundle`] reads the sizes from them.
fn precompress(dist: &Path, files: &[&str]) -> Result<()> {
    crate::tools::ensure_brotli()?;
    for file in files {
        let path = dist.join(file);
        run(command("gzip")
            .args(["-9", "--no-name", "--keep", "--force"])
            .arg(&path))?;
        run(command("brotli")
            .args(["-q", "11", "--keep", "--force"])
            .arg(&path))?;
    }
    Ok(())
}

/// Renames `dist/name` to `parley-widget-<16 hex digits of its SHA-256><suffix>`; answers the
/// new name.
fn name_by_content(dist: &Path, name: &str, suffix: &str) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(dist.join(name))?;
    let digest = sha2::Sha256::digest(&bytes);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let renamed = format!("parley-widget-{hex}{suffix}");
    std::fs::rename(dist.join(name), dist.join(&renamed))?;
    Ok(renamed)
}

/// terser (compress, mangle) from `input` to `output`; an ES module or a classic script.
fn minify_js(input: &Path, output: &Path, module: bool) -> Result<()> {
    let terser = crate::tools::ensure_terser()?;
    let mut cmd = command(terser);
    cmd.arg(input)
        .args(["--compress", "passes=2", "--mangle", "--output"])
        .arg(output);
    if module {
        cmd.arg("--module");
    }
    run(&mut cmd).with_context(|| format!("minifying {}", input.display()))
}

/// `cargo xtask dist`: the bundle, its sizes against the budgets, and the npm package, packed.
pub(crate) fn dist() -> Result<()> {
    let app = build_release()?;
    report_size(&bundle(&dist_dir(), &app)?)?;
    let tarball = npm_package(&app)?;
    println!("npm package: {}", tarball.display());
    Ok(())
}

/// Builds the npm package from `dist/` into `npm/dist/` (the module with the app's file names
/// filled in, and the app's files under `assets/`) and packs it with `npm pack` into
/// `target/npm/`; answers the tarball's path.
pub(crate) fn npm_package(app: &AppFiles) -> Result<PathBuf> {
    let npm = root().join("npm");
    let manifest = std::fs::read_to_string(npm.join("package.json"))?;
    let version = format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION"));
    if !manifest.contains(&version) {
        bail!("npm/package.json must say {version}, the workspace's version");
    }
    let out = npm.join("dist");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(out.join("assets"))?;
    for name in [&app.glue, &app.wasm] {
        std::fs::copy(dist_dir().join(name), out.join("assets").join(name))?;
    }
    let module = fill(&std::fs::read_to_string(npm.join("src/index.js"))?, app);
    std::fs::write(out.join("index.js"), module)?;
    let packed = crate::cmd::target_dir().join("npm");
    std::fs::create_dir_all(&packed)?;
    let name = crate::cmd::output(
        command("npm")
            .args(["pack", "--silent", "--pack-destination"])
            .arg(&packed)
            .current_dir(&npm),
    )
    .context("npm pack failed")?;
    let tarball = npm_tarball();
    if packed.join(name.trim()) != tarball || !tarball.is_file() {
        bail!(
            "npm pack wrote {:?}, not {}",
            name.trim(),
            tarball.display()
        );
    }
    Ok(tarball)
}

/// Where [`npm_package`] packs the package.
pub(crate) fn npm_tarball() -> PathBuf {
    crate::cmd::target_dir().join("npm").join(concat!(
        "parley-chat-",
        env!("CARGO_PKG_VERSION"),
        ".tgz"
    ))
}

/// One file of the bundle.
#[derive(Debug)]
pub(crate) struct Asset {
    pub(crate) name: String,
    pub(crate) raw: u64,
    pub(crate) gzip: u64,
    pub(crate) brotli: u64,
}

/// What a page fetches for a working widget (the loader, the glue, the wasm of `app`), with
/// their sizes: raw, and those of the `.gz` and `.br` twins [`build_release`] wrote (gzip -9
/// and brotli -q 11 of Debian's tools, so the figure is the one the budget names).
pub(crate) fn bundle(dist: &Path, app: &AppFiles) -> Result<Vec<Asset>> {
    let size = |name: &str| {
        let path = dist.join(name);
        std::fs::metadata(&path)
            .map(|m| m.len())
            .with_context(|| format!("no {}: the widget was not built", path.display()))
    };
    let mut assets = Vec::new();
    for name in [&app.glue, &app.wasm, LOADER] {
        assets.push(Asset {
            name: name.to_owned(),
            raw: size(name)?,
            gzip: size(&format!("{name}.gz"))?,
            brotli: size(&format!("{name}.br"))?,
        });
    }
    assets.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(assets)
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
    let loader = assets
        .iter()
        .find(|a| a.name == LOADER)
        .context("no loader (parley.js) in the bundle")?;
    println!(
        "loader: {:.1} KB of {:.1} KB gzip -9",
        kb(loader.gzip),
        kb(LOADER_BUDGET_GZIP_BYTES)
    );
    if loader.gzip > LOADER_BUDGET_GZIP_BYTES {
        bail!(
            "the loader is {:.1} KB gzip -9, over its {:.1} KB budget",
            kb(loader.gzip),
            kb(LOADER_BUDGET_GZIP_BYTES)
        );
    }
    if gzip > BUDGET_GZIP_BYTES {
        bail!(
            "the widget bundle is {:.1} KB gzip -9, over the {:.1} KB budget",
            kb(gzip),
            kb(BUDGET_GZIP_BYTES)
        );
    }
    Ok(gzip)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// wasm-bindgen 0.2.130's text for a class whose methods the linker left out.
    const CLASS: &str = "export class IntoUnderlyingSink {
    __destroy_into_raw() {
        const ptr = this.__wbg_ptr;
        this.__wbg_ptr = 0;
        IntoUnderlyingSinkFinalization.unregister(this);
        return ptr;
    }
    free() {
        const ptr = this.__destroy_into_raw();
        wasm.__wbg_intounderlyingsink_free(ptr, 0);
    }
}
if (Symbol.dispose) IntoUnderlyingSink.prototype[Symbol.dispose] = IntoUnderlyingSink.prototype.free;
";
    const REGISTRY: &str =
        "const IntoUnderlyingSinkFinalization = (typeof FinalizationRegistry === 'undefined')
    ? { register: () => {}, unregister: () => {} }
    : new FinalizationRegistry(ptr => wasm.__wbg_intounderlyingsink_free(ptr, 1));
";

    #[test]
    fn the_stream_classes_leave_the_glue_and_nothing_else_does() {
        let glue = format!("{CLASS}function a() {{}}\n{REGISTRY}export default a;\n");
        assert_eq!(
            without_stream_classes(&glue).unwrap(),
            "function a() {}\nexport default a;\n"
        );
        assert_eq!(
            without_stream_classes("export default 1;").unwrap(),
            "export default 1;"
        );
        // Minified, or still named by other code: refused.
        assert!(without_stream_classes("export class IntoUnderlyingSink{}").is_err());
        let used = format!("{CLASS}{REGISTRY}new IntoUnderlyingSink();");
        assert!(without_stream_classes(&used).is_err());
    }
}
