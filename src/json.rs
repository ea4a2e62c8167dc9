//! The widget's JSON: in the browser, the browser's own (`JSON.parse`, `JSON.stringify`, plain
//! JS values), so the bundle carries no JSON library; natively (the logic's tests),
//! `serde_json::Value`. Both implement `parley_protocol::read::Json` for reading traces, and
//! [`Build`] for making requests and saved conversations.
//!
//! A JS number is a double: integers beyond 2^53 in a runtime's state would lose precision.
//! Voiceflow's and Parley's states hold none (ids are strings, times are milliseconds).

pub use parley_protocol::read::Json as Read;

/// The JSON value the widget holds.
#[cfg(target_arch = "wasm32")]
pub type Json = Js;
#[cfg(not(target_arch = "wasm32"))]
pub type Json = serde_json::Value;

/// Making and printing JSON values.
pub trait Build: Read + Sized {
    fn parse(text: &str) -> Option<Self>;
    fn to_text(&self) -> String;
    fn of_str(s: &str) -> Self;
    fn of_f64(n: f64) -> Self;
    fn of_bool(b: bool) -> Self;
    fn array(items: Vec<Self>) -> Self;
    fn object(entries: Vec<(&str, Self)>) -> Self;
}

/// A `{ "type", "payload"? }` request.
pub fn request(kind: &str, payload: Option<Json>) -> Json {
    let mut entries = vec![("type", Json::of_str(kind))];
    if let Some(payload) = payload {
        entries.push(("payload", payload));
    }
    Json::object(entries)
}

/// The request's `type`.
pub fn request_type(request: &Json) -> String {
    request
        .field("type")
        .and_then(|t| t.text())
        .unwrap_or_default()
}

#[cfg(not(target_arch = "wasm32"))]
impl Build for serde_json::Value {
    fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
    fn to_text(&self) -> String {
        self.to_string()
    }
    fn of_str(s: &str) -> Self {
        Self::String(s.to_owned())
    }
    fn of_f64(n: f64) -> Self {
        serde_json::Number::from_f64(n).map_or(Self::Null, Self::Number)
    }
    fn of_bool(b: bool) -> Self {
        Self::Bool(b)
    }
    fn array(items: Vec<Self>) -> Self {
        Self::Array(items)
    }
    fn object(entries: Vec<(&str, Self)>) -> Self {
        Self::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }
}

/// A JS value parsed by the browser. Wrapped so that Leptos, whose signals and lists want
/// `Send` values, can hold it: the widget runs on the page's one thread, and `SendWrapper`
/// panics if that ever changes rather than share the value unsoundly.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone)]
pub struct Js(send_wrapper::SendWrapper<wasm_bindgen::JsValue>);

#[cfg(target_arch = "wasm32")]
impl Js {
    pub fn new(value: wasm_bindgen::JsValue) -> Js {
        Js(send_wrapper::SendWrapper::new(value))
    }

    pub fn value(&self) -> &wasm_bindgen::JsValue {
        &self.0
    }
}

#[cfg(target_arch = "wasm32")]
impl PartialEq for Js {
    fn eq(&self, other: &Js) -> bool {
        *self.0 == *other.0
    }
}

#[cfg(target_arch = "wasm32")]
mod js {
    use js_sys::{Array, JSON, Object, Reflect};
    use wasm_bindgen::JsValue;

    use super::{Build, Js, Read};

    impl Read for Js {
        fn field(&self, key: &str) -> Option<Self> {
            if !self.is_map() {
                return None;
            }
            let value = Reflect::get(self.value(), &JsValue::from_str(key)).ok()?;
            (!value.is_null() && !value.is_undefined()).then(|| Js::new(value))
        }
        fn text(&self) -> Option<String> {
            self.value().as_string()
        }
        fn number(&self) -> Option<f64> {
            self.value().as_f64()
        }
        fn flag(&self) -> Option<bool> {
            self.value().as_bool()
        }
        fn items(&self) -> Option<Vec<Self>> {
            Array::is_array(self.value())
                .then(|| Array::from(self.value()).iter().map(Js::new).collect())
        }
        fn is_map(&self) -> bool {
            self.value().is_object() && !Array::is_array(self.value())
        }
    }

    impl Build for Js {
        fn parse(text: &str) -> Option<Self> {
            JSON::parse(text).ok().map(Js::new)
        }
        fn to_text(&self) -> String {
            JSON::stringify(self.value())
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default()
        }
        fn of_str(s: &str) -> Self {
            Js::new(JsValue::from_str(s))
        }
        fn of_f64(n: f64) -> Self {
            Js::new(JsValue::from_f64(n))
        }
        fn of_bool(b: bool) -> Self {
            Js::new(JsValue::from_bool(b))
        }
        fn array(items: Vec<Self>) -> Self {
            let array: Array = items.iter().map(Js::value).collect();
            Js::new(array.into())
        }
        fn object(entries: Vec<(&str, Self)>) -> Self {
            let object = Object::new();
            for (key, value) in entries {
                // Setting a property on a fresh plain object cannot fail.
                let _ = Reflect::set(&object, &JsValue::from_str(key), value.value());
            }
            Js::new(object.into())
        }
    }
}
