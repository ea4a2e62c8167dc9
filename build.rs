//! Minifies the widget's stylesheets into `OUT_DIR` for `src/embed.rs` to embed (each Shadow DOM
//! root adopts them): the bundle is counted in bytes, and half of a stylesheet is comments and
//! indentation. `style/parley.css` is the app's; `style/launcher.css` (the root's tokens and the
//! launcher) belongs to the starters (the loader, the npm module), which hand it to the app as
//! `window.parley.launcherSheet`, so a release bundle carries it once. Debug builds (`trunk
//! serve`, which has no starter) embed it too.

include!("style/minify.rs");

fn main() {
    println!("cargo::rerun-if-changed=style/minify.rs");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    for name in ["launcher", "parley"] {
        let file = format!("style/{name}.css");
        println!("cargo::rerun-if-changed={file}");
        let css = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        std::fs::write(
            std::path::Path::new(&out).join(format!("{name}.min.css")),
            minify(&css),
        )
        .expect("writing a minified stylesheet");
    }
}
