//! `{variable}` placeholders in texts, URLs and payloads.
//!
//! A placeholder is `{` + an identifier + `}`; anything else in braces (`{ }`, `{a b}`, JSON)
//! is literal text. A variable's value is written as it would read: a string as itself, `null`
//! as nothing, other values as JSON.

use std::collections::BTreeMap;

use serde_json::Value;

/// The identifiers that appear as placeholders, in order.
pub(crate) fn placeholders(template: &str) -> Vec<&str> {
    let mut found = Vec::new();
    scan(template, |piece| {
        if let Piece::Placeholder(name) = piece {
            found.push(name);
        }
    });
    found
}

/// Fills the placeholders; `url` percent-encodes the values (not the template).
pub(crate) fn render(template: &str, variables: &BTreeMap<String, Value>, url: bool) -> String {
    let mut out = String::with_capacity(template.len());
    scan(template, |piece| match piece {
        Piece::Literal(text) => out.push_str(text),
        Piece::Placeholder(name) => match variables.get(name) {
            Some(value) => {
                let text = display(value);
                if url {
                    percent_encode(&text, &mut out);
                } else {
                    out.push_str(&text);
                }
            }
            // Unknown names are caught by validation; at run time they stay visible.
            None => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
        },
    });
    out
}

/// A value as text.
pub(crate) fn display(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

fn scan<'a>(template: &'a str, mut each: impl FnMut(Piece<'a>)) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if is_identifier(&after[..close]) => {
                if open > 0 {
                    each(Piece::Literal(&rest[..open]));
                }
                each(Piece::Placeholder(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                each(Piece::Literal(&rest[..=open]));
                rest = after;
            }
        }
    }
    if !rest.is_empty() {
        each(Piece::Literal(rest));
    }
}

fn percent_encode(text: &str, out: &mut String) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, Value> {
        [
            ("name".to_owned(), Value::from("Dana Ó")),
            ("n".to_owned(), Value::from(3)),
            ("none".to_owned(), Value::Null),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn fills_identifiers_and_keeps_other_braces() {
        let t = "Hi {name}, {n} pizzas{none}. {not a var} {} {{json}} {missing} {";
        assert_eq!(
            render(t, &vars(), false),
            "Hi Dana Ó, 3 pizzas. {not a var} {} {{json}} {missing} {"
        );
        assert_eq!(placeholders(t), ["name", "n", "none", "json", "missing"]);
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let t = "https://api.example/q?name={name}&n={n}";
        assert_eq!(
            render(t, &vars(), true),
            "https://api.example/q?name=Dana%20%C3%93&n=3"
        );
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("a_1") && is_identifier("_x"));
        assert!(
            !is_identifier("1a")
                && !is_identifier("")
                && !is_identifier("a-b")
                && !is_identifier("é")
        );
    }
}
