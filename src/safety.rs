//! URLs from the network are allow-listed by scheme before they reach an `href` or a `src`.
//!
//! Links may be `https`, `http`, `mailto` or `tel`; images `https`, `http` or a `data:image/…`
//! URL (not SVG: an SVG document can carry script). Anything else, a relative URL included, is
//! dropped. The check is on the scheme as a browser would read it: leading spaces and control
//! characters, and tabs or newlines inside the scheme, are ignored by browsers, so they are
//! stripped before the comparison rather than let through.

use crate::part;

/// A URL safe for a link's `href`, if it is one.
pub fn safe_link(url: &str) -> Option<String> {
    let url = normalised(url)?;
    let lower = url.to_ascii_lowercase();
    ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s))
        .then_some(url)
}

/// A URL safe for an image's `src`, if it is one.
pub fn safe_image(url: &str) -> Option<String> {
    let url = normalised(url)?;
    let lower = url.to_ascii_lowercase();
    let ok = lower.starts_with("https://")
        || lower.starts_with("http://")
        || (lower.starts_with("data:image/") && !lower.starts_with("data:image/svg"));
    ok.then_some(url)
}

/// Audio for a `speak` trace: `https` or `http` only.
pub fn safe_audio(url: &str) -> Option<String> {
    let url = normalised(url)?;
    let lower = url.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

/// A colour safe to put in a style property (set through the CSSOM, never a `style`
/// attribute): a hex colour, a name, or `rgb()`/`hsl()` of numbers. No `/` or `:`, so no URL;
/// no `-`, so no variable; no `;`, so no other declaration.
pub fn safe_color(color: &str) -> Option<String> {
    let ok = color.len() <= 64
        && !color.trim().is_empty()
        && color.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '#' | '(' | ')' | ',' | '.' | '%' | ' ')
        });
    ok.then(|| color.to_owned())
}

/// Trims what browsers ignore around and inside a scheme; refuses an empty URL.
fn normalised(url: &str) -> Option<String> {
    let trimmed = url.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    let scheme_end = trimmed.find(':')?;
    let (scheme, rest) = (part(trimmed, ..scheme_end), part(trimmed, scheme_end..));
    let scheme: String = scheme
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    Some(format!("{scheme}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        for ok in [
            "https://example.com/a?b#c",
            "HTTP://example.com",
            "mailto:a@example.com",
            "tel:+15551234",
            "  https://example.com  ",
        ] {
            assert!(safe_link(ok).is_some(), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            " \u{1}javascript:alert(1)",
            "java\tscript:alert(1)",
            "java\nscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "/relative/path",
            "//evil.example/x",
            "",
            "&#106;avascript:alert(1)",
            "file:///etc/passwd",
        ] {
            assert_eq!(safe_link(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn colours() {
        for ok in [
            "#d9480f",
            "rebeccapurple",
            "rgba(10, 20, 30, 50%)",
            "hsl(10, 20%, 30%)",
        ] {
            assert_eq!(safe_color(ok).as_deref(), Some(ok));
        }
        for bad in [
            "red;}body{display:none",
            "url(//evil.example/x)",
            "var(--x)",
            "expression(alert(1));",
            "",
            " ",
            "red\\",
            "\"red\"",
        ] {
            assert_eq!(safe_color(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn images_and_audio() {
        assert!(safe_image("https://cdn.example/a.png").is_some());
        assert!(safe_image("data:image/png;base64,iVBORw0KGgo=").is_some());
        assert_eq!(safe_image("data:image/svg+xml,<svg onload=alert(1)>"), None);
        assert_eq!(safe_image("javascript:alert(1)"), None);
        assert_eq!(safe_image("data:text/html,x"), None);
        assert!(safe_audio("https://cdn.example/a.mp3").is_some());
        assert_eq!(safe_audio("data:audio/mp3;base64,AAAA"), None);
    }
}
