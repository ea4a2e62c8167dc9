//! Rich text for bot messages: a small tree of paragraphs, lists and code, with inline marks and
//! links, built from markdown (`message`) or from a slate tree (`slate`). The widget turns it
//! into DOM nodes one by one; nothing from the network is ever parsed as HTML (raw HTML in
//! markdown stays visible text), and link targets go through [`crate::safety::safe_link`].

use parley_protocol::{SlateElement, SlateNode, SlateText};
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::safety::safe_link;

/// A block of rich text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    Code(String),
}

/// Inline content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    Text {
        text: String,
        marks: Marks,
    },
    /// A link; `href` is `None` when the target was not a safe URL (the text stays).
    Link {
        href: Option<String>,
        children: Vec<Inline>,
    },
    Break,
}

/// Inline styles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Marks {
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    pub code: bool,
}

/// Rich text from the markdown subset bots write: emphasis, strong, strikethrough, code, links,
/// lists, line breaks and code blocks. Headings read as bold paragraphs; images as links.
pub fn from_markdown(text: &str) -> Vec<Block> {
    let mut builder = Builder::default();
    for event in Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH) {
        builder.event(event);
    }
    builder.finish()
}

#[derive(Default)]
struct Builder {
    blocks: Vec<Block>,
    /// Inline content being built; links nest one level per open link.
    inline: Vec<Inline>,
    links: Vec<(Option<String>, Vec<Inline>)>,
    marks: Marks,
    heading: bool,
    list: Option<(bool, Vec<Vec<Inline>>)>,
    code: Option<String>,
}

impl Builder {
    fn push_inline(&mut self, inline: Inline) {
        match self.links.last_mut() {
            Some((_, children)) => children.push(inline),
            None => self.inline.push(inline),
        }
    }

    fn text(&mut self, text: &str) {
        if let Some(code) = &mut self.code {
            code.push_str(text);
            return;
        }
        let mut marks = self.marks;
        marks.bold |= self.heading;
        self.push_inline(Inline::Text {
            text: text.to_owned(),
            marks,
        });
    }

    fn end_paragraph(&mut self) {
        let inline = std::mem::take(&mut self.inline);
        if inline.is_empty() {
            return;
        }
        match &mut self.list {
            Some((_, items)) => match items.last_mut() {
                Some(item) => {
                    if !item.is_empty() {
                        item.push(Inline::Break);
                    }
                    item.extend(inline);
                }
                None => items.push(inline),
            },
            None => self.blocks.push(Block::Paragraph(inline)),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => match tag {
                Tag::Emphasis => self.marks.italic = true,
                Tag::Strong => self.marks.bold = true,
                Tag::Strikethrough => self.marks.strike = true,
                Tag::Heading { .. } => self.heading = true,
                Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                    self.links.push((safe_link(&dest_url), Vec::new()));
                }
                Tag::List(start) => {
                    self.end_paragraph();
                    if self.list.is_none() {
                        self.list = Some((start.is_some(), Vec::new()));
                    }
                }
                Tag::Item => {
                    self.end_paragraph();
                    if let Some((_, items)) = &mut self.list {
                        items.push(Vec::new());
                    }
                }
                Tag::CodeBlock(_) => {
                    self.end_paragraph();
                    self.code = Some(String::new());
                }
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::Emphasis => self.marks.italic = false,
                TagEnd::Strong => self.marks.bold = false,
                TagEnd::Strikethrough => self.marks.strike = false,
                TagEnd::Heading(_) => {
                    self.heading = false;
                    self.end_paragraph();
                }
                TagEnd::Link | TagEnd::Image => {
                    if let Some((href, children)) = self.links.pop() {
                        self.push_inline(Inline::Link { href, children });
                    }
                }
                TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_) | TagEnd::HtmlBlock => {
                    self.end_paragraph()
                }
                TagEnd::List(_) => {
                    self.end_paragraph();
                    if let Some((ordered, items)) = self.list.take() {
                        self.blocks.push(Block::List { ordered, items });
                    }
                }
                TagEnd::CodeBlock => {
                    if let Some(code) = self.code.take() {
                        self.blocks.push(Block::Code(code.trim_end().to_owned()));
                    }
                }
                _ => {}
            },
            Event::Text(text) => self.text(&text),
            Event::Code(code) => {
                let marks = Marks {
                    code: true,
                    ..self.marks
                };
                self.push_inline(Inline::Text {
                    text: code.into_string(),
                    marks,
                });
            }
            // Raw HTML is shown as the text it is, never interpreted.
            Event::Html(html) | Event::InlineHtml(html) => self.text(html.trim_end_matches('\n')),
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.push_inline(Inline::Break),
            Event::Rule => self.end_paragraph(),
            _ => {}
        }
    }

    fn finish(mut self) -> Vec<Block> {
        while let Some((href, children)) = self.links.pop() {
            self.push_inline(Inline::Link { href, children });
        }
        self.end_paragraph();
        if let Some((ordered, items)) = self.list.take() {
            self.blocks.push(Block::List { ordered, items });
        }
        self.blocks
    }
}

/// Rich text from a slate tree (Voiceflow's rich text): paragraphs, links, lists and headings,
/// with bold, italic, underline and strike-through marks.
pub fn from_slate(nodes: &[SlateNode]) -> Vec<Block> {
    let mut blocks = Vec::new();
    for node in nodes {
        match node {
            SlateNode::Element(el) => match el.element_type.as_deref() {
                Some("bulleted-list" | "numbered-list") => blocks.push(Block::List {
                    ordered: el.element_type.as_deref() == Some("numbered-list"),
                    items: el
                        .children
                        .iter()
                        .map(|item| inlines(std::slice::from_ref(item)))
                        .collect(),
                }),
                _ => {
                    let content = inlines(std::slice::from_ref(node));
                    if !content.is_empty() {
                        blocks.push(Block::Paragraph(content));
                    }
                }
            },
            SlateNode::Text(_) | SlateNode::Other(_) => {
                let content = inlines(std::slice::from_ref(node));
                if !content.is_empty() {
                    blocks.push(Block::Paragraph(content));
                }
            }
        }
    }
    blocks
}

fn inlines(nodes: &[SlateNode]) -> Vec<Inline> {
    let mut out = Vec::new();
    for node in nodes {
        match node {
            SlateNode::Text(leaf) => {
                if !leaf.text.is_empty() {
                    out.push(text_leaf(leaf));
                }
            }
            SlateNode::Element(el) => element(el, &mut out),
            SlateNode::Other(_) => {}
        }
    }
    out
}

fn element(el: &SlateElement, out: &mut Vec<Inline>) {
    if el.element_type.as_deref() == Some("link") {
        out.push(Inline::Link {
            href: el.url.as_deref().and_then(safe_link),
            children: inlines(&el.children),
        });
        return;
    }
    let heading = el
        .element_type
        .as_deref()
        .is_some_and(|t| t.starts_with("heading"));
    let mut children = inlines(&el.children);
    if heading {
        for child in &mut children {
            if let Inline::Text { marks, .. } = child {
                marks.bold = true;
            }
        }
    }
    if !out.is_empty() && !children.is_empty() && is_block(el) {
        out.push(Inline::Break);
    }
    out.extend(children);
}

fn is_block(el: &SlateElement) -> bool {
    !matches!(el.element_type.as_deref(), Some("link"))
}

fn text_leaf(leaf: &SlateText) -> Inline {
    Inline::Text {
        text: leaf.text.clone(),
        marks: Marks {
            bold: leaf.bold.unwrap_or(false),
            italic: leaf.italic.unwrap_or(false),
            underline: leaf.underline.unwrap_or(false),
            strike: leaf.strike_through.unwrap_or(false),
            code: false,
        },
    }
}

/// The text a screen reader should hear.
pub fn plain_text(blocks: &[Block]) -> String {
    fn inline_text(inlines: &[Inline], out: &mut String) {
        for i in inlines {
            match i {
                Inline::Text { text, .. } => out.push_str(text),
                Inline::Link { children, .. } => inline_text(children, out),
                Inline::Break => out.push(' '),
            }
        }
    }
    let mut parts = Vec::new();
    for block in blocks {
        let mut s = String::new();
        match block {
            Block::Paragraph(inlines) => inline_text(inlines, &mut s),
            Block::List { items, .. } => {
                let texts: Vec<String> = items
                    .iter()
                    .map(|item| {
                        let mut t = String::new();
                        inline_text(item, &mut t);
                        t
                    })
                    .collect();
                s = texts.join(", ");
            }
            Block::Code(code) => s.push_str(code),
        }
        parts.push(s);
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Inline {
        Inline::Text {
            text: text.into(),
            marks: Marks::default(),
        }
    }

    fn marked(text: &str, f: impl FnOnce(&mut Marks)) -> Inline {
        let mut marks = Marks::default();
        f(&mut marks);
        Inline::Text {
            text: text.into(),
            marks,
        }
    }

    #[test]
    fn markdown_subset() {
        assert_eq!(
            from_markdown("Welcome to **Pizza Palace** 🍕, *try* ~~this~~ `code`"),
            [Block::Paragraph(vec![
                t("Welcome to "),
                marked("Pizza Palace", |m| m.bold = true),
                t(" 🍕, "),
                marked("try", |m| m.italic = true),
                t(" "),
                marked("this", |m| m.strike = true),
                t(" "),
                marked("code", |m| m.code = true),
            ])]
        );
        assert_eq!(
            from_markdown("- one\n- two\n\n1. first"),
            [
                Block::List {
                    ordered: false,
                    items: vec![vec![t("one")], vec![t("two")]]
                },
                Block::List {
                    ordered: true,
                    items: vec![vec![t("first")]]
                },
            ]
        );
    }

    #[test]
    fn links_are_allow_listed_and_html_stays_text() {
        assert_eq!(
            from_markdown(
                "[menu](https://pizza.example/menu) [x](javascript:alert(1)) <img src=x onerror=alert(1)>"
            ),
            [Block::Paragraph(vec![
                Inline::Link {
                    href: Some("https://pizza.example/menu".into()),
                    children: vec![t("menu")]
                },
                t(" "),
                Inline::Link {
                    href: None,
                    children: vec![t("x")]
                },
                t(" "),
                t("<img src=x onerror=alert(1)>"),
            ])]
        );
        let blocks = from_markdown("<script>alert(1)</script>\n\nafter");
        assert_eq!(plain_text(&blocks), "<script>alert(1)</script> after");
        let blocks = from_markdown("![pic](javascript:alert(1))");
        assert_eq!(
            blocks,
            [Block::Paragraph(vec![Inline::Link {
                href: None,
                children: vec![t("pic")]
            }])]
        );
    }

    #[test]
    fn slate_trees() {
        let nodes: Vec<SlateNode> = serde_json::from_value(serde_json::json!([
            { "children": [
                { "text": "Hi " },
                { "text": "there", "bold": true },
                { "type": "link", "url": "https://x.example", "children": [{ "text": "link" }] },
                { "type": "link", "url": "javascript:alert(1)", "children": [{ "text": "bad" }] }
            ] },
            { "type": "bulleted-list", "children": [
                { "type": "list-item", "children": [{ "text": "a" }] },
                { "type": "list-item", "children": [{ "text": "b", "italic": true }] }
            ] }
        ]))
        .unwrap();
        assert_eq!(
            from_slate(&nodes),
            [
                Block::Paragraph(vec![
                    t("Hi "),
                    marked("there", |m| m.bold = true),
                    Inline::Link {
                        href: Some("https://x.example".into()),
                        children: vec![t("link")]
                    },
                    Inline::Link {
                        href: None,
                        children: vec![t("bad")]
                    },
                ]),
                Block::List {
                    ordered: false,
                    items: vec![vec![t("a")], vec![marked("b", |m| m.italic = true)]]
                },
            ]
        );
    }
}
