// The stylesheet minifier, shared by `build.rs` (the app's stylesheet) and xtask (the
// loader's launcher styles). Conservative: comments go, whitespace runs become one space, and
// the space after `{ } ; , : >` and before `{ } > ! , ;` goes; an attribute selector's value loses
// its quotes when it is a plain word (`[role="log"]`), a number its leading zero (`0.5`); any
// other text inside quotes is kept as it is.

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
            // An attribute selector's value (`[dir="rtl"]`): only there does a quote follow `=`.
            '"' | '\'' if out.ends_with('=') => {
                let mut value = String::new();
                let mut closed = false;
                for d in chars.by_ref() {
                    if d == c {
                        closed = true;
                        break;
                    }
                    value.push(d);
                }
                let word = value
                    .chars()
                    .next()
                    .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                    && value
                        .chars()
                        .all(|d| d.is_ascii_alphanumeric() || d == '_' || d == '-');
                if word && closed && chars.peek() == Some(&']') {
                    out.push_str(&value);
                } else {
                    out.push(c);
                    out.push_str(&value);
                    if closed {
                        out.push(c);
                    }
                }
            }
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
            // `0.5` is `.5`: a zero that starts a value (after a space, a colon, a comma or a
            // parenthesis), before a point and a digit.
            '0' if matches!(out.chars().next_back(), Some(' ' | ':' | ',' | '('))
                && chars.peek() == Some(&'.')
                && chars.clone().nth(1).is_some_and(|d| d.is_ascii_digit()) => {}
            c if c.is_whitespace() => {
                // After a colon (a declaration's, never meaningful in a selector) and around a
                // child combinator, a space says nothing either; nor before `!important`.
                let after_punct = matches!(
                    out.chars().next_back(),
                    None | Some('{' | '}' | ';' | ',' | ' ' | ':' | '>')
                );
                let before_punct = matches!(chars.peek(), Some('{' | '}' | '>' | '!' | ',' | ';'));
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

#[cfg(test)]
mod tests {
    use super::minify;

    #[test]
    fn comments_and_spaces_go() {
        assert_eq!(
            minify("/* why */\n.a > .b ,\n.c :hover {\n  color: red ;\n  margin: 0 auto;\n}\n"),
            ".a>.b,.c :hover{color:red;margin:0 auto}"
        );
    }

    #[test]
    fn quotes_go_around_a_plain_attribute_value_only() {
        assert_eq!(
            minify(r#"[role="log"] > *, [dir='rtl'] .a, [x="a b"], [y="1a"], [z=""] {}"#),
            r#"[role=log]>*,[dir=rtl] .a,[x="a b"],[y="1a"],[z=""]{}"#
        );
    }

    #[test]
    fn text_in_quotes_is_kept() {
        assert_eq!(
            minify(r#".a { content: "x  0.5 /* y */ "; font-family: "Segoe UI", Roboto; }"#),
            r#".a{content:"x  0.5 /* y */ ";font-family:"Segoe UI",Roboto}"#
        );
    }

    #[test]
    fn a_leading_zero_goes() {
        assert_eq!(
            minify(
                ".a { opacity: 0.5; box-shadow: 0 8px rgba(0, 0, 0, 0.18); width: 10.5px; transition: 0s; }"
            ),
            ".a{opacity:.5;box-shadow:0 8px rgba(0,0,0,.18);width:10.5px;transition:0s}"
        );
        // Not in a name: `.col-0.b` is a class followed by another.
        assert_eq!(minify(".col-0.b{}"), ".col-0.b{}");
    }

    #[test]
    fn the_space_before_important_goes() {
        assert_eq!(
            minify(".a { display: none !important; }"),
            ".a{display:none!important}"
        );
    }
}
