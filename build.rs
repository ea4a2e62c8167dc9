//! Minifies `style/parley.css` into `OUT_DIR` for the widget to embed (`src/embed.rs` adopts it
//! in each Shadow DOM root): the bundle is counted in bytes, and half of the stylesheet is
//! comments and indentation. Conservative: comments go, whitespace runs become one space, and
//! the space after `{ } ; ,` and before `{ }` goes; text inside quotes is kept as it is.

fn minify(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut chars = css.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                out.push(c);
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    last = d;
                }
            }
            c if c.is_whitespace() => {
                let after_punct =
                    matches!(out.chars().last(), None | Some('{' | '}' | ';' | ',' | ' '));
                let before_punct = matches!(chars.peek(), Some('{' | '}'));
                if !after_punct && !before_punct {
                    out.push(' ');
                }
            }
            '{' | '}' => {
                while out.ends_with(' ') {
                    out.pop();
                }
                if c == '}' && out.ends_with(';') {
                    out.pop();
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn main() {
    println!("cargo::rerun-if-changed=style/parley.css");
    let css = std::fs::read_to_string("style/parley.css").expect("style/parley.css");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(
        std::path::Path::new(&out).join("parley.min.css"),
        minify(&css),
    )
    .expect("writing the minified stylesheet");
}
