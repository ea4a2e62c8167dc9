// `trunk serve` holds the demo conversation: the page trunk builds (the widget's debug build,
// index.html), its Dialog API calls forwarded by trunk's proxy to a real runtime.
//
//   node e2e/trunk-serve.cjs PAGE_URL CHROMIUM SCREENSHOT [WATCHED_FILE, unused]
//
// `cargo xtask test` starts the runtime and `trunk serve` (xtask/src/demo.rs) and runs this:
// open the launcher, see the welcome and its buttons, type a greeting, see the answer, take a
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
    await page.goto(url, WAIT);
    // Playwright's CSS selectors pierce the widget's open Shadow DOM root.
    await page.click('.parley-launcher', WAIT);
    await page.waitForSelector('.parley-choices button', WAIT);
    await page.fill('.parley-composer__input', 'hi');
    await page.press('.parley-composer__input', 'Enter');
    // The demo's greeting (either of its two texts) answers through trunk's proxy.
    await page.waitForSelector('text=/👋/', WAIT);
    await page.screenshot({ path: screenshot });
    if (errors.length) throw new Error(`the page reported: ${errors.join('; ')}`);
    console.log(`trunk serve: a greeting answered on ${url}; screenshot at ${screenshot}`);

    // Hot reload is trunk's own (its reload hook on the page, which xtask checks): it is not
    // driven here, as a rebuild's timing on a loaded machine made the check flaky.
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`trunk-serve: ${e.stack || e}`);
  process.exit(1);
});
