//! Text traces in Voiceflow's shape: the block's markdown becomes a slate tree (`payload.slate`,
//! which Voiceflow's web widget renders and without which it drops the message) and plain text
//! (`payload.message`, as Voiceflow's runtime sends it).
//!
//! Slate as Voiceflow's `base-types` (`text/index.ts`) defines it: `content` is a list of
//! paragraphs `{ children }`; a leaf is `{ text }` with the marks `fontWeight` (`"700"` for
//! bold), `italic`, `underline`, `strikeThrough`; a link is `{ type: "link", url, children }`.
//! Markdown that slate has no element for is kept readable: a list item becomes a paragraph that
//! starts with `•` or its number, a heading a bold paragraph, code plain text.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The slate tree and the plain text of a markdown message.
#[derive(Debug, Clone, PartialEq)]
pub struct Rich {
    pub content: Vec<Value>,
    pub plain: String,
}

#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    bold: bool,
    italic: bool,
    strike: bool,
}

/// Builds the paragraphs one by one.
#[derive(Default)]
struct Builder {
    paragraphs: Vec<Value>,
    /// The children of the paragraph being built.
    children: Vec<Value>,
    /// The children of the link being built, with its URL.
    link: Option<(String, Vec<Value>)>,
    marks: Marks,
    /// Nesting of lists: `Some(n)` for an ordered list at item `n`.
    lists: Vec<Option<u64>>,
    plain: Vec<String>,
    line: String,
}

impl Builder {
    fn leaf(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut leaf = Map::new();
        leaf.insert("text".into(), text.into());
        if self.marks.bold {
            leaf.insert("fontWeight".into(), "700".into());
        }
        if self.marks.italic {
            leaf.insert("italic".into(), true.into());
        }
        if self.marks.strike {
            leaf.insert("strikeThrough".into(), true.into());
        }
        self.line.push_str(text);
        match &mut self.link {
            Some((_, children)) => children.push(Value::Object(leaf)),
            None => self.children.push(Value::Object(leaf)),
        }
    }

    fn end_paragraph(&mut self) {
        self.end_link();
        if self.children.is_empty() {
            return;
        }
        let children = std::mem::take(&mut self.children);
        self.paragraphs.push(json!({ "children": children }));
        self.plain.push(std::mem::take(&mut self.line));
    }

    fn end_link(&mut self) {
        if let Some((url, children)) = self.link.take()
            && !children.is_empty()
        {
            self.children
                .push(json!({ "type": "link", "url": url, "children": children }));
        }
    }
}

/// Reads a message's markdown (the subset text blocks use: emphasis, strong, strikethrough,
/// links, lists, headings, code, line breaks; raw HTML stays text).
pub fn from_markdown(markdown: &str) -> Rich {
    let mut b = Builder::default();
    let parser = Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH);
    for event in parser {
        match event {
            Event::Start(Tag::Strong | Tag::Heading { .. }) => b.marks.bold = true,
            Event::End(TagEnd::Strong) => b.marks.bold = false,
            Event::End(TagEnd::Heading(_)) => {
                b.marks.bold = false;
                b.end_paragraph();
            }
            Event::Start(Tag::Emphasis) => b.marks.italic = true,
            Event::End(TagEnd::Emphasis) => b.marks.italic = false,
            Event::Start(Tag::Strikethrough) => b.marks.strike = true,
            Event::End(TagEnd::Strikethrough) => b.marks.strike = false,
            Event::Start(Tag::Link { dest_url, .. }) => {
                b.end_link();
                b.link = Some((dest_url.into_string(), Vec::new()));
            }
            Event::End(TagEnd::Link) => b.end_link(),
            Event::Start(Tag::List(first)) => b.lists.push(first),
            Event::End(TagEnd::List(_)) => {
                b.end_paragraph();
                b.lists.pop();
            }
            Event::Start(Tag::Item) => {
                b.end_paragraph();
                let depth = b.lists.len().saturating_sub(1);
                let bullet = match b.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "• ".to_owned(),
                };
                let marks = std::mem::take(&mut b.marks);
                b.leaf(&format!("{}{bullet}", "  ".repeat(depth)));
                b.marks = marks;
            }
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock) => b.end_paragraph(),
            Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
                b.leaf(&text);
            }
            Event::SoftBreak | Event::HardBreak => b.leaf("\n"),
            Event::Start(Tag::Image { dest_url, .. }) => {
                // Images in text are links to them (a text bubble shows no picture).
                b.end_link();
                b.link = Some((dest_url.into_string(), Vec::new()));
            }
            Event::End(TagEnd::Image) => b.end_link(),
            _ => {}
        }
    }
    b.end_paragraph();
    Rich {
        content: b.paragraphs,
        plain: b.plain.join("\n"),
    }
}

/// A stable id for a message's slate (Voiceflow's are random; ours follow from the text, so a
/// stateless turn stays a function of its state and request).
pub fn id_of(markdown: &str) -> String {
    let digest = Sha256::digest(markdown.as_bytes());
    crate::signing::to_hex(&digest[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_voiceflow_slate() {
        let rich = from_markdown(
            "Hello, and welcome to **Pizza Palace** 🍕\n\nSee *our* [menu](https://x.test/m) \
             or ~~call~~.\n\n- one\n- **two**\n\n1. first\n2. second",
        );
        assert_eq!(
            rich.content,
            vec![
                json!({ "children": [
                    { "text": "Hello, and welcome to " },
                    { "text": "Pizza Palace", "fontWeight": "700" },
                    { "text": " 🍕" },
                ]}),
                json!({ "children": [
                    { "text": "See " },
                    { "text": "our", "italic": true },
                    { "text": " " },
                    { "type": "link", "url": "https://x.test/m", "children": [{ "text": "menu" }] },
                    { "text": " or " },
                    { "text": "call", "strikeThrough": true },
                    { "text": "." },
                ]}),
                json!({ "children": [{ "text": "• " }, { "text": "one" }] }),
                json!({ "children": [{ "text": "• " }, { "text": "two", "fontWeight": "700" }] }),
                json!({ "children": [{ "text": "1. " }, { "text": "first" }] }),
                json!({ "children": [{ "text": "2. " }, { "text": "second" }] }),
            ]
        );
        assert_eq!(
            rich.plain,
            "Hello, and welcome to Pizza Palace 🍕\nSee our menu or call.\n• one\n• two\n1. first\n2. second"
        );
    }

    #[test]
    fn html_stays_text_and_lines_stay_lines() {
        let rich = from_markdown("<b>hi</b>\nthere");
        let text: Vec<&str> = rich.content[0]["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap())
            .collect();
        assert_eq!(text.concat(), "<b>hi</b>\nthere");
        assert!(from_markdown("").content.is_empty());
        assert_eq!(id_of("a"), id_of("a"));
        assert_ne!(id_of("a"), id_of("b"));
    }
}
