// The npm package through Vite, in TypeScript: `vite build` copies the widget's wasm and glue as
// assets, and `tsc --noEmit` checks this file against the package's types.
import { load, open, interact, type LoadOptions } from 'parley-chat';

// The runtime: `cargo xtask demo` serves one at 127.0.0.1:8080 (VITE_PARLEY_URL picks another).
const url = import.meta.env.VITE_PARLEY_URL || 'http://127.0.0.1:8080';

const options: LoadOptions = { verify: { projectID: 'pizza' }, url, assistant: { title: 'Pizza Palace (npm)' } };
load(options).catch((error: Error) => console.error(error.message));
document.getElementById('open-chat')?.addEventListener('click', () => void open());
// `event` is a CustomEvent<ActionDetail>: the package types the `parley:*` events on window.
window.addEventListener('parley:action', (event) => {
  if (event.detail.type === 'payment' && event.detail.paths.includes('success')) {
    void interact({ type: 'success' });
  }
});
