//! DOM events for the host page, dispatched from inside the widget: they bubble and cross the
//! Shadow DOM boundary (`composed`), so a page listens on `window` or `document`.
//!
//! - `parley:open`, `parley:close`: the chat opened or closed;
//! - `parley:action`: a custom action; `detail` is `{ type, paths, trace }`, and the flow
//!   waits until the page answers with `parley.chat.interact({ type: <one of paths> })`;
//! - `parley:error`: a request failed; `detail` is `{ message }`;
//! - `parley:message`: the user sent a message (typed, or a button's label); `detail` is
//!   `{ text }`;
//! - `parley:trace`: a trace arrived from the runtime; `detail` is the trace.
//!
//! Natively (the logic's tests) there is no DOM: these do nothing.

use crate::turn_view::Action;

#[cfg(target_arch = "wasm32")]
fn emit(from: Option<&web_sys::HtmlElement>, name: &str, detail: wasm_bindgen::JsValue) {
    let init = web_sys::CustomEventInit::new();
    init.set_bubbles(true);
    init.set_composed(true);
    init.set_detail(&detail);
    let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(name, &init) else {
        return;
    };
    let _ = match from {
        Some(element) => element.dispatch_event(&event),
        // Not mounted (yet, or any more): the page still hears it.
        None => web_sys::window().map_or(Ok(false), |w| w.dispatch_event(&event)),
    };
}

#[cfg(target_arch = "wasm32")]
pub fn emit_action(from: Option<&web_sys::HtmlElement>, action: &Action) {
    use crate::json::Build;
    let paths = action
        .paths
        .iter()
        .map(|p| crate::json::Json::of_str(p))
        .collect();
    let detail = crate::json::Json::object(vec![
        ("type", crate::json::Json::of_str(&action.kind)),
        ("paths", crate::json::Json::array(paths)),
        ("trace", action.trace.clone()),
    ]);
    emit(from, "parley:action", detail.value().clone());
}

#[cfg(target_arch = "wasm32")]
pub fn emit_error(from: Option<&web_sys::HtmlElement>, message: &str) {
    let detail = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&detail, &"message".into(), &message.into());
    emit(from, "parley:error", detail.into());
}

#[cfg(target_arch = "wasm32")]
pub fn emit_message(from: Option<&web_sys::HtmlElement>, text: &str) {
    let detail = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&detail, &"text".into(), &text.into());
    emit(from, "parley:message", detail.into());
}

#[cfg(target_arch = "wasm32")]
pub fn emit_trace(from: Option<&web_sys::HtmlElement>, trace: &crate::json::Json) {
    emit(from, "parley:trace", trace.value().clone());
}

#[cfg(target_arch = "wasm32")]
pub fn emit_toggle(from: Option<&web_sys::HtmlElement>, open: bool) {
    let name = if open { "parley:open" } else { "parley:close" };
    emit(from, name, wasm_bindgen::JsValue::UNDEFINED);
}

#[cfg(not(target_arch = "wasm32"))]
pub fn emit_action<T>(_from: Option<&T>, _action: &Action) {}

#[cfg(not(target_arch = "wasm32"))]
pub fn emit_error<T>(_from: Option<&T>, _message: &str) {}

#[cfg(not(target_arch = "wasm32"))]
pub fn emit_message<T>(_from: Option<&T>, _text: &str) {}

#[cfg(not(target_arch = "wasm32"))]
pub fn emit_trace<T>(_from: Option<&T>, _trace: &crate::json::Json) {}

#[cfg(not(target_arch = "wasm32"))]
pub fn emit_toggle<T>(_from: Option<&T>, _open: bool) {}
