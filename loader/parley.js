// Parley's loader: the one script a site adds. It defines `window.parley.chat` at once (calls
// made before the app arrives are queued), paints the launcher, and starts the app (the
// wasm-bindgen glue and the wasm, hashed names) on the first hover, focus or click of the
// launcher, or when the browser is idle (`preload: 'idle' | 'interaction' | 'eager'`); with
// 'idle' it fetches both earlier, once the launcher is painted (the wasm at low priority,
// compiled as it comes). The embedded mode has no launcher to wait on: it starts at once.
// `cargo xtask dist` fills in the version and the file names, and minifies it with terser.
(function () {
  'use strict';
  var VERSION = '__PARLEY_VERSION__';
  var GLUE = '__PARLEY_GLUE__';
  var WASM = '__PARLEY_WASM__';
  // style/launcher.css, minified: the root's tokens and the launcher.
  var CSS = '__PARLEY_LAUNCHER_CSS__';
  var w = window;
  var doc = document;
  var parley = w.parley = w.parley || {};
  if (parley.loader) {
    if (parley.loader !== VERSION) {
      console.error('parley: loader ' + VERSION + ' not started: loader ' + parley.loader + ' is already on this page');
    }
    return;
  }
  parley.loader = VERSION;
  // The launcher's styles, for the painted launcher and for the app (which does not carry them).
  var sheet = parley.launcherSheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  var script = doc.currentScript;
  var base = new URL('.', script && script.src ? script.src : location.href).href;
  var app = null;
  var starting = null;
  var options = null;
  var painted = null;
  var wantOpen = false;
  var queue = [];
  // Failed starts: a retry imports the glue under a new URL (a failed module fetch stays failed
  // for the document), and after a failure only a click or `open()` tries again.
  var failures = 0;

  function fail(message) {
    console.error('parley: ' + message);
  }

  // `preload: 'idle'`: as soon as the launcher is painted, the glue is fetched (at a module's
  // priority) and the wasm fetched at low priority and compiled (off the main thread); running
  // the app waits for idle time or the first gesture, so that a click that comes early waits
  // for less. Only a help: what failed, `start` fetches again as it does without it (a wasm
  // served under another type goes to the glue as it came, which knows what to do with it).
  var compiled = null;
  var glued = null;
  function compile() {
    if (glued || failures) return;
    glued = import(base + GLUE);
    glued.catch(function () {});
    if (!w.WebAssembly || !WebAssembly.compileStreaming) return;
    compiled = fetch(base + WASM, { priority: 'low' })
      .then(function (r) {
        if (!r.ok) return null;
        return /^\s*application\/wasm\s*$/i.test(r.headers.get('Content-Type') || '') ? WebAssembly.compileStreaming(r) : r;
      })
      .catch(function () { return null; });
  }

  // Fetches and starts the app once; after a failure, a click or `open()` tries again.
  function start() {
    if (starting) return starting;
    // The wasm is fetched with the glue, not after it has run (wasm-bindgen takes a pending
    // response, or the module compiled early, and compiles while it streams in); a retry
    // fetches both again.
    var early = !failures && compiled;
    var wasm = early ? early.then(function (m) { return m || fetch(base + WASM); }) : fetch(base + WASM);
    // Looked at once the glue is there: a failure before that is told by the start's own.
    wasm.catch(function () {});
    var retry = failures ? '?retry=' + failures : '';
    // The early import failed: a failed module stays failed for the document, so under a new URL.
    var imported = !failures && glued
      ? glued.catch(function () { return import(base + GLUE + '?retry=early'); })
      : import(base + GLUE + retry);
    starting = imported
      .then(function (glue) { return wasm.then(function (m) { return glue.default({ module_or_path: m }); }); })
      .then(function () {
        var real = parley.chat;
        if (real === chat) {
          throw new Error('the app did not start (see the error above)');
        }
        parley.chat = chat;
        if (!real || real.version !== VERSION) {
          throw new Error('loader ' + VERSION + ' cannot drive app ' + (real && real.version) + ': serve both from one build');
        }
        app = real;
        if (options) app.load(options);
        unpaint();
        queue.splice(0).forEach(function (call) { call(); });
        if (wantOpen) app.open();
        // Now the chat is loaded and every queued call made: the page may drive it.
        w.dispatchEvent(new Event('parley:ready'));
      })
      .catch(function (e) {
        starting = null;
        failures += 1;
        var message = 'the chat could not start from ' + base + ': ' + (e && e.message ? e.message : e);
        fail(message);
        // The page hears of it as of any other failure of the chat's.
        w.dispatchEvent(new CustomEvent('parley:error', { detail: { message: message } }));
        if (painted) painted.button.removeAttribute('aria-busy');
      });
    return starting;
  }

  function unpaint() {
    if (painted) painted.host.remove();
    painted = null;
  }

  // The launcher as the app draws it (src/components/chat_widget.rs): same host, Shadow DOM,
  // classes and icon. Constant markup, nothing from the page or the network.
  var LAUNCHER = '<div class="parley"><button type="button" class="parley-launcher" aria-label="Open chat" aria-expanded="false">'
    + '<svg class="parley-launcher__icon" aria-hidden="true" viewBox="0 0 24 24" width="28" height="28">'
    + '<path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg></button></div>';

  // The launcher's name in each shipped locale (src/i18n.rs, `Key::OpenChat`).
  // Percent-encoded: this script is ASCII, whatever charset a site serves it with.
  var OPEN = { en: 'Open chat', de: decodeURIComponent('Chat%20%C3%B6ffnen'), ar: decodeURIComponent('%D9%81%D8%AA%D8%AD%20%D8%A7%D9%84%D9%85%D8%AD%D8%A7%D8%AF%D8%AB%D8%A9') };
  // The shipped locale a tag names (`de`, `de-AT`), if any.
  function shipped(tag) {
    var t = String(tag || '').trim();
    var language = t.slice(0, 2).toLowerCase();
    return (t.length === 2 || t[2] === '-' || t[2] === '_') && OPEN.hasOwnProperty(language) ? language : '';
  }

  function paint(o) {
    unpaint();
    var host = doc.createElement('div');
    host.className = 'parley-host';
    host.setAttribute('data-parley-loader', VERSION);
    var shadow = host.attachShadow({ mode: 'open' });
    shadow.adoptedStyleSheets = [sheet];
    var root = doc.createElement('div');
    root.className = 'parley-root';
    var color = o.assistant && o.assistant.color;
    if (typeof color === 'string') root.style.setProperty('--parley-color-accent', color);
    root.innerHTML = LAUNCHER;
    shadow.appendChild(root);
    var button = root.querySelector('button');
    // In the app's locale (src/i18n.rs picks it the same way), so that the launcher keeps its
    // name and its corner when the app takes over.
    var locale = shipped(o.locale) || shipped(doc.documentElement.lang) || 'en';
    root.firstChild.setAttribute('lang', locale);
    root.firstChild.setAttribute('dir', locale === 'ar' ? 'rtl' : 'ltr');
    button.setAttribute('aria-label', OPEN[locale]);
    button.addEventListener('click', function () {
      wantOpen = true;
      button.setAttribute('aria-busy', 'true');
      start();
    });
    var early = function () { if (!failures) start(); };
    if (o.preload !== 'eager') {
      button.addEventListener('pointerenter', early);
      button.addEventListener('focus', early);
    }
    doc.body.appendChild(host);
    painted = { host: host, button: button };
  }

  function load(o) {
    if (!o || typeof o !== 'object') return fail('parley.chat.load: the options must be an object');
    var preload = o.preload === undefined ? 'idle' : o.preload;
    if (['idle', 'interaction', 'eager'].indexOf(preload) < 0) {
      return fail("parley.chat.load: `preload` must be 'idle', 'interaction' or 'eager'");
    }
    // The runtime defaults to the server that served this script (the app's own default is
    // the page's origin, which is another server when the page is not parley's).
    if (o.url === undefined) {
      o = Object.assign({}, o, { url: base.replace(/\/$/, '') });
    }
    if (app) return app.load(o);
    options = o;
    // Nothing to wait for: the embedded mode has no launcher, autostart opens at once.
    var embedded = o.render && o.render.mode === 'embedded';
    if (embedded || o.autostart === true || preload === 'eager') return start();
    var go = function () {
      // A later `load()` or a `destroy()` came before the page's body: this one is void.
      if (options !== o) return;
      paint(o);
      if (preload === 'idle') {
        compile();
        if (w.requestIdleCallback) w.requestIdleCallback(start, { timeout: 4000 });
        else setTimeout(start, 1000);
      }
    };
    if (doc.body) go();
    else doc.addEventListener('DOMContentLoaded', go);
  }

  // A call of the chat's, or of its `proactive` (`of` picks the object from the app). Before
  // the app is there it waits in the queue; `open` also fetches the app.
  function later(name, of) {
    return function () {
      var args = arguments;
      var call = function () { var target = of(app); return target[name].apply(target, args); };
      if (app) return call();
      if (name === 'open') {
        wantOpen = true;
        start();
      } else if (name === 'close') {
        wantOpen = false;
      } else if (name === 'destroy') {
        options = null;
        wantOpen = false;
        queue.length = 0;
        unpaint();
      } else {
        if (painted && (name === 'hide' || name === 'show')) painted.host.hidden = name === 'hide';
        queue.push(call);
      }
    };
  }
  var itself = function (a) { return a; };
  var proactive = function (a) { return a.proactive; };

  var chat = {
    version: VERSION,
    load: load,
    proactive: { push: later('push', proactive), clear: later('clear', proactive) },
  };
  ['open', 'close', 'show', 'hide', 'interact', 'reset', 'destroy'].forEach(function (name) {
    chat[name] = later(name, itself);
  });
  parley.chat = chat;
})();
