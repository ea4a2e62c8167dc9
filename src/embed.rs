//! `window.parley.chat`: how a page embeds the widget.
//!
//! ```js
//! window.parley.chat.load({ verify: { projectID: 'pizza' }, url: 'https://chat.example',
//!   assistant: { title: 'Pizza Palace', color: '#d9480f' } });
//! ```
//!
//! `load` reads the options ([`crate::options`]), makes a host element (in the corner, or inside
//! `render.target`), gives it a Shadow DOM root with the widget's stylesheet adopted (no
//! `<style>` element, so a strict CSP needs no `unsafe-inline`), and mounts the widget there:
//! host CSS does not leak in, ours does not leak out. The other calls drive the mounted widget.
//! A bad option is one console error naming it, and nothing is mounted.

use std::cell::RefCell;

use js_sys::{Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::client::Endpoint;
use crate::components::chat_widget::{ChatWidget, Controls};
use crate::json::Js;
use crate::options::{Mode, Options, RenderMode, read_options};
use crate::persistence::{Persistence, StorageKind, storage_key};

/// The widget's stylesheet (minified by `build.rs`), adopted by each Shadow DOM root after the
/// launcher's (the root's tokens and the launcher), which the starter hands over as
/// `window.parley.launcherSheet`: the loader has painted the launcher with it already.
const STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/parley.min.css"));

/// Without a starter (`trunk serve`'s debug build) the app brings the launcher's styles itself.
#[cfg(debug_assertions)]
const LAUNCHER_STYLESHEET: &str = include_str!(concat!(env!("OUT_DIR"), "/launcher.min.css"));

/// The stylesheets of a Shadow DOM root: the starter's launcher sheet, then the app's.
fn stylesheets() -> js_sys::Array {
    let sheets = js_sys::Array::new();
    let sheet = |css: &str| {
        let sheet = web_sys::CssStyleSheet::new().ok()?;
        let _ = sheet.replace_sync(css);
        Some(JsValue::from(sheet))
    };
    let given = web_sys::window()
        .and_then(|w| Reflect::get(&w, &"parley".into()).ok())
        .and_then(|p| Reflect::get(&p, &"launcherSheet".into()).ok())
        .filter(|s| s.is_instance_of::<web_sys::CssStyleSheet>());
    #[cfg(debug_assertions)]
    let given = given.or_else(|| sheet(LAUNCHER_STYLESHEET));
    if let Some(launcher) = given {
        sheets.push(&launcher);
    } else {
        error("parley: no launcher styles (start the app with parley.js or the npm package)");
    }
    if let Some(own) = sheet(STYLESHEET) {
        sheets.push(&own);
    }
    sheets
}

/// The bundle's version: the loader and the app refuse to mix versions.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

struct Mounted {
    controls: Controls,
    host: web_sys::Element,
    /// The visual viewport's resize listener, removed on destroy.
    viewport_listener: Option<JsValue>,
    // Dropping it unmounts the widget.
    _handle: Box<dyn std::any::Any>,
}

thread_local! {
    static MOUNTED: RefCell<Option<Mounted>> = const { RefCell::new(None) };
}

fn error(message: &str) {
    web_sys::console::error_1(&message.into());
}

fn with_mounted(call: &str, f: impl FnOnce(&Mounted)) {
    MOUNTED.with(|m| match m.borrow().as_ref() {
        Some(mounted) => f(mounted),
        None => error(&format!(
            "parley.chat.{call}: the chat is not loaded (call parley.chat.load first)"
        )),
    });
}

/// The user id of the stateful flavour: the one given, or one made once (from the browser's
/// cryptographic generator: with a public key, the id is what keeps a stored conversation to
/// its user) and kept where the options keep the conversation.
fn user_id(options: &Options) -> String {
    if let Some(id) = &options.user_id {
        return id.clone();
    }
    let key = format!("parley:user:{}", options.project_id);
    let window = web_sys::window();
    let storage = window.as_ref().and_then(|w| match options.persistence {
        StorageKind::Local => w.local_storage().ok().flatten(),
        StorageKind::Session => w.session_storage().ok().flatten(),
        StorageKind::Memory => None,
    });
    if let Some(id) = storage
        .as_ref()
        .and_then(|s| s.get_item(&key).ok().flatten())
    {
        return id;
    }
    let uuid = window
        .and_then(|w| w.crypto().ok())
        .map(|c| c.random_uuid())
        .unwrap_or_default();
    let id = format!("u-{}", uuid.replace('-', ""));
    if let Some(storage) = storage {
        let _ = storage.set_item(&key, &id);
    }
    id
}

/// The element `render.target` names: an element, or a selector.
fn target(options: &JsValue, selector: Option<&str>) -> Option<web_sys::Element> {
    let given = Reflect::get(options, &"render".into())
        .and_then(|r| Reflect::get(&r, &"target".into()))
        .ok()?;
    if let Some(element) = given.dyn_ref::<web_sys::Element>() {
        return Some(element.clone());
    }
    let document = web_sys::window()?.document()?;
    document.query_selector(selector?).ok().flatten()
}

fn load(options_value: JsValue) {
    let options = match read_options(&Js::new(options_value.clone())) {
        Ok(options) => options,
        Err(e) => return error(&e.to_string()),
    };
    let extensions = Reflect::get(&options_value, &"assistant".into())
        .and_then(|a| Reflect::get(&a, &"extensions".into()))
        .unwrap_or(JsValue::UNDEFINED);
    let extensions = match crate::host::read_extensions(&extensions) {
        Ok(extensions) => extensions,
        Err(e) => return error(&e.to_string()),
    };
    if options.dangerous_html {
        web_sys::console::warn_1(
            &"parley: allowDangerousHTML is refused: Parley never renders raw HTML (markup in a message shows as text)".into(),
        );
    }
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let parent = match &options.render {
        RenderMode::Overlay => document.body().map(Into::into),
        RenderMode::Embedded { target: selector } => {
            match target(&options_value, selector.as_deref()) {
                Some(element) => Some(element),
                None => {
                    return error(
                        "parley.chat.load: the option `render.target` names no element on this page",
                    );
                }
            }
        }
    };
    let Some(parent) = parent else { return };
    // A second load replaces the first (once the new one is known to have a place).
    destroy();
    let Ok(host) = document.create_element("div") else {
        return;
    };
    host.set_class_name(match options.render {
        RenderMode::Overlay => "parley-host",
        RenderMode::Embedded { .. } => "parley-host parley-host--embedded",
    });
    let init = web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open);
    let Ok(shadow) = host.attach_shadow(&init) else {
        return error("parley.chat.load: this element cannot hold the chat (no Shadow DOM)");
    };
    let _ = Reflect::set(&shadow, &"adoptedStyleSheets".into(), &stylesheets());
    // The page's own stylesheet for the widget: a <link> in the root, under the page's CSP
    // (`style-src`); unlayered, so it wins over the widget's layered rules.
    if let Some(href) = &options.stylesheet
        && let Ok(link) = document.create_element("link")
    {
        let _ = link.set_attribute("rel", "stylesheet");
        let _ = link.set_attribute("href", href);
        let _ = shadow.append_child(&link);
    }
    let Ok(container) = document.create_element("div") else {
        return;
    };
    container.set_class_name("parley-root");
    // Through the CSSOM, not a `style` attribute: a CSP without `'unsafe-inline'` in
    // `style-src` blocks the attribute.
    let style = container.unchecked_ref::<web_sys::HtmlElement>().style();
    if let Some(color) = &options.color {
        let _ = style.set_property("--parley-color-accent", color);
    }
    let _ = shadow.append_child(&container);
    let _ = parent.append_child(&host);
    let viewport_listener = follow_visual_viewport(style);

    let controls = Controls::new();
    controls.open.set(options.autostart);
    let user = (options.mode == Mode::Stateful).then(|| user_id(&options));
    crate::i18n::apply(&options);
    crate::host::set(crate::host::Host {
        launch: options.launch.clone(),
        user_name: options.user_name.clone(),
        user_image: options.user_image.clone(),
        extensions,
    });
    let endpoint = Endpoint {
        url: options.url.clone(),
        project: options.project_id.clone(),
        version: options.version.clone(),
        api_key: options.api_key.clone(),
        user: user.clone(),
        stream: options.stream,
    };
    let persistence = Persistence {
        kind: options.persistence,
        ..Persistence::local(storage_key(
            &options.project_id,
            options.version.as_deref().unwrap_or("development"),
            user.as_deref().unwrap_or("anonymous"),
        ))
    };
    let (title, image, embedded) = (
        options.title.clone(),
        options.image.clone(),
        matches!(options.render, RenderMode::Embedded { .. }),
    );
    let handle = leptos::mount::mount_to(container.unchecked_into(), move || {
        view! {
            <ChatWidget title=title image=image.clone() endpoint=endpoint persistence=persistence
                embedded=embedded controls=controls />
        }
    });
    // Marks a mounted widget (what `cargo xtask test` looks for in the page).
    let _ = host.set_attribute("data-parley", VERSION);
    MOUNTED.with(|m| {
        *m.borrow_mut() = Some(Mounted {
            controls,
            host,
            viewport_listener,
            _handle: Box::new(handle),
        });
    });
}

/// Keeps `--parley-viewport-height` at the visual viewport's height, which shrinks when a
/// mobile keyboard opens: the full-screen panel stays above the keyboard.
fn follow_visual_viewport(style: web_sys::CssStyleDeclaration) -> Option<JsValue> {
    let viewport = web_sys::window().and_then(|w| w.visual_viewport())?;
    let sync = {
        let viewport = viewport.clone();
        move || {
            let height = viewport.height().round() as i32;
            let _ = style.set_property("--parley-viewport-height", &format!("{height}px"));
        }
    };
    sync();
    let listener = Closure::<dyn Fn()>::new(sync).into_js_value();
    let _ = viewport.add_event_listener_with_callback("resize", listener.unchecked_ref());
    Some(listener)
}

fn destroy() {
    let mounted = MOUNTED.with(|m| m.borrow_mut().take());
    if let Some(mounted) = mounted {
        let viewport = web_sys::window().and_then(|w| w.visual_viewport());
        if let (Some(viewport), Some(listener)) = (viewport, &mounted.viewport_listener) {
            let _ =
                viewport.remove_event_listener_with_callback("resize", listener.unchecked_ref());
        }
        mounted.host.remove();
        crate::host::set(crate::host::Host::default());
    }
}

fn interact(request: JsValue) {
    let request = Js::new(request);
    let valid = crate::json::Read::field(&request, "type")
        .and_then(|t| crate::json::Read::text(&t))
        .is_some();
    if !valid {
        return error("parley.chat.interact: the request must be an object with a string `type`");
    }
    with_mounted("interact", |m| {
        m.controls.open.set(true);
        m.controls
            .host
            .send(crate::controller::HostCommand::Interact(request));
    });
}

fn set(object: &Object, name: &str, value: &JsValue) {
    let _ = Reflect::set(object, &name.into(), value);
}

fn function0(f: impl Fn() + 'static) -> JsValue {
    Closure::<dyn Fn()>::new(f).into_js_value()
}

fn function1(f: impl Fn(JsValue) + 'static) -> JsValue {
    Closure::<dyn Fn(JsValue)>::new(f).into_js_value()
}

/// Installs `window.parley.chat` and tells the page (`parley:ready` on `window`). Started by
/// a starter (the loader `loader/parley.js`, the npm module), it first checks that the starter
/// is of the same build, and leaves `parley:ready` to it: the starter sends it once it has
/// loaded the chat and replayed the calls it queued, so a listener finds the chat ready.
pub fn install() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let parley = Reflect::get(&window, &"parley".into())
        .ok()
        .filter(JsValue::is_object)
        .map_or_else(Object::new, JsCast::unchecked_into);
    let starter = Reflect::get(&parley, &"loader".into())
        .ok()
        .and_then(|l| l.as_string());
    if let Some(loader) = starter.as_deref().filter(|l| *l != VERSION) {
        return error(&format!(
            "parley: app {VERSION} cannot start under loader {loader}: serve both from one build"
        ));
    }
    let chat = Object::new();
    set(&chat, "version", &VERSION.into());
    set(&chat, "load", &function1(load));
    set(&chat, "destroy", &function0(destroy));
    set(&chat, "interact", &function1(interact));
    let control = |name: &'static str, f: fn(&Controls)| {
        set(
            &chat,
            name,
            &function0(move || with_mounted(name, |m| f(&m.controls))),
        );
    };
    control("open", |c| c.open.set(true));
    control("close", |c| c.open.set(false));
    control("show", |c| c.visible.set(true));
    control("hide", |c| c.visible.set(false));
    control("reset", |c| {
        c.host.send(crate::controller::HostCommand::Reset);
    });
    let proactive = Object::new();
    // Proactive messages: traces the page shows by the launcher, before any conversation
    // (`push({ type: 'text', payload: { message } }, …)`, any number of arguments). A Rust
    // closure has a fixed arity, so `push` is a Proxy whose `apply` trap gets the argument
    // list whole (no `new Function`, which a CSP without 'unsafe-eval' refuses).
    let apply = Closure::<dyn Fn(JsValue, JsValue, js_sys::Array)>::new(
        |_target: JsValue, _this: JsValue, traces: js_sys::Array| {
            with_mounted("proactive.push", |m| {
                let traces: Vec<Js> = traces
                    .iter()
                    .filter(|t| !t.is_undefined())
                    .map(Js::new)
                    .collect();
                m.controls.proactive.update(|p| p.extend(traces));
            });
        },
    );
    let trap = Object::new();
    set(&trap, "apply", &apply.into_js_value());
    let push = js_sys::Proxy::new(&function0(|| {}), &trap);
    set(&proactive, "push", &push);
    set(
        &proactive,
        "clear",
        &function0(|| with_mounted("proactive.clear", |m| m.controls.proactive.set(Vec::new()))),
    );
    set(&chat, "proactive", &proactive);
    set(&parley, "chat", &chat);
    set(&window, "parley", &parley);
    if starter.is_none()
        && let Ok(event) = web_sys::Event::new("parley:ready")
    {
        let _ = window.dispatch_event(&event);
    }
}
