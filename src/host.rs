//! What the host page gives the widget besides the runtime's address, in the shape of
//! Voiceflow's snippet: the launch request (`launch.event`), the user (`user.name`,
//! `user.image`) and the extensions (`assistant.extensions`). One set per page, like the
//! mounted widget itself: `load` sets it, the turn reader and the transcript read it.
//!
//! An extension is Voiceflow's shape, `{ name, type: 'response' | 'effect', match({ trace }),
//! render({ trace, element }) | effect({ trace }) }`: plain functions of the host page, called
//! with the trace as JSON (never HTML of ours). As in react-chat, a trace goes to the first
//! extension that matches it, effects before responses, and only a trace the widget does not
//! draw itself (custom actions, unknown types): a response extension draws it into an element
//! the transcript gives it, an effect extension runs when the answer arrives.

use std::cell::RefCell;
use std::rc::Rc;

use crate::json::Json;

/// One extension: its name (for errors), whether it is an effect, and its `match`.
pub struct Extension {
    pub name: String,
    pub effect: bool,
    pub matches: Box<dyn Fn(&Json) -> bool>,
    /// The page's object, whose `render` or `effect` the widget calls.
    #[cfg(target_arch = "wasm32")]
    pub object: wasm_bindgen::JsValue,
}

impl std::fmt::Debug for Extension {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extension")
            .field("name", &self.name)
            .field("effect", &self.effect)
            .finish_non_exhaustive()
    }
}

/// The host page's part.
#[derive(Debug, Default)]
pub struct Host {
    /// The request that starts a conversation; `{ type: 'launch' }` when none is given.
    pub launch: Option<Json>,
    pub user_name: Option<String>,
    /// The user's picture (an already checked URL), shown by their messages.
    pub user_image: Option<String>,
    /// In the page's order (effects are tried before responses).
    pub extensions: Vec<Extension>,
}

thread_local! {
    static HOST: RefCell<Rc<Host>> = RefCell::new(Rc::default());
}

/// Replaces the host page's part (a new `load`).
pub fn set(host: Host) {
    HOST.with(|h| *h.borrow_mut() = Rc::new(host));
}

/// The host page's part as it is now (held apart from the cell: an extension may call `load`).
pub fn get() -> Rc<Host> {
    HOST.with(|h| h.borrow().clone())
}

/// The request that starts a conversation.
pub fn launch() -> Json {
    get()
        .launch
        .clone()
        .unwrap_or_else(|| crate::json::request("launch", None))
}

/// The extension a trace goes to: its index and whether it is an effect. Effects are tried
/// first, then responses (react-chat's order), by two passes rather than a sort (a sorting
/// routine weighs 2 KB gzip in the bundle).
pub fn claim(trace: &Json) -> Option<(usize, bool)> {
    let host = get();
    [true, false].into_iter().find_map(|effect| {
        host.extensions
            .iter()
            .position(|e| e.effect == effect && (e.matches)(trace))
            .map(|i| (i, effect))
    })
}

/// Calls extension `index` on `trace`: `render({ trace, element })` with `element`, else
/// `effect({ trace })`. What it throws is a console error naming it, as in react-chat.
#[cfg(target_arch = "wasm32")]
pub fn run(index: usize, trace: &Json, element: Option<&web_sys::Element>) {
    use wasm_bindgen::JsCast;
    let host = get();
    let Some(extension) = host.extensions.get(index) else {
        return;
    };
    let context = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&context, &"trace".into(), trace.value());
    if let Some(element) = element {
        let _ = js_sys::Reflect::set(&context, &"element".into(), element);
    }
    let name = if element.is_some() {
        "render"
    } else {
        "effect"
    };
    let called = js_sys::Reflect::get(&extension.object, &name.into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        .map(|f| f.call1(&extension.object, &context));
    if let Some(Err(thrown)) = called {
        // The thrown value itself goes to the console (its stack included).
        web_sys::console::error_2(
            &format!("parley: the extension '{}' threw:", extension.name).into(),
            &thrown,
        );
    }
}

/// Natively (the logic's tests) there is no page to call.
#[cfg(not(target_arch = "wasm32"))]
pub fn run<T>(_index: usize, _trace: &Json, _element: Option<&T>) {}

/// Reads `assistant.extensions` (an array, or nothing): each one Voiceflow's shape, or an
/// error naming the bad one, in the options' words.
#[cfg(target_arch = "wasm32")]
pub fn read_extensions(
    list: &wasm_bindgen::JsValue,
) -> Result<Vec<Extension>, crate::options::OptionError> {
    use js_sys::{Function, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    let bad = crate::options::OptionError {
        option: "assistant.extensions",
        expected: "Voiceflow's extensions: [{ name, type, match, render | effect }]",
    };
    if list.is_undefined() || list.is_null() {
        return Ok(Vec::new());
    }
    if !js_sys::Array::is_array(list) {
        return Err(bad);
    }
    let mut out = Vec::new();
    for object in js_sys::Array::from(list).iter() {
        let get = |key: &str| Reflect::get(&object, &key.into()).unwrap_or(JsValue::UNDEFINED);
        let (Some(name), Some(kind), Ok(matcher)) = (
            get("name").as_string(),
            get("type").as_string(),
            get("match").dyn_into::<Function>(),
        ) else {
            return Err(bad);
        };
        let effect = match kind.as_str() {
            "effect" => true,
            "response" => false,
            _ => return Err(bad),
        };
        let this = object.clone();
        let matches = Box::new(move |trace: &Json| {
            let context = js_sys::Object::new();
            let _ = Reflect::set(&context, &"trace".into(), trace.value());
            // A `match` that throws matches nothing.
            matcher.call1(&this, &context).is_ok_and(|m| m.is_truthy())
        });
        out.push(Extension {
            name,
            effect,
            matches,
            object,
        });
    }
    Ok(out)
}

/// A request of the host page's (`launch.event`): an object with a string `type`.
pub fn is_request(request: &Json) -> bool {
    use crate::json::Read;
    request.field("type").and_then(|t| t.text()).is_some()
}

/// A test's extension: its name, whether it is an effect, its `match`.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) type TestExtension = (&'static str, bool, fn(&Json) -> bool);

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn with_extensions(list: Vec<TestExtension>) {
    set(Host {
        extensions: list
            .into_iter()
            .map(|(name, effect, m)| Extension {
                name: name.to_owned(),
                effect,
                matches: Box::new(m),
            })
            .collect(),
        ..Host::default()
    });
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_matching_extension_takes_a_trace_effects_first() {
        fn custom(t: &Json) -> bool {
            t["type"] == "calendar"
        }
        with_extensions(vec![
            ("picker", false, custom),
            ("any", false, |_| true),
            ("tracker", true, custom),
        ]);
        assert_eq!(claim(&json!({ "type": "calendar" })), Some((2, true)));
        assert_eq!(get().extensions[2].name, "tracker");
        assert_eq!(claim(&json!({ "type": "other" })), Some((1, false)));
        set(Host::default());
        assert_eq!(claim(&json!({ "type": "calendar" })), None);
    }

    #[test]
    fn the_launch_request_is_the_pages_or_a_launch() {
        set(Host::default());
        assert_eq!(launch(), json!({ "type": "launch" }));
        let event = json!({ "type": "event", "payload": { "event": { "name": "hello" } } });
        assert!(is_request(&event) && !is_request(&json!({ "payload": 1 })));
        set(Host {
            launch: Some(event.clone()),
            ..Host::default()
        });
        assert_eq!(launch(), event);
        set(Host::default());
    }
}
