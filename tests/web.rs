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

/// What a bubble says: its text without its timestamp (`time.parley-time`).
fn words(bubble: &Element) -> Option<String> {
    let copy: Element = bubble.clone_node_with_deep(true).unwrap().unchecked_into();
    let times = copy.query_selector_all("time").unwrap();
    for i in 0..times.length() {
        let time: Element = times.get(i).unwrap().unchecked_into();
        time.remove();
    }
    copy.text_content()
}

fn click(root: &Element, selector: &str) {
    find(root, selector)
        .unwrap_or_else(|| panic!("no element matches {selector}"))
        .unchecked_into::<HtmlElement>()
        .click();
}

/// The transcript's times are written by hand (`Locale::clock`, Intl's first use being slow):
/// as the browser's own Intl writes them, at every hour of a day.
#[wasm_bindgen_test]
fn the_clock_matches_intl() {
    use parley_widget::i18n::Locale;
    let options = js_sys::Object::new();
    js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into()).unwrap();
    for locale in [Locale::En, Locale::De, Locale::Ar] {
        for hours in 0..24 {
            for minutes in [0, 7, 30, 59] {
                let date = js_sys::Date::new_with_year_month_day_hr_min(2026, 0, 1, hours, minutes);
                let intl =
                    String::from(date.to_locale_time_string_with_options(locale.tag(), &options));
                assert_eq!(
                    locale.clock(hours as u32, minutes as u32),
                    intl,
                    "{locale:?} {hours}:{minutes}"
                );
            }
        }
    }
}

#[wasm_bindgen_test]
async fn launcher_opens_and_closes_the_panel() {
    fake_runtime(404, "not here");
    let host = mount_widget("Pizza Bot");

    // The launcher is drawn by hand once the widget is mounted.
    let launcher = wait_for(&host, ".parley-launcher").await;
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
    let log = find(&host, ".parley-transcript [role=log]").unwrap();
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

    // Focus moves into the panel, to the composer.
    let input = wait_for(&host, ".parley-composer__input").await;
    let mut focused = false;
    for _ in 0..50 {
        next_tick().await;
        if document().active_element().as_ref() == Some(&input) {
            focused = true;
            break;
        }
    }
    assert!(
        focused,
        "the composer has the focus once the panel opens (focus on {:?}, input rendered: {})",
        document()
            .active_element()
            .map(|e| e.outer_html().chars().take(80).collect::<String>()),
        input
            .unchecked_ref::<HtmlElement>()
            .offset_parent()
            .is_some()
    );

    click(&host, ".parley-header__close");
    next_tick().await;

    let panel = find(&host, ".parley-panel").unwrap();
    assert!(
        panel.has_attribute("hidden"),
        "the close button hides the panel (the conversation stays)"
    );
    let launcher = find(&host, ".parley-launcher").unwrap();
    assert_eq!(
        launcher.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert_eq!(
        document().active_element().as_ref(),
        Some(&launcher),
        "focus goes back to the launcher"
    );
}

#[wasm_bindgen_test]
async fn the_title_is_text_not_markup() {
    let markup = "<img src=x onerror=alert(1)>";
    let host = mount_widget(markup);
    wait_for(&host, ".parley-launcher").await;
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
    // Up to ~10 s: a turn is revealed line by line (600 ms a line by default).
    for _ in 0..2500 {
        if let Some(found) = find(root, selector) {
            return found;
        }
        next_tick().await;
    }
    panic!("nothing matched {selector} in time");
}

/// A server failing for now (503): every send fails, which is what this checks; the visitor
/// reads a plain sentence, not the status and code (those go to the console and
/// `parley:error`).
#[wasm_bindgen_test]
async fn a_failed_send_shows_a_banner_and_keeps_the_message_for_a_retry() {
    fake_runtime(
        503,
        r#"{ "code": "overloaded", "message": "the turn pool is full" }"#,
    );
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
    assert_eq!(
        banner.text_content().as_deref(),
        Some("Something went wrong."),
        "a plain sentence, no status or code"
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

    // The server is back: the retry sends the message, which is then marked sent.
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [{ "type": "text", "payload": { "message": "Got it", "delay": 0 } }] }"#,
    );
    click(&host, ".parley-bubble__retry");
    let answer = wait_for(&host, ".parley-bubble--bot").await;
    assert_eq!(words(&answer).as_deref(), Some("Got it"));
    assert!(find(&host, ".parley-bubble--failed").is_none());
    assert!(
        find(&host, ".parley-bubble--user")
            .unwrap()
            .text_content()
            .unwrap()
            .contains("a large pizza")
    );
}

/// A state the server refuses for good (409 `state_forged`): no retry that could never work,
/// but the way to a new chat, which starts afresh.
#[wasm_bindgen_test]
async fn a_conversation_that_cannot_go_on_offers_a_new_chat() {
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [{ "type": "text", "payload": { "message": "Hi", "delay": 0 } }] }"#,
    );
    let host = mount_panel();
    wait_for(&host, ".parley-bubble--bot").await;
    fake_runtime(
        409,
        r#"{ "code": "state_forged", "message": "the state's signature does not match" }"#,
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
    let ended = wait_for(&host, ".parley-ended:not([hidden])").await;
    assert_eq!(
        ended
            .query_selector("p")
            .unwrap()
            .unwrap()
            .text_content()
            .as_deref(),
        Some("This conversation can't continue.")
    );
    assert!(!host.text_content().unwrap().contains("state_forged"));
    assert!(find(&host, ".parley-bubble__retry").is_none(), "no retry");
    assert!(find(&host, ".parley-composer:not([hidden])").is_none());
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [{ "type": "text", "payload": { "message": "Fresh start", "delay": 0 } }] }"#,
    );
    click(&host, ".parley-ended button");
    wait_for(&host, ".parley-composer:not([hidden])").await;
    for _ in 0..100 {
        if host.text_content().unwrap().contains("Fresh start") {
            break;
        }
        next_tick().await;
    }
    assert_eq!(
        host.query_selector_all(".parley-bubble").unwrap().length(),
        1,
        "a new conversation: {}",
        host.inner_html()
    );
    host.remove();
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
    // A server failing for now (a 404 would say the project is gone: no retry then).
    fake_runtime(503, "down for now");
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
        fake_runtime(503, "down for now");
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

/// Replaces `window.fetch` with a fixture runtime: every call answers `body` with `status`.
/// (The end-to-end suite talks to the real server; these tests check the DOM of each trace.)
fn fake_runtime(status: u16, body: &str) {
    let fetch = js_sys::Function::new_with_args(
        "status, body",
        "window.fetch = () => Promise.resolve(new Response(body, { status, headers: { 'content-type': 'application/json' } }));",
    );
    fetch
        .call2(&wasm_bindgen::JsValue::NULL, &status.into(), &body.into())
        .unwrap();
}

fn mount_panel() -> Element {
    let document = document();
    let host = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&host).unwrap();
    std::mem::forget(leptos::mount::mount_to(
        host.clone().unchecked_into(),
        || view! { <ConversationPanel /> },
    ));
    host
}

/// Every trace type a turn can hold, as DOM: safe links and images only, cards, a carousel,
/// quick replies, SSML stripped, unknown types skipped, the end offering a new chat.
#[wasm_bindgen_test]
async fn every_trace_type_renders() {
    fake_runtime(
        200,
        r#"{ "state": { "stack": [], "storage": {}, "variables": {} }, "trace": [
          { "type": "text", "payload": { "message": "Hi **there** [site](https://x.example) [bad](javascript:alert(1)) <script>alert(1)</script>", "delay": 0 } },
          { "type": "text", "payload": { "slate": { "content": [{ "children": [{ "text": "rich", "italic": true }] }] }, "delay": 0 } },
          { "type": "speak", "payload": { "message": "<speak>Open <break/>daily</speak>" } },
          { "type": "visual", "payload": { "visualType": "image", "image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mOwjr4NAAJGAXIE1Xa3AAAAAElFTkSuQmCC", "dimensions": { "width": 320, "height": 200 } } },
          { "type": "visual", "payload": { "image": "javascript:alert(1)" } },
          { "type": "cardV2", "payload": { "title": "Your order", "description": { "text": "2 × large" }, "imageUrl": "https://x.example/c.png",
            "buttons": [{ "name": "Confirm", "request": { "type": "path-confirm" } }] } },
          { "type": "carousel", "payload": { "cards": [
            { "title": "Margherita", "description": { "text": "Tomato" }, "buttons": [{ "name": "Pick", "request": { "type": "path-m" } }] },
            { "title": "Veggie", "description": { "text": "Peppers" } } ] } },
          { "type": "brandNewThing", "payload": { "x": 1 } },
          { "type": "choice", "payload": { "buttons": [{ "name": "Order", "request": { "type": "path-order" } }] } },
          { "type": "end" }
        ] }"#,
    );
    let host = mount_panel();
    wait_for(&host, ".parley-ended:not([hidden])").await;
    let log = find(&host, "[role=log]").unwrap();
    let bubbles = log.query_selector_all(":scope > *").unwrap();
    assert_eq!(bubbles.length(), 6, "{}", log.inner_html());
    let first = find(&log, ".parley-bubble--bot").unwrap();
    assert_eq!(
        find(&first, "strong").unwrap().text_content().as_deref(),
        Some("there")
    );
    let links = first.query_selector_all("a").unwrap();
    assert_eq!(links.length(), 1, "the javascript: link is text only");
    let link: Element = links.get(0).unwrap().unchecked_into();
    assert_eq!(
        link.get_attribute("href").as_deref(),
        Some("https://x.example")
    );
    assert_eq!(
        link.get_attribute("rel").as_deref(),
        Some("noopener noreferrer nofollow")
    );
    assert!(
        find(&host, "script").is_none(),
        "markup in a message stays text"
    );
    assert!(first.text_content().unwrap().contains("<script>"));
    assert!(find(&log, "em").is_some(), "slate marks");
    assert!(
        log.text_content().unwrap().contains("Open daily"),
        "SSML stripped"
    );
    let images = log.query_selector_all("img.parley-bubble__image").unwrap();
    assert_eq!(images.length(), 1, "the unsafe image is skipped");
    let image: Element = images.get(0).unwrap().unchecked_into();
    assert_eq!(image.get_attribute("width").as_deref(), Some("320"));
    assert_eq!(image.get_attribute("loading").as_deref(), Some("lazy"));
    let card = find(&log, ".parley-bubble--card .parley-card").unwrap();
    assert_eq!(
        find(&card, ".parley-card__title")
            .unwrap()
            .text_content()
            .as_deref(),
        Some("Your order")
    );
    assert!(find(&card, "button[data-button]").is_some());
    let carousel = find(&log, ".parley-carousel").unwrap();
    assert_eq!(carousel.get_attribute("role").as_deref(), Some("group"));
    assert_eq!(carousel.get_attribute("tabindex").as_deref(), Some("0"));
    assert_eq!(
        carousel
            .query_selector_all(".parley-card")
            .unwrap()
            .length(),
        2
    );
    let choice = find(&host, ".parley-choices button").unwrap();
    assert_eq!(choice.text_content().as_deref(), Some("Order"));
    assert!(
        find(&host, ".parley-composer:not([hidden])").is_none(),
        "the end closes the input"
    );
}

/// A click on a card button sends its request and shows its label as the user's message.
#[wasm_bindgen_test]
async fn a_card_button_sends_its_request() {
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [
          { "type": "cardV2", "payload": { "title": "Pizza", "buttons": [{ "name": "Buy it", "request": { "type": "path-buy", "payload": { "label": "Buy it" } } }] } }
        ] }"#,
    );
    let host = mount_panel();
    wait_for(&host, "button[data-button]").await;
    // The bodies the widget posts, from now on.
    js_sys::Function::new_no_args(
        "window.__sent = []; const f = window.fetch; window.fetch = (r) => r.clone().text().then(t => { window.__sent.push(t); return f(r); });",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    click(&host, "button[data-button]");
    let echo = wait_for(&host, ".parley-bubble--user").await;
    assert_eq!(words(&echo).as_deref(), Some("Buy it"));
    for _ in 0..100 {
        next_tick().await;
    }
    let sent = js_sys::eval("JSON.stringify(window.__sent)")
        .unwrap()
        .as_string()
        .unwrap();
    assert!(sent.contains(r#"\"type\":\"path-buy\""#), "{sent}");
}

/// The embed API: a bad option is one console error and mounts nothing; a good `load` mounts
/// the widget in a Shadow DOM root; `open`, `hide`, `destroy` drive it.
#[wasm_bindgen_test]
async fn the_embed_api_loads_into_a_shadow_root() {
    parley_widget::embed::install();
    let load = |options: &str| {
        js_sys::eval(&format!("window.parley.chat.load({options})")).unwrap();
    };
    load("{ assistant: { title: 'No project' } }");
    assert!(
        document().query_selector(".parley-host").unwrap().is_none(),
        "nothing mounted"
    );
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [{ "type": "text", "payload": { "message": "Hello!", "delay": 0 } }] }"#,
    );
    load(
        "{ verify: { projectID: 'embed-test' }, persistence: 'memory', assistant: { title: 'Embedded', color: '#d9480f' } }",
    );
    let host = document()
        .query_selector(".parley-host")
        .unwrap()
        .expect("a host element");
    assert!(host.has_attribute("data-parley"));
    let shadow = host.shadow_root().expect("an open shadow root");
    let root: Element = shadow
        .query_selector(".parley")
        .unwrap()
        .expect("the widget inside");
    wait_for(&root, ".parley-launcher").await;
    assert!(
        document()
            .query_selector(".parley-host .parley")
            .unwrap()
            .is_none(),
        "the widget is not in the page's own DOM"
    );
    js_sys::eval(
        "window.__events = []; for (const n of ['parley:open', 'parley:trace', 'parley:action']) \
         window.addEventListener(n, e => window.__events.push(n + ' ' + JSON.stringify(e.detail ?? null)));",
    )
    .unwrap();
    js_sys::eval("window.parley.chat.open()").unwrap();
    let said = wait_for(&root, ".parley-bubble--bot").await;
    assert_eq!(words(&said).as_deref(), Some("Hello!"));
    // A custom action reaches the page; the page's answer resumes the flow.
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [{ "type": "pay", "payload": { "amount": 12 }, "paths": [{ "event": { "type": "success" } }, { "event": { "type": "failure" } }] }] }"#,
    );
    js_sys::eval(
        "window.parley.chat.interact({ type: 'event', payload: { event: { name: 'checkout' } } })",
    )
    .unwrap();
    for _ in 0..100 {
        next_tick().await;
    }
    let events = js_sys::eval("window.__events.join('\\n')")
        .unwrap()
        .as_string()
        .unwrap();
    assert!(events.contains("parley:open"), "{events}");
    assert!(
        events.contains(r#"parley:action {"type":"pay","paths":["success","failure"]"#),
        "{events}"
    );
    js_sys::eval("window.parley.chat.hide()").unwrap();
    next_tick().await;
    assert!(root.has_attribute("hidden"));
    js_sys::eval("window.parley.chat.destroy()").unwrap();
    assert!(document().query_selector(".parley-host").unwrap().is_none());
}

/// A turn that asks for a reply within its timeout: silence sends `no-reply`, once.
#[wasm_bindgen_test]
async fn silence_sends_no_reply() {
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [
          { "type": "text", "payload": { "message": "Still there?", "delay": 0 } },
          { "type": "no-reply", "payload": { "timeout": 0.3 } }
        ] }"#,
    );
    js_sys::Function::new_no_args(
        "window.__sent = []; const f = window.fetch; window.fetch = (r) => r.clone().text().then(t => { window.__sent.push(t); return f(r); });",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    let host = mount_panel();
    wait_for(&host, ".parley-bubble--bot").await;
    // Each answer asks again: after two timeouts there are three requests, the last two
    // `no-reply`, and not more than one per timeout (at least a second: 0.3 is raised to 1).
    let mut sent = String::new();
    for _ in 0..2500 {
        next_tick().await;
        sent = js_sys::eval("JSON.stringify(window.__sent)")
            .unwrap()
            .as_string()
            .unwrap();
        if sent.matches("no-reply").count() >= 2 {
            break;
        }
    }
    assert!(sent.contains(r#"\"type\":\"launch\""#), "{sent}");
    assert!(sent.matches("no-reply").count() >= 2, "{sent}");
    let requests = js_sys::eval("window.__sent.length")
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(requests <= 4.0, "one no-reply per timeout: {sent}");
}

/// A turn in Voiceflow's shapes: slate marks (`fontWeight`, `color` through the CSSOM,
/// `textAlign` as a class), the host page's extensions (an effect runs, a response draws into
/// the element it is given, one that throws is a console error and the rest goes on), and the
/// user's picture by their message.
#[wasm_bindgen_test]
async fn voiceflow_slate_extensions_and_the_users_picture() {
    use parley_widget::host::{self, Host};
    // What the console says (the broken extension's throw), kept for the check below.
    let list = js_sys::Function::new_no_args(
        "window.__errors = []; window.__console_error = console.error;
        console.error = (...a) => { window.__errors.push(a.map(String).join(' ')); window.__console_error(...a); };
        window.__effects = []; return [
          { name: 'tracker', type: 'effect', match: ({ trace }) => trace.type === 'calendar',
            effect: ({ trace }) => { window.__effects.push(trace.payload.day); } },
          { name: 'map', type: 'response', match: ({ trace }) => trace.type === 'map',
            render: ({ trace, element }) => { element.textContent = 'map of ' + trace.payload.city; } },
          { name: 'broken', type: 'response', match: ({ trace }) => trace.type === 'broken',
            render: () => { throw new Error('boom'); } },
          { name: 'greedy', type: 'response', match: () => true, render: ({ element }) => { element.textContent = 'GREEDY'; } }
        ];",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    let pixel = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mOwjr4NAAJGAXIE1Xa3AAAAAElFTkSuQmCC";
    host::set(Host {
        user_name: Some("Dana".into()),
        user_image: Some(pixel.into()),
        extensions: host::read_extensions(&list).unwrap(),
        launch: None,
    });
    fake_runtime(
        200,
        r#"{ "state": { "stack": [] }, "trace": [
          { "time": 1, "type": "text", "payload": { "slate": { "id": "a1", "content": [
              { "children": [{ "text": "Bold", "fontWeight": "700" }, { "text": " red", "color": { "r": 201, "g": 42, "b": 42, "a": 1 } }] },
              { "textAlign": "center", "children": [{ "text": "centred" }] }
            ], "messageDelayMilliseconds": 0 }, "message": "Bold red\ncentred", "delay": 0 } },
          { "time": 2, "type": "calendar", "payload": { "day": "monday" }, "paths": [{ "event": { "type": "done" } }], "defaultPath": 0 },
          { "time": 3, "type": "map", "payload": { "city": "Lyon" } },
          { "time": 4, "type": "broken", "payload": {} },
          { "time": 5, "type": "choice", "payload": { "buttons": [{ "name": "Go on", "request": { "type": "go-on" } }] } }
        ] }"#,
    );
    let root = mount_panel();
    wait_for(&root, ".parley-choices button").await;
    let log = find(&root, "[role=log]").unwrap();
    assert_eq!(
        find(&log, "strong").unwrap().text_content().as_deref(),
        Some("Bold")
    );
    let red: HtmlElement = find(&log, "span").unwrap().unchecked_into();
    assert_eq!(
        red.style().get_property_value("color").unwrap(),
        "rgb(201, 42, 42)"
    );
    assert!(
        red.get_attribute("style").is_some(),
        "set through the CSSOM"
    );
    assert_eq!(
        find(&log, ".parley-rich__p--center")
            .unwrap()
            .text_content()
            .as_deref(),
        Some("centred")
    );
    let effects = js_sys::Reflect::get(&window(), &"__effects".into()).unwrap();
    assert_eq!(js_sys::JSON::stringify(&effects).unwrap(), r#"["monday"]"#);
    let drawn = log
        .query_selector_all(".parley-bubble--extension > span")
        .unwrap();
    assert_eq!(drawn.length(), 2, "{}", log.inner_html());
    let first: Element = drawn.get(0).unwrap().unchecked_into();
    assert_eq!(first.text_content().as_deref(), Some("map of Lyon"));
    assert!(
        !log.text_content().unwrap().contains("GREEDY"),
        "the first match wins, and text is the widget's own"
    );
    let errors = js_sys::Function::new_no_args(
        "console.error = window.__console_error; return JSON.stringify(window.__errors);",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap()
    .as_string()
    .unwrap();
    assert!(
        errors.contains("parley: the extension 'broken' threw:") && errors.contains("boom"),
        "the throw is a console error naming the extension: {errors}"
    );
    click(&root, ".parley-choices button");
    let said = wait_for(&log, ".parley-bubble--user").await;
    let avatar = find(&said, "img.parley-bubble__avatar").expect("the user's picture");
    assert_eq!(avatar.get_attribute("src").as_deref(), Some(pixel));
    assert_eq!(avatar.get_attribute("alt").as_deref(), Some("Dana"));
    host::set(Host::default());
    root.remove();
}

/// One click and one submit listener serve the whole panel: an extension's form in the log
/// submits to the extension (not as the composer's draft), and its buttons, whatever their
/// attributes, are neither quick replies nor the new-chat button.
#[wasm_bindgen_test]
async fn an_extensions_form_and_buttons_stay_the_extensions() {
    use parley_widget::host::{self, Host};
    let list = js_sys::Function::new_no_args(
        "window.__submits = 0; window.__calls = 0; return [
          { name: 'form', type: 'response', match: ({ trace }) => trace.type === 'form',
            render: ({ element }) => {
              element.innerHTML = '<form><input name=\"email\"><button data-new data-choice=\"0\" data-button=\"0\" data-retry>Pick</button></form>';
              element.querySelector('form').addEventListener('submit', (e) => { e.preventDefault(); window.__submits += 1; });
            } }
        ];",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    host::set(Host {
        extensions: host::read_extensions(&list).unwrap(),
        ..Host::default()
    });
    js_sys::Function::new_no_args(
        r#"window.fetch = () => { window.__calls += 1; return Promise.resolve(new Response(JSON.stringify({ state: { stack: [] }, trace: [
          { type: 'form', payload: {} },
          { type: 'choice', payload: { buttons: [{ name: 'Go on', request: { type: 'go-on' } }] } }
        ] }), { status: 200, headers: { 'content-type': 'application/json' } })); };"#,
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    let root = mount_panel();
    wait_for(&root, ".parley-choices button").await;
    let input: web_sys::HtmlInputElement = find(&root, ".parley-composer__input")
        .unwrap()
        .unchecked_into();
    input.set_value("my draft");
    click(&root, ".parley-bubble--extension button");
    next_tick().await;
    next_tick().await;
    let get = |name: &str| {
        js_sys::Reflect::get(&window(), &name.into())
            .unwrap()
            .as_f64()
    };
    assert_eq!(
        get("__submits"),
        Some(1.0),
        "the extension heard its submit"
    );
    assert_eq!(get("__calls"), Some(1.0), "nothing sent but the launch");
    assert_eq!(input.value(), "my draft", "the draft stays");
    assert!(
        find(&root, ".parley-bubble--user").is_none(),
        "{}",
        root.inner_html()
    );
    assert!(
        find(&root, ".parley-bubble--extension").is_some(),
        "no new chat"
    );
    host::set(Host::default());
    root.remove();
}

/// `assistant.extensions` in another shape is refused, naming the option.
#[wasm_bindgen_test]
fn a_bad_extension_is_named() {
    let bad = js_sys::Function::new_no_args(
        "return [[{ name: 'x', type: 'popup', match: () => true }], [{ type: 'effect', match: () => true }], [{ name: 'x', type: 'effect', match: 'yes' }], 'nope'];",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    for case in js_sys::Array::from(&bad).iter() {
        let error = parley_widget::host::read_extensions(&case).unwrap_err();
        assert_eq!(error.option, "assistant.extensions");
    }
    assert!(
        parley_widget::host::read_extensions(&wasm_bindgen::JsValue::UNDEFINED)
            .unwrap()
            .is_empty()
    );
}

/// `load` with Voiceflow's snippet options: the page's stylesheet is a <link> in the Shadow DOM
/// root, and `allowDangerousHTML: true` is refused with a console warning.
#[wasm_bindgen_test]
async fn load_adopts_the_pages_stylesheet_and_refuses_raw_html() {
    fake_runtime(404, "not here");
    parley_widget::embed::install();
    let warnings = js_sys::Function::new_no_args(
        "window.__warnings = []; const warn = console.warn; console.warn = (m) => { window.__warnings.push(String(m)); warn(m); };
         window.parley.chat.load({ verify: { projectID: 'vf' }, persistence: 'memory', allowDangerousHTML: true,
           assistant: { stylesheet: ['https://x.example/theme.css'] } });
         console.warn = warn; return window.__warnings;",
    )
    .call0(&wasm_bindgen::JsValue::NULL)
    .unwrap();
    let warnings: Vec<String> = js_sys::Array::from(&warnings)
        .iter()
        .filter_map(|w| w.as_string())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("allowDangerousHTML") && w.contains("never renders raw HTML")),
        "{warnings:?}"
    );
    let host = document().query_selector(".parley-host").unwrap().unwrap();
    let shadow = host.shadow_root().unwrap();
    let link = shadow
        .query_selector("link[rel=stylesheet]")
        .unwrap()
        .unwrap();
    assert_eq!(
        link.get_attribute("href").as_deref(),
        Some("https://x.example/theme.css")
    );
    js_sys::Function::new_no_args("window.parley.chat.destroy()")
        .call0(&wasm_bindgen::JsValue::NULL)
        .unwrap();
    assert!(document().query_selector(".parley-host").unwrap().is_none());
}

/// Proactive messages (drawn by hand): by the launcher, before it, while the chat is closed; a
/// click on one opens the chat and they go; `clear` removes them.
#[wasm_bindgen_test]
async fn proactive_messages_show_by_the_launcher_and_open_the_chat() {
    fake_runtime(404, "not here");
    parley_widget::embed::install();
    let run = |code: &str| {
        js_sys::Function::new_no_args(code)
            .call0(&wasm_bindgen::JsValue::NULL)
            .unwrap()
    };
    // An extension that counts its `match` calls: the proactive traces are read once per push.
    run("window.__matches = 0;
         window.parley.chat.load({ verify: { projectID: 'proactive' }, persistence: 'memory',
           assistant: { extensions: [{ name: 'count', type: 'effect', match: () => { window.__matches += 1; return false; } }] } });
         window.parley.chat.proactive.push({ type: 'text', payload: { message: 'Hungry?' } },
           { type: 'text', payload: { message: 'Pizza **today**' } }, { type: 'choice', payload: { buttons: [] } },
           { type: 'promo', payload: {} });");
    let matches = || {
        js_sys::Reflect::get(&window(), &"__matches".into())
            .unwrap()
            .as_f64()
    };
    next_tick().await;
    let shadow = document()
        .query_selector(".parley-host")
        .unwrap()
        .unwrap()
        .shadow_root()
        .unwrap();
    let root = shadow.query_selector(".parley").unwrap().unwrap();
    let proactive = wait_for(&root, ".parley-proactive").await;
    assert_eq!(proactive.get_attribute("role").as_deref(), Some("status"));
    let messages = proactive
        .query_selector_all(".parley-proactive__message")
        .unwrap();
    assert_eq!(messages.length(), 2);
    assert_eq!(
        proactive.text_content().as_deref(),
        Some("Hungry?Pizza today")
    );
    assert!(
        proactive
            .next_element_sibling()
            .is_some_and(|n| n.class_name() == "parley-launcher"),
        "before the launcher"
    );
    click(&root, ".parley-proactive__message");
    wait_for(&root, ".parley-panel").await;
    next_tick().await;
    assert!(
        find(&root, ".parley-proactive").is_none(),
        "gone while open"
    );
    run("window.parley.chat.close()");
    wait_for(&root, ".parley-proactive").await;
    assert_eq!(
        matches(),
        Some(1.0),
        "the fourth trace (any number of them) was read once, not at each open and close"
    );
    run("window.parley.chat.proactive.clear()");
    next_tick().await;
    assert!(find(&root, ".parley-proactive").is_none(), "cleared");
    run("window.parley.chat.destroy()");
}
