// The one setting parley-chat documents: keep it out of the dev server's dependency
// pre-bundling, which would separate the module from its wasm (`vite build` does not need it).
export default {
  optimizeDeps: { exclude: ['parley-chat'] },
};
