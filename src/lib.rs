//! Parley's chat widget: a Leptos (CSR) component compiled to WebAssembly and embedded on any
//! site.
//!
//! It speaks the Voiceflow-compatible Dialog API through the wire types of `parley-protocol`, and
//! never depends on the engine or the server crates. Components live one per file under
//! `components/` and stay thin; the widget's logic (transcript, persistence, trace mapping) is
//! plain Rust, tested natively.
//!
//! At this stage the widget shows the shell (a launcher that opens and closes the chat panel,
//! with its header and an empty transcript live region), and holds the logic the rendering will
//! use: `safety` (URL allow-lists), `rich_text` (markdown and slate to a safe tree) and
//! `turn_view` (a turn's traces to bubbles, quick replies, no-reply, end, custom actions). The
//! client, the components that render turns and the embed API come with the widget issue.

pub mod client;
pub mod components;
pub mod controller;
pub mod conversation;
#[cfg(target_arch = "wasm32")]
pub mod embed;
pub mod events;
pub mod host;
pub mod i18n;
pub mod json;
pub mod options;
pub mod persistence;
pub mod rich_text;
pub mod safety;
pub mod turn_view;

pub use components::chat_widget::ChatWidget;

/// `s[range]` without indexing's panic path, whose message formatter (with its Unicode
/// tables) weighed 1.4 KB gzip of the bundle's budget. The ranges given are at character
/// boundaries (found by `find`, `len_utf8`, ASCII bytes); one that is not reads as empty.
pub(crate) fn part<I: std::slice::SliceIndex<str, Output = str>>(s: &str, range: I) -> &str {
    s.get(range).unwrap_or_default()
}
