// The stylesheet minifier, shared by `build.rs` (the app's stylesheet) and xtask (the
// loader's launcher styles). Conservative: comments go, whitespace runs become one space, and
// the space after `{ } ; , : >` and before `{ } >` goes; text inside quotes is kept as it is.

/// Minifies a stylesheet.
pub(crate) fn minify(css: &str) -> String {
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
                // After a colon (a declaration's, never meaningful in a selector) and around a
                // child combinator, a space says nothing either.
                let after_punct = matches!(
                    out.chars().last(),
                    None | Some('{' | '}' | ';' | ',' | ' ' | ':' | '>')
                );
                let before_punct = matches!(chars.peek(), Some('{' | '}' | '>'));
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
