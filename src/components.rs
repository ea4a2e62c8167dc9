//! The widget's components, one per file.

pub mod chat_widget;
