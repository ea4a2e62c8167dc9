// A/B of the launcher click, interleaved (on a busy machine, only runs taken side by side
// compare): each round measures every variant once, in turn, in a fresh browser context.
// Usage: NODE_PATH=target/tools/playwright/node_modules node xtask/bench/ab.cjs CHROMIUM RUNS
//   MODE NAME=URL[,chromium flags separated by spaces] ...
// MODE `cold` clicks as soon as the launcher is painted (as `cargo xtask bench widget` does),
// `warm` once `parley:ready` has come and the page has been idle for 500 ms. Measured as
// `xtask/bench/widget.cjs` measures first_message_painted: from the click to the second frame
// after the first bot message is in the DOM. Prints each variant's runs, median and p90.
'use strict';
const { chromium } = require('playwright-core');
const { probe } = require('./probe.cjs');

const [executablePath, runsArg, mode, ...specs] = process.argv.slice(2);
const runs = Number(runsArg);
const base = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];

const before = process.env.PARLEY_AB_BEFORE ? require('fs').readFileSync(process.env.PARLEY_AB_BEFORE, 'utf8') : '';
const beforeFor = (process.env.PARLEY_AB_BEFORE_FOR || '').split(',');

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * p))];
  return { median: at(0.5), p90: at(0.9), runs: values.map((v) => Math.round(v * 10) / 10) };
}

async function once(browser, url, name) {
  const context = await browser.newContext({ reducedMotion: 'reduce' });
  const page = await context.newPage();
  await page.addInitScript(probe);
  await page.goto(url);
  await page.evaluate(() => window.__launcher);
  if (mode === 'warm') {
    await page.evaluate(() => window.__ready);
    await page.waitForTimeout(500);
  }
  // An experiment's script, run in the page before the click (PARLEY_AB_BEFORE=file.js, for
  // the variants named in PARLEY_AB_BEFORE_FOR, comma-separated).
  if (before && beforeFor.includes(name)) await page.evaluate(before);
  const took = await page.evaluate(() => new Promise((resolve) => {
    const root = document.querySelector('.parley-host').shadowRoot;
    const t = performance.now();
    root.querySelector('.parley-launcher').click();
    const poll = () => {
      const now = document.querySelector('.parley-host').shadowRoot;
      if (now.querySelector('.parley-bubble--bot')) {
        requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t)));
      } else requestAnimationFrame(poll);
    };
    poll();
  }));
  await context.close();
  return took;
}

(async () => {
  const variants = [];
  for (const spec of specs) {
    const [name, rest] = spec.split(/=(.*)/s);
    const [url, flags = ''] = rest.split(/,(.*)/s);
    const browser = await chromium.launch({ executablePath, args: [...base, ...flags.split(' ').filter(Boolean)] });
    variants.push({ name, url, browser, times: [] });
  }
  for (let i = 0; i < runs; i++) {
    // Alternate the order, so that neither variant always runs first after a pause.
    const order = i % 2 ? [...variants].reverse() : variants;
    for (const v of order) v.times.push(await once(v.browser, v.url, v.name));
  }
  for (const v of variants) {
    await v.browser.close();
    const s = stats(v.times);
    console.log(`${v.name.padEnd(16)} median ${s.median.toFixed(1).padStart(6)} ms  p90 ${s.p90.toFixed(1).padStart(6)} ms  (${runs} runs, ${mode}) ${JSON.stringify(s.runs)}`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
