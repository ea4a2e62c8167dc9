//! The demo page's entry point: mounts the widget on the page. Everything else is in `lib.rs`.

use leptos::prelude::*;
use parley_widget::ChatWidget;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(|| view! { <ChatWidget title="Parley" project="pizza" /> });
}
