// The npm package through Vite: `vite build` copies the widget's wasm and glue as assets.
import { load, open, interact } from 'parley-chat';

// The runtime: `cargo xtask demo` serves one at 127.0.0.1:8080 (VITE_PARLEY_URL picks another).
const url = import.meta.env.VITE_PARLEY_URL || 'http://127.0.0.1:8080';

load({ verify: { projectID: 'pizza' }, url, assistant: { title: 'Pizza Palace (npm)' } }).catch(
  (error) => console.error(error.message),
);
document.getElementById('open-chat').addEventListener('click', () => open());
window.addEventListener('parley:action', (event) => {
  if (event.detail.type === 'payment') interact({ type: 'success' });
});
