// Parley's chat widget as an ES module: `load(options)` fetches the app (the wasm-bindgen glue
// and the wasm in ./assets, which a bundler copies and hashes as it does any asset referenced by
// `new URL(…, import.meta.url)`), starts it and loads the chat. `cargo xtask dist` fills in the
// version and the file names. The same rules as the script tag's loader: one version per page.
const VERSION = '__PARLEY_VERSION__';

let starting = null;

function start() {
  if (starting) return starting;
  starting = (async () => {
    if (typeof window === 'undefined') {
      throw new Error('parley: the chat runs in a browser (load() was called without a window)');
    }
    const parley = (window.parley = window.parley || {});
    if (parley.loader && parley.loader !== VERSION) {
      throw new Error(`parley: package ${VERSION} not started: loader ${parley.loader} is already on this page`);
    }
    // Another copy of this version (the script tag, another bundle) is already there: use it.
    if (parley.loader === VERSION && parley.chat && parley.chat.version === VERSION) {
      return parley.chat;
    }
    parley.loader = VERSION;
    // The root's tokens and the launcher (style/launcher.css): the app adopts this sheet.
    parley.launcherSheet = new CSSStyleSheet();
    parley.launcherSheet.replaceSync('__PARLEY_LAUNCHER_CSS__');
    const glue = await import('./assets/__PARLEY_GLUE__');
    await glue.default({ module_or_path: new URL('./assets/__PARLEY_WASM__', import.meta.url) });
    const app = parley.chat;
    if (!app || app.version !== VERSION) {
      throw new Error(`parley: package ${VERSION} cannot drive app ${app && app.version}: the app did not start (see the error above)`);
    }
    // The app leaves `parley:ready` to its starter.
    window.dispatchEvent(new Event('parley:ready'));
    return app;
  })();
  // A failed fetch may be tried again by the next call.
  starting.catch(() => { starting = null; });
  return starting;
}

/** The bundle's version. */
export const version = VERSION;

/** Fetches and starts the app once, then loads the chat with `options`; resolves to the chat
 * (this module's, whose calls return promises as `index.d.ts` says). */
export async function load(options) {
  (await start()).load(options);
  return chat;
}

function call(name) {
  return async (...args) => (await start())[name](...args);
}

/** The running chat's calls; each starts the app first if needed. */
export const chat = {
  version: VERSION,
  load,
  open: call('open'),
  close: call('close'),
  show: call('show'),
  hide: call('hide'),
  interact: call('interact'),
  reset: call('reset'),
  destroy: call('destroy'),
  proactive: {
    push: async (...traces) => (await start()).proactive.push(...traces),
    clear: async () => (await start()).proactive.clear(),
  },
};

export const { open, close, show, hide, interact, reset, destroy, proactive } = chat;
export default chat;
