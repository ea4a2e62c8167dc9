//! The widget's components, one per file.

pub mod bubble;
pub mod chat_widget;
pub mod conversation_panel;
pub mod rich_text;
