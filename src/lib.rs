//! Parley's chat widget: a Leptos (CSR) component compiled to WebAssembly and embedded on any
//! site.
//!
//! It speaks the Voiceflow-compatible Dialog API through the wire types of `parley-protocol`, and
//! never depends on the engine or the server crates. Components live one per file under
//! `components/` and stay thin; the widget's logic (transcript, persistence, trace mapping) is
//! plain Rust, tested natively.
//!
//! At this stage the widget is the shell: a launcher that opens and closes the chat panel, with
//! its header and an (empty) transcript live region. The client, the trace rendering and the
//! embed API come with the widget issue.

pub mod components;

pub use components::chat_widget::ChatWidget;
