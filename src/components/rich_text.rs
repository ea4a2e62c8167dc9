use leptos::prelude::*;

use crate::rich_text::{Block, Inline};

/// Renders rich text as DOM nodes (text nodes, `strong`, `em`, lists, links with safe URLs):
/// never as HTML.
#[component]
pub fn RichText(
    /// The blocks to render.
    blocks: Vec<Block>,
) -> impl IntoView {
    blocks.iter().map(block_view).collect_view()
}

fn block_view(block: &Block) -> AnyView {
    match block {
        Block::Paragraph(inlines) => {
            view! { <p class="parley-rich__p">{inlines_view(inlines)}</p> }.into_any()
        }
        Block::List { ordered, items } => {
            let items = items
                .iter()
                .map(|i| view! { <li>{inlines_view(i)}</li> })
                .collect_view();
            if *ordered {
                view! { <ol class="parley-rich__list">{items}</ol> }.into_any()
            } else {
                view! { <ul class="parley-rich__list">{items}</ul> }.into_any()
            }
        }
        Block::Code(code) => {
            view! { <pre class="parley-rich__code"><code>{code.clone()}</code></pre> }.into_any()
        }
    }
}

fn inlines_view(inlines: &[Inline]) -> AnyView {
    inlines.iter().map(inline_view).collect_view().into_any()
}

fn inline_view(inline: &Inline) -> AnyView {
    match inline {
        Inline::Text { text, marks } => {
            let mut node = text.clone().into_any();
            if marks.code {
                node = view! { <code>{node}</code> }.into_any();
            }
            if marks.strike {
                node = view! { <s>{node}</s> }.into_any();
            }
            if marks.underline {
                node = view! { <u>{node}</u> }.into_any();
            }
            if marks.italic {
                node = view! { <em>{node}</em> }.into_any();
            }
            if marks.bold {
                node = view! { <strong>{node}</strong> }.into_any();
            }
            node
        }
        Inline::Link { href: Some(href), children } => view! {
            <a class="parley-rich__link" href=href.clone() target="_blank" rel="noopener noreferrer nofollow">
                {inlines_view(children)}
            </a>
        }
        .into_any(),
        Inline::Link { href: None, children } => inlines_view(children),
        Inline::Break => view! { <br /> }.into_any(),
    }
}
