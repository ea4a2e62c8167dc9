//! SSML in `speak` messages, for clients and runtimes that show text.

/// Removes SSML markup: tags go, the text between them stays, whitespace is collapsed, and the
/// five XML entities are decoded.
pub fn strip_ssml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .replace(" .", ".")
        .replace(" ,", ",")
}

#[cfg(test)]
mod tests {
    use super::strip_ssml;

    #[test]
    fn ssml_is_stripped_to_its_text() {
        assert_eq!(
            strip_ssml(
                "<speak>We're open <emphasis>every day</emphasis>.<break time=\"1s\"/> Fish &amp; chips</speak>"
            ),
            "We're open every day. Fish & chips"
        );
        assert_eq!(strip_ssml("no markup"), "no markup");
        assert_eq!(strip_ssml("a < b"), "a");
    }
}
