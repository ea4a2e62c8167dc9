//! Rich text for bot messages: a small tree of paragraphs, lists and code, with inline marks and
//! links, built from markdown (`message`, a subset) or from a slate tree (`slate`). The widget turns it
//! into DOM nodes one by one; nothing from the network is ever parsed as HTML (raw HTML in
//! markdown stays visible text), and link targets go through [`crate::safety::safe_link`].

use crate::json::{Json, Read};
use crate::part;
use crate::safety::safe_link;

/// A block of rich text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// A paragraph set `center`, `right` or `justify` (slate's `textAlign`).
    Aligned(Align, Vec<Inline>),
    List {
        ordered: bool,
        items: Vec<Vec<Inline>>,
    },
    Code(String),
}

/// A paragraph's alignment other than the default (start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Center,
    Right,
    Justify,
}

impl Align {
    /// The class that sets it (a class, not a `style` attribute: a strict CSP refuses those).
    pub fn class(self) -> &'static str {
        match self {
            Align::Center => "parley-rich__p parley-rich__p--center",
            Align::Right => "parley-rich__p parley-rich__p--right",
            Align::Justify => "parley-rich__p parley-rich__p--justify",
        }
    }
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
    /// Text in a colour (slate's `color`), already checked by [`crate::safety::safe_color`].
    Color {
        color: String,
        children: Vec<Inline>,
    },
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

/// Rich text from the markdown subset bots write: `**strong**`, `*emphasis*`, `~~strike~~`,
/// `` `code` ``, `[links](https://…)`, `-`/`1.` lists, code fences, headings (read as bold
/// paragraphs), images (read as links), hard breaks (two trailing spaces or `\`) and `\`
/// escapes. Everything else, raw HTML included, is text.
///
/// Hand-written rather than pulldown-cmark: the widget has a 120 KB budget, and pulldown-cmark
/// (its entity and Unicode tables included) weighed about 66 KB gzip -9 of it, for a subset
/// this small.
pub fn from_markdown(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut list: Option<(bool, Vec<Vec<Inline>>)> = None;
    let mut code: Option<Vec<&str>> = None;

    fn flush_paragraph(paragraph: &mut Vec<&str>, blocks: &mut Vec<Block>) {
        if !paragraph.is_empty() {
            blocks.push(Block::Paragraph(lines_inline(paragraph)));
            paragraph.clear();
        }
    }
    fn flush_list(list: &mut Option<(bool, Vec<Vec<Inline>>)>, blocks: &mut Vec<Block>) {
        if let Some((ordered, items)) = list.take() {
            blocks.push(Block::List { ordered, items });
        }
    }

    for line in text.lines() {
        if let Some(lines) = &mut code {
            if line.trim_start().starts_with("```") {
                blocks.push(Block::Code(lines.join("\n")));
                code = None;
            } else {
                lines.push(line);
            }
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_list(&mut list, &mut blocks);
            code = Some(Vec::new());
        } else if trimmed.is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_list(&mut list, &mut blocks);
        } else if let Some((ordered, item)) = list_item(trimmed) {
            flush_paragraph(&mut paragraph, &mut blocks);
            if list.as_ref().is_some_and(|(o, _)| *o != ordered) {
                flush_list(&mut list, &mut blocks);
            }
            let (_, items) = list.get_or_insert_with(|| (ordered, Vec::new()));
            items.push(inline(item, Marks::default()));
        } else if let Some(title) = heading(trimmed) {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_list(&mut list, &mut blocks);
            let bold = Marks {
                bold: true,
                ..Marks::default()
            };
            blocks.push(Block::Paragraph(inline(title, bold)));
        } else if let Some((_, items)) = &mut list {
            // A continuation line of the last item.
            if let Some(last) = items.last_mut() {
                last.push(Inline::Break);
                last.extend(inline(trimmed, Marks::default()));
            }
        } else {
            paragraph.push(line);
        }
    }
    if let Some(lines) = code {
        blocks.push(Block::Code(lines.join("\n")));
    }
    flush_paragraph(&mut paragraph, &mut blocks);
    flush_list(&mut list, &mut blocks);
    blocks
}

fn list_item(line: &str) -> Option<(bool, &str)> {
    for bullet in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some((false, rest.trim_start()));
        }
    }
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if (1..=9).contains(&digits) {
        let rest = part(line, digits..);
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some((true, rest.trim_start()));
        }
    }
    None
}

fn heading(line: &str) -> Option<&str> {
    let hashes = line.len() - line.trim_start_matches('#').len();
    ((1..=6).contains(&hashes) && part(line, hashes..).starts_with(' '))
        .then(|| part(line, hashes..).trim().trim_end_matches('#').trim_end())
}

/// The lines of a paragraph: joined by spaces, or by a break after two trailing spaces or `\`.
fn lines_inline(lines: &[&str]) -> Vec<Inline> {
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let hard = line.ends_with("  ") || line.ends_with('\\');
        let content = line
            .trim_end_matches(' ')
            .trim_end_matches('\\')
            .trim_start();
        for piece in inline(content, Marks::default()) {
            push(&mut out, piece);
        }
        if i + 1 < lines.len() {
            if hard {
                out.push(Inline::Break);
            } else {
                push(
                    &mut out,
                    Inline::Text {
                        text: " ".to_owned(),
                        marks: Marks::default(),
                    },
                );
            }
        }
    }
    out
}

/// Appends, merging a text with the text before it when their marks are the same.
fn push(out: &mut Vec<Inline>, inline: Inline) {
    if let Inline::Text { text, marks } = &inline {
        if text.is_empty() {
            return;
        }
        if let Some(Inline::Text {
            text: last,
            marks: m,
        }) = out.last_mut()
            && m == marks
        {
            last.push_str(text);
            return;
        }
    }
    out.push(inline);
}

/// Inline markdown within one line.
fn inline(text: &str, marks: Marks) -> Vec<Inline> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let before = part(text, ..text.len() - rest.len()).chars().last();
        let at_word_start = !before.is_some_and(char::is_alphanumeric);
        let found: Option<(Vec<Inline>, &str)> = match c {
            '\\' => {
                let mut chars = part(rest, 1..).chars();
                match chars.next() {
                    Some(escaped) if escaped.is_ascii_punctuation() => Some((
                        vec![Inline::Text {
                            text: escaped.to_string(),
                            marks,
                        }],
                        chars.as_str(),
                    )),
                    _ => None,
                }
            }
            '`' => part(rest, 1..).find('`').map(|end| {
                let code = Marks {
                    code: true,
                    ..marks
                };
                let span = Inline::Text {
                    text: part(rest, 1..1 + end).to_owned(),
                    marks: code,
                };
                (vec![span], part(rest, end + 2..))
            }),
            '*' | '_' | '~' => emphasis(rest, marks, at_word_start),
            '[' => link(rest, 1, marks),
            '!' if rest.starts_with("![") => link(rest, 2, marks),
            _ => None,
        };
        match found {
            Some((inlines, after)) => {
                for i in inlines {
                    push(&mut out, i);
                }
                rest = after;
            }
            None => {
                push(
                    &mut out,
                    Inline::Text {
                        text: c.to_string(),
                        marks,
                    },
                );
                rest = part(rest, c.len_utf8()..);
            }
        }
    }
    out
}

/// `**x**`, `__x__`, `*x*`, `_x_` or `~~x~~` at the start of `rest`.
fn emphasis(rest: &str, marks: Marks, at_word_start: bool) -> Option<(Vec<Inline>, &str)> {
    let delimiter = ["**", "__", "~~", "*", "_"]
        .into_iter()
        .find(|d| rest.starts_with(d))?;
    if delimiter.starts_with('_') && !at_word_start {
        return None; // snake_case is not emphasis
    }
    let body = part(rest, delimiter.len()..);
    if body.is_empty() || body.starts_with(char::is_whitespace) {
        return None;
    }
    // The closing delimiter: not after a space, not the start of a double one when single,
    // and for `_` not followed by a letter.
    let mut search = 0;
    while let Some(found) = part(body, search..).find(delimiter) {
        let mut end = search + found;
        // In a run like `***` closing a double delimiter, the inner single one closes first.
        if delimiter.len() == 2 {
            let mark = part(delimiter, ..1);
            while part(body, end + 2..).starts_with(mark) {
                end += 1;
            }
        }
        let after = part(body, end + delimiter.len()..);
        let doubled = delimiter.len() == 1 && after.starts_with(delimiter);
        let after_space = part(body, ..end).ends_with(char::is_whitespace);
        let intraword = delimiter.starts_with('_') && after.starts_with(char::is_alphanumeric);
        let closes = end > 0 && !after_space && !doubled && !intraword;
        if closes {
            let mut inner = marks;
            match delimiter {
                "**" | "__" => inner.bold = true,
                "~~" => inner.strike = true,
                _ => inner.italic = true,
            }
            return Some((inline(part(body, ..end), inner), after));
        }
        search = end + if doubled { 2 } else { delimiter.len() };
    }
    None
}

/// `[text](url)` (or `![alt](url)` with `skip` 2) at the start of `rest`.
fn link(rest: &str, skip: usize, marks: Marks) -> Option<(Vec<Inline>, &str)> {
    let close = part(rest, skip..).find("](")? + skip;
    // The destination ends at the `)` that balances the `(` (URLs may hold parentheses).
    let mut depth = 0usize;
    let mut target_end = None;
    for (i, c) in part(rest, close + 2..).char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => {
                target_end = Some(close + 2 + i);
                break;
            }
            ')' => depth -= 1,
            _ => {}
        }
    }
    let target_end = target_end?;
    let url = part(rest, close + 2..target_end).trim();
    let url = url.split_once(' ').map_or(url, |(u, _title)| u);
    let url = url.trim_start_matches('<').trim_end_matches('>');
    let link = Inline::Link {
        href: safe_link(url),
        children: inline(part(rest, skip..close), marks),
    };
    Some((vec![link], part(rest, target_end + 1..)))
}

/// Rich text from a slate tree (Voiceflow's rich text, `base-types` `text/index.ts`): paragraphs
/// (with `textAlign`), links (`url`, allow-listed), variables, lists and headings; leaves with
/// `fontWeight` (600 and up, or `bold`, is bold; so is a `bold` flag), `italic`, `underline`,
/// `strikeThrough` and `color` (`{ r, g, b, a }`). `fontFamily` and
/// `backgroundColor` are not drawn: the widget's theme owns them. A node is an element when it
/// has `children`, a text leaf when it has `text`, and ignored otherwise.
pub fn from_slate(nodes: &[Json]) -> Vec<Block> {
    let mut blocks = Vec::new();
    for node in nodes {
        let kind = element_type(node);
        match (
            node.field("children").and_then(|c| c.items()),
            kind.as_deref(),
        ) {
            (Some(children), Some("bulleted-list" | "numbered-list")) => {
                blocks.push(Block::List {
                    ordered: kind.as_deref() == Some("numbered-list"),
                    items: children
                        .iter()
                        .map(|item| inlines(std::slice::from_ref(item)))
                        .collect(),
                });
            }
            _ => {
                let content = inlines(std::slice::from_ref(node));
                let align = match node.field("textAlign").and_then(|a| a.text()).as_deref() {
                    Some("center") => Some(Align::Center),
                    Some("right") => Some(Align::Right),
                    Some("justify") => Some(Align::Justify),
                    _ => None,
                };
                if !content.is_empty() {
                    blocks.push(match align {
                        Some(align) => Block::Aligned(align, content),
                        None => Block::Paragraph(content),
                    });
                }
            }
        }
    }
    blocks
}

fn element_type(node: &Json) -> Option<String> {
    node.field("type").and_then(|t| t.text())
}

fn inlines(nodes: &[Json]) -> Vec<Inline> {
    let mut out = Vec::new();
    for node in nodes {
        if let Some(children) = node.field("children").and_then(|c| c.items()) {
            element(node, &children, &mut out);
        } else if let Some(text) = node.field("text").and_then(|t| t.text())
            && !text.is_empty()
        {
            let mark = |key: &str| node.field(key).and_then(|b| b.flag()) == Some(true);
            // Voiceflow writes "700"; the CSS weights of bold, by name (parsing a number would
            // bring in a parser for this one field).
            let weight = node.field("fontWeight").and_then(|w| w.text());
            let heavy = matches!(
                weight.as_deref(),
                Some("bold" | "bolder" | "600" | "700" | "800" | "900")
            );
            let leaf = Inline::Text {
                text,
                marks: Marks {
                    bold: heavy || mark("bold"),
                    italic: mark("italic"),
                    underline: mark("underline"),
                    strike: mark("strikeThrough"),
                    code: false,
                },
            };
            out.push(match node.field("color").and_then(|c| color(&c)) {
                Some(color) => Inline::Color {
                    color,
                    children: vec![leaf],
                },
                None => leaf,
            });
        }
    }
    out
}

/// A slate colour, base-types' `{ r, g, b, a }` (0–255, alpha 0–1), as `rgba(r, g, b, a%)`:
/// built from numbers, so nothing else can reach the style.
fn color(value: &Json) -> Option<String> {
    // Whole numbers in range only: formatting a float would bring in the float printer.
    let channel = |key: &str, scale: f64, max: f64| -> Option<u32> {
        // Only the alpha may be left out (opaque).
        let n = match value.field(key) {
            Some(n) => n.number()?,
            None if key == "a" => 1.0,
            None => return None,
        } * scale;
        (0.0..=max * scale).contains(&n).then(|| n.round() as u32)
    };
    Some(format!(
        "rgba({}, {}, {}, {}%)",
        channel("r", 1.0, 255.0)?,
        channel("g", 1.0, 255.0)?,
        channel("b", 1.0, 255.0)?,
        channel("a", 100.0, 1.0)?
    ))
}

fn element(node: &Json, children: &[Json], out: &mut Vec<Inline>) {
    let kind = element_type(node);
    if kind.as_deref() == Some("variable") {
        // Inline, as react-chat draws it: `{name}` (the runtime has put values in by then).
        let name = node
            .field("name")
            .and_then(|n| n.text())
            .unwrap_or_default();
        push(
            out,
            Inline::Text {
                text: format!("{{{name}}}"),
                marks: Marks::default(),
            },
        );
        return;
    }
    if kind.as_deref() == Some("link") {
        out.push(Inline::Link {
            href: node
                .field("url")
                .and_then(|u| u.text())
                .and_then(|u| safe_link(&u)),
            children: inlines(children),
        });
        return;
    }
    let mut content = inlines(children);
    if kind.as_deref().is_some_and(|t| t.starts_with("heading")) {
        for child in &mut content {
            if let Inline::Text { marks, .. } = child {
                marks.bold = true;
            }
        }
    }
    // Every element but a link is a block: it starts on a new line.
    if !out.is_empty() && !content.is_empty() {
        out.push(Inline::Break);
    }
    out.extend(content);
}

/// The text a screen reader should hear.
pub fn plain_text(blocks: &[Block]) -> String {
    fn inline_text(inlines: &[Inline], out: &mut String) {
        for i in inlines {
            match i {
                Inline::Text { text, .. } => out.push_str(text),
                Inline::Link { children, .. } => inline_text(children, out),
                Inline::Break => out.push(' '),
                Inline::Color { children, .. } => inline_text(children, out),
            }
        }
    }
    let mut parts = Vec::new();
    for block in blocks {
        let mut s = String::new();
        match block {
            Block::Paragraph(inlines) | Block::Aligned(_, inlines) => inline_text(inlines, &mut s),
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

#[cfg(all(test, not(target_arch = "wasm32")))]
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
                t(" <img src=x onerror=alert(1)>"),
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
        let nodes: Vec<Json> = serde_json::json!([
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
        ])
        .as_array()
        .unwrap()
        .clone();
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod voiceflow_slate {
    use super::*;
    use serde_json::json;

    fn slate(value: serde_json::Value) -> Vec<Block> {
        from_slate(value.as_array().unwrap())
    }

    fn leaf(text: &str, f: impl FnOnce(&mut Marks)) -> Inline {
        let mut marks = Marks::default();
        f(&mut marks);
        Inline::Text {
            text: text.into(),
            marks,
        }
    }

    /// The marks and elements of base-types' `text/index.ts`, as general-runtime sends them.
    #[test]
    fn base_types_marks_and_elements() {
        let blocks = slate(json!([
            { "children": [
                { "text": "heavy", "fontWeight": "700" },
                { "text": "light", "fontWeight": "300" },
                { "text": "word", "fontWeight": "bold" },
                { "text": "odd", "fontWeight": "7e2" },
                { "text": "all", "fontWeight": "600", "italic": true, "underline": true, "strikeThrough": true },
                { "text": "red", "color": { "r": 201, "g": 42, "b": 42, "a": 0.5 } },
                { "text": "named", "color": "rebeccapurple" },
                { "text": "alpha", "color": { "r": 0, "g": 0, "b": 0, "a": 2 } },
                { "text": "hostile", "color": "red;}body{display:none" },
                { "text": "too big", "color": { "r": 300, "g": 0, "b": 0, "a": 1 } },
                { "text": "ignored", "fontFamily": "Comic Sans MS", "backgroundColor": { "r": 0, "g": 0, "b": 0, "a": 1 } }
            ] },
            { "textAlign": "center", "children": [
                { "text": "Hi " },
                { "type": "variable", "id": "v1", "name": "name", "children": [{ "text": "Dana" }] },
                { "type": "variable", "id": "v2", "name": "order", "children": [{ "text": "" }] },
                { "text": ", see " },
                { "type": "link", "url": "https://x.example/menu", "children": [{ "text": "the menu", "fontWeight": "700" }] }
            ] },
            { "textAlign": "right", "children": [{ "text": "r" }] },
            { "textAlign": "justify", "children": [{ "text": "j" }] },
            { "textAlign": "start", "children": [{ "text": "s" }] }
        ]));
        assert_eq!(
            blocks,
            [
                Block::Paragraph(vec![
                    leaf("heavy", |m| m.bold = true),
                    leaf("light", |_| {}),
                    leaf("word", |m| m.bold = true),
                    leaf("odd", |_| {}),
                    leaf("all", |m| {
                        m.bold = true;
                        m.italic = true;
                        m.underline = true;
                        m.strike = true;
                    }),
                    Inline::Color {
                        color: "rgba(201, 42, 42, 50%)".into(),
                        children: vec![leaf("red", |_| {})]
                    },
                    leaf("named", |_| {}),
                    leaf("alpha", |_| {}),
                    leaf("hostile", |_| {}),
                    leaf("too big", |_| {}),
                    leaf("ignored", |_| {}),
                ]),
                Block::Aligned(
                    Align::Center,
                    vec![
                        leaf("Hi {name}{order}", |_| {}),
                        leaf(", see ", |_| {}),
                        Inline::Link {
                            href: Some("https://x.example/menu".into()),
                            children: vec![leaf("the menu", |m| m.bold = true)]
                        },
                    ]
                ),
                Block::Aligned(Align::Right, vec![leaf("r", |_| {})]),
                Block::Aligned(Align::Justify, vec![leaf("j", |_| {})]),
                Block::Paragraph(vec![leaf("s", |_| {})]),
            ]
        );
        assert_eq!(
            plain_text(&blocks[1..2]),
            "Hi {name}{order}, see the menu",
            "variables are inline: no break"
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod markdown_edge_cases {
    use super::*;

    fn text(blocks: &[Block]) -> String {
        plain_text(blocks)
    }

    #[test]
    fn the_subset_holds_its_shape_on_odd_input() {
        // snake_case, lone delimiters and unclosed spans stay text.
        assert_eq!(
            text(&from_markdown("call my_var_name * 2 **open")),
            "call my_var_name * 2 **open"
        );
        assert_eq!(
            from_markdown("a*b*c"),
            [Block::Paragraph(vec![
                Inline::Text {
                    text: "a".into(),
                    marks: Marks::default()
                },
                Inline::Text {
                    text: "b".into(),
                    marks: Marks {
                        italic: true,
                        ..Marks::default()
                    }
                },
                Inline::Text {
                    text: "c".into(),
                    marks: Marks::default()
                },
            ])]
        );
        // Escapes, nested marks, headings, code fences, hard breaks.
        assert_eq!(text(&from_markdown(r"\*not italic\*")), "*not italic*");
        let nested = from_markdown("**bold *and italic***");
        let Block::Paragraph(inlines) = &nested[0] else {
            panic!()
        };
        assert!(
            inlines
                .iter()
                .any(|i| matches!(i, Inline::Text { marks, .. } if marks.bold && marks.italic))
        );
        assert_eq!(
            from_markdown("# Title\n```\nlet x = 1;\n```"),
            [
                Block::Paragraph(vec![Inline::Text {
                    text: "Title".into(),
                    marks: Marks {
                        bold: true,
                        ..Marks::default()
                    }
                }]),
                Block::Code("let x = 1;".into()),
            ]
        );
        let Block::Paragraph(lines) = &from_markdown("one  \ntwo\nthree")[0] else {
            panic!()
        };
        assert_eq!(lines[1], Inline::Break);
        assert_eq!(text(&from_markdown("one  \ntwo\nthree")), "one two three");
        // Nothing panics on unbalanced or strange input.
        for odd in [
            "[",
            "](",
            "[a](",
            "![",
            "`",
            "``",
            "**",
            "_",
            "~~",
            "\\",
            "1.",
            "#",
            "- ",
            "[a](b(c)",
            "é*é*é",
            "\u{0}*\u{0}*",
        ] {
            let _ = from_markdown(odd);
        }
    }
}
