//! The widget's browser tests: wasm-bindgen-test in headless Chromium (`cargo xtask test` runs
//! them through wasm-bindgen-test-runner and Debian's chromedriver).
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use parley_widget::ChatWidget;
use parley_widget::components::conversation_panel::ConversationPanel;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts the widget into a fresh container of its own and returns the container.
fn mount_widget(title: &'static str) -> Element {
    let document = document();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let mount_point: HtmlElement = host.clone().unchecked_into();
    // The handle unmounts on drop; the test page lives only as long as the test.
    std::mem::forget(leptos::mount::mount_to(mount_point, move || {
        view! { <ChatWidget title=title /> }
    }));
    host
}

/// Lets Leptos run the updates a DOM event scheduled.
async fn next_tick() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

fn find(root: &Element, selector: &str) -> Option<Element> {
    root.query_selector(selector).unwrap()
}

fn click(root: &Element, selector: &str) {
    find(root, selector)
        .unwrap_or_else(|| panic!("no element matches {selector}"))
        .unchecked_into::<HtmlElement>()
        .click();
}

#[wasm_bindgen_test]
async fn launcher_opens_and_closes_the_panel() {
    let host = mount_widget("Pizza Bot");

    let launcher = find(&host, ".parley-launcher").expect("the launcher is rendered");
    assert_eq!(
        launcher.get_attribute("aria-label").as_deref(),
        Some("Open chat")
    );
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert!(
        find(&host, ".parley-panel").is_none(),
        "the panel starts closed"
    );

    click(&host, ".parley-launcher");
    next_tick().await;

    let panel = find(&host, ".parley-panel").expect("a click on the launcher opens the panel");
    assert_eq!(panel.get_attribute("role").as_deref(), Some("dialog"));
    assert_eq!(
        panel.get_attribute("aria-label").as_deref(),
        Some("Pizza Bot")
    );
    let title = find(&host, ".parley-header__title").unwrap();
    assert_eq!(title.text_content().as_deref(), Some("Pizza Bot"));
    let log = find(&host, ".parley-transcript").unwrap();
    assert_eq!(log.get_attribute("role").as_deref(), Some("log"));
    assert_eq!(log.get_attribute("aria-live").as_deref(), Some("polite"));
    let launcher = find(&host, ".parley-launcher").unwrap();
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert_eq!(
        launcher.get_attribute("aria-label").as_deref(),
        Some("Close chat")
    );

    click(&host, ".parley-header__close");
    next_tick().await;

    assert!(
        find(&host, ".parley-panel").is_none(),
        "the close button closes the panel"
    );
    let launcher = find(&host, ".parley-launcher").unwrap();
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
}

#[wasm_bindgen_test]
async fn the_title_is_text_not_markup() {
    let markup = "<img src=x onerror=alert(1)>";
    let host = mount_widget(markup);
    click(&host, ".parley-launcher");
    next_tick().await;

    let title = find(&host, ".parley-header__title").expect("the panel is open");
    assert_eq!(title.text_content().as_deref(), Some(markup));
    assert!(
        find(&host, "img").is_none(),
        "no element was created from the title"
    );
}

/// Waits (a bounded number of ticks) until `selector` matches.
async fn wait_for(root: &Element, selector: &str) -> Element {
    for _ in 0..200 {
        if let Some(found) = find(root, selector) {
            return found;
        }
        next_tick().await;
    }
    panic!("nothing matched {selector} in time");
}

/// The test page's server has no Dialog API: every send fails, which is what this checks.
#[wasm_bindgen_test]
async fn a_failed_send_shows_a_banner_and_keeps_the_message_for_a_retry() {
    let document = document();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    std::mem::forget(leptos::mount::mount_to(
        host.clone().unchecked_into(),
        || view! { <ConversationPanel /> },
    ));

    // Mounting starts the conversation; its launch fails.
    let banner = wait_for(&host, ".parley-banner").await;
    assert_eq!(banner.get_attribute("role").as_deref(), Some("alert"));
    assert!(
        banner.text_content().unwrap().contains("refused"),
        "{:?}",
        banner.text_content()
    );

    let input: web_sys::HtmlInputElement = find(&host, ".parley-composer__input")
        .unwrap()
        .unchecked_into();
    input.set_value("a large pizza");
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    next_tick().await;
    click(&host, ".parley-composer__send");

    let failed = wait_for(&host, ".parley-bubble--failed").await;
    assert!(
        failed.text_content().unwrap().contains("a large pizza"),
        "the text is kept"
    );
    assert!(
        find(&failed, ".parley-bubble__retry").is_some(),
        "with a retry button"
    );
    assert_eq!(
        input.value(),
        "",
        "the composer is cleared: the message lives in the transcript"
    );
}

/// Mounts a conversation panel saving under `key` in `localStorage`; the handle unmounts it.
fn mount_saved_panel(key: &str) -> (Element, leptos::mount::UnmountHandle<impl Mountable>) {
    let document = document();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    let persistence = parley_widget::persistence::Persistence::local(key.to_owned());
    let handle = leptos::mount::mount_to(host.clone().unchecked_into(), move || {
        view! { <ConversationPanel persistence=persistence.clone() /> }
    });
    (host, handle)
}

fn local_storage() -> web_sys::Storage {
    window().local_storage().unwrap().unwrap()
}

/// A conversation is saved as it goes, and a new mount (a reload) shows it as it was, without
/// starting a new one: the failed message is still there, failed, with its retry.
#[wasm_bindgen_test]
async fn the_conversation_survives_a_remount() {
    let key = "parley:test:remount";
    local_storage().remove_item(key).unwrap();
    let (host, handle) = mount_saved_panel(key);
    wait_for(&host, ".parley-banner").await;
    let input: web_sys::HtmlInputElement = find(&host, ".parley-composer__input")
        .unwrap()
        .unchecked_into();
    input.set_value("a large veggie pizza");
    input
        .dispatch_event(&web_sys::Event::new("input").unwrap())
        .unwrap();
    next_tick().await;
    click(&host, ".parley-composer__send");
    wait_for(&host, ".parley-bubble--failed").await;
    next_tick().await;
    let saved = local_storage().get_item(key).unwrap().expect("saved");
    assert!(saved.contains("a large veggie pizza"), "{saved}");
    drop(handle);
    host.remove();

    let (again, _handle) = mount_saved_panel(key);
    let failed = wait_for(&again, ".parley-bubble--failed").await;
    assert!(
        failed
            .text_content()
            .unwrap()
            .contains("a large veggie pizza")
    );
    // Restored, not started over: no launch was sent, so no failure banner.
    next_tick().await;
    assert!(find(&again, ".parley-banner").is_none(), "nothing was sent");
    local_storage().remove_item(key).unwrap();
}

/// Garbage, an old schema or another conversation's data under the key: discarded with a
/// warning, and a new conversation starts; nothing breaks.
#[wasm_bindgen_test]
async fn corrupt_saved_data_is_discarded() {
    for (i, garbage) in [
        "{not json",
        r#"{"schema":1,"key":"x"}"#,
        r#"{"schema":2,"key":"parley:someone-else","savedAt":0,"entries":[]}"#,
        r#"{"schema":2,"key":"parley:test:corrupt-3","savedAt":1e20,"entries":[]}"#,
        r#"{"schema":2,"key":"parley:test:corrupt-4","savedAt":0,"entries":[{"bot":{"type":"text","payload":{"message":5}}}]}"#,
    ]
    .into_iter()
    .enumerate()
    {
        let key = format!("parley:test:corrupt-{i}");
        local_storage().set_item(&key, garbage).unwrap();
        let (host, _handle) = mount_saved_panel(&key);
        // The new conversation's launch is sent (and fails on this server).
        wait_for(&host, ".parley-banner").await;
        assert!(find(&host, ".parley-composer__input").is_some());
        let now = local_storage().get_item(&key).unwrap().unwrap_or_default();
        assert_ne!(now, garbage, "case {i}: the garbage is gone");
        local_storage().remove_item(&key).unwrap();
        host.remove();
    }
}
