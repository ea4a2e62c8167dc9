// `cargo xtask bench widget`: the widget's timings in Debian's headless Chromium, driven by
// playwright-core (no browser download). Usage: node widget.cjs URL CHROMIUM RUNS
// Prints one JSON object: each measure's runs, median and p90, in milliseconds.
//
// - launcher_painted: from navigation start to the first frame painted after the launcher is in
//   the page (the loader's, inside its Shadow DOM; the app is not needed for it);
// - app_ready: from navigation start to `parley:ready` (the loader fetched the app when the
//   browser was idle, or on the click, whichever came first);
// - first_message_painted: from a click on the launcher as soon as it is painted (so it
//   includes fetching and starting the app, unless idle time already did) to the first frame
//   after the first bot message, pacing off (prefers-reduced-motion), against the real server;
// - click_waiting_for_app, click_launch_request, click_rest: that click's time split into waiting
//   for the app (if it was not there yet), the launch request (resource timing), and the rest
//   (mounting the panel, rendering the first turn);
// - slow_launcher_painted, slow_app_ready: the first two over an emulated slow link (150 ms,
//   1.6 Mbit/s), where the app's 100 KB take a while and the loader's launcher does not wait;
// - append_to_10, append_to_1000: with a restored transcript of 10 or 1,000 lines, from
//   pressing Enter to the frame after the user's line is in the log (their ratio says what a
//   long transcript costs; both include waiting for two frames).
'use strict';
const { chromium } = require('playwright-core');
const { probe } = require('./probe.cjs');

const [url, executablePath, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 10);
const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

// Resolves, in the page, once `find()` returns an element and a frame has been painted after.
const paintedWhen = (find) => new Promise((resolve) => {
  const poll = () => {
    if (find()) requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
    else requestAnimationFrame(poll);
  };
  poll();
});

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
  return { runs: values.map((v) => Math.round(v * 10) / 10), median: at(0.5), p90: at(0.9) };
}

// A saved conversation of `n` lines, in the widget's schema-2 shape.
function savedConversation(n) {
  const entries = [];
  for (let i = 0; i < n; i++) {
    entries.push(i % 2
      ? { user: `message ${i}`, delivery: 'sent' }
      : { bot: { type: 'text', payload: { message: `Line **${i}** of the history` } } });
  }
  return JSON.stringify({ schema: 2, key: 'parley:2:pizza:development:anonymous', savedAt: Date.now(),
    ended: false, entries, choices: [] });
}

// With a restored transcript of `lines` lines: from pressing Enter to the frame after the
// user's line is in the log.
async function appendTo(browser, lines) {
  const big = await browser.newContext({ reducedMotion: 'reduce' });
  const page2 = await big.newPage();
  const saved = savedConversation(lines);
  await page2.addInitScript((text) => localStorage.setItem('parley:2:pizza:development:anonymous', text), saved);
  await page2.goto(url);
  await page2.waitForFunction(() => {
    const host = document.querySelector('.parley-host');
    return host && host.shadowRoot && host.shadowRoot.querySelector('.parley-launcher');
  });
  await page2.evaluate(() => document.querySelector('.parley-host').shadowRoot.querySelector('.parley-launcher').click());
  await page2.waitForFunction((n) => document.querySelector('.parley-host').shadowRoot
    .querySelectorAll('[role=log] > *').length >= n, lines);
  const took = await page2.evaluate(async () => {
    const root = document.querySelector('.parley-host').shadowRoot;
    const input = root.querySelector('.parley-composer__input');
    input.value = 'one more';
    input.dispatchEvent(new Event('input'));
    await new Promise((r) => requestAnimationFrame(() => r()));
    const before = root.querySelectorAll('[role=log] > *').length;
    const t = performance.now();
    root.querySelector('.parley-composer__send').click();
    return await new Promise((resolve) => {
      const poll = () => {
        if (root.querySelectorAll('[role=log] > *').length > before) {
          requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
        } else requestAnimationFrame(poll);
      };
      poll();
    });
  });
  await big.close();
  return took;
}

(async () => {
  const browser = await chromium.launch({ executablePath, args });
  const result = { launcher_painted: [], app_ready: [], first_message_painted: [], click_waiting_for_app: [],
    click_launch_request: [], click_rest: [], slow_launcher_painted: [], slow_app_ready: [],
    append_to_10: [], append_to_1000: [] };
  for (let i = 0; i < runs; i++) {
    const context = await browser.newContext({ reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.addInitScript(probe);
    await page.goto(url);
    result.launcher_painted.push(await page.evaluate(() => window.__launcher));

    const shadow = () => document.querySelector('.parley-host').shadowRoot;
    const clicked = await page.evaluate(() => {
      const t = performance.now();
      document.querySelector('.parley-host').shadowRoot.querySelector('.parley-launcher').click();
      return t;
    });
    const painted = await page.evaluate(`(${paintedWhen})(() => (${shadow})().querySelector('.parley-bubble--bot'))`);
    result.first_message_painted.push(painted - clicked);
    const ready = await page.evaluate(() => window.__ready);
    result.app_ready.push(ready);
    // Where the click's time went: waiting for the app (fetch, compile, start), the launch
    // request (resource timing of the first /interact), and the rest (mounting, rendering).
    const launch = await page.evaluate(() => {
      const call = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/interact'));
      return call ? { start: call.startTime, end: call.responseEnd } : null;
    });
    const waitedForApp = Math.max(0, ready - clicked);
    const request = launch ? launch.end - launch.start : 0;
    result.click_waiting_for_app.push(waitedForApp);
    result.click_launch_request.push(request);
    result.click_rest.push(Math.max(0, painted - clicked - waitedForApp - request));
    await context.close();

    // The same page over a slow link (Chrome's "Fast 3G": 150 ms latency, 1.6 Mbit/s down, on
    // loopback through DevTools' throttling): what the loader is for.
    const slow = await browser.newContext({ reducedMotion: 'reduce' });
    const slowPage = await slow.newPage();
    const cdp = await slow.newCDPSession(slowPage);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 0.75e6 / 8,
    });
    await slowPage.addInitScript(() => {
      window.__ready = new Promise((resolve) => addEventListener('parley:ready', () => resolve(performance.now())));
    });
    await slowPage.addInitScript(`window.__launcher = (${paintedWhen})(() => {
      const host = document.querySelector('.parley-host');
      return host && host.shadowRoot && host.shadowRoot.querySelector('.parley-launcher');
    })`);
    await slowPage.goto(url);
    result.slow_launcher_painted.push(await slowPage.evaluate(() => window.__launcher));
    result.slow_app_ready.push(await slowPage.evaluate(() => window.__ready));
    await slow.close();

    for (const lines of [10, 1000]) {
      result[`append_to_${lines}`].push(await appendTo(browser, lines));
    }
  }
  await browser.close();
  const report = {};
  for (const [name, values] of Object.entries(result)) report[name] = stats(values);
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
