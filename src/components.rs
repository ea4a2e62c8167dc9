//! The widget's components, one per file.

pub mod chat_widget;
pub mod conversation_panel;
pub mod transcript;
