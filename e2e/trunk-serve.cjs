// `trunk serve` holds the demo conversation: the page trunk builds (the widget's debug build,
// index.html), its Dialog API calls forwarded by trunk's proxy to a real runtime.
//
//   node e2e/trunk-serve.cjs PAGE_URL CHROMIUM SCREENSHOT WATCHED_FILE
//
// `cargo xtask test` starts the runtime and `trunk serve` (xtask/src/demo.rs) and runs this:
// open the launcher, see the welcome and its buttons, type a greeting, see the answer, take a
// screenshot; then touch a file trunk watches (its time only, not its content) and see the page
// rebuilt and reloaded. Every wait is bounded, and so is the whole run.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('node:fs');

const [url, chromiumPath, screenshot, watched] = process.argv.slice(2);
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

    // Hot reload: trunk rebuilds on the change and tells the page, which reloads.
    await page.evaluate(() => { window.__beforeReload = true; });
    // The rebuild waits for cargo's lock when another build holds it.
    const reloaded = page.waitForEvent('load', { timeout: 300000 });
    const now = new Date();
    fs.utimesSync(watched, now, now);
    await reloaded;
    if (await page.evaluate(() => window.__beforeReload === true)) throw new Error('the page did not reload');
    await page.waitForSelector('.parley-launcher', WAIT);
    console.log(`trunk serve: touching ${watched} rebuilt and reloaded the page`);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(`trunk-serve: ${e.stack || e}`);
  process.exit(1);
});
