// What the benches read of a page, set up before its scripts run (Playwright's
// `addInitScript`): `__ready`, when `parley:ready` fired, and `__launcher`, two frames after the
// loader's launcher is in the page (then it is painted), as `performance.now()` times.
'use strict';

function probe() {
  window.__ready = new Promise((resolve) => addEventListener('parley:ready', () => resolve(performance.now())));
  window.__launcher = new Promise((resolve) => {
    const poll = () => {
      const host = document.querySelector('.parley-host');
      const found = host && host.shadowRoot && host.shadowRoot.querySelector('.parley-launcher');
      if (found) requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
      else requestAnimationFrame(poll);
    };
    poll();
  });
}

module.exports = { probe };
