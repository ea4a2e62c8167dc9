// End-to-end: Debian's Chromium (through playwright-core, no browser download) against the real
// `parley` server serving the real release build of the widget, on loopback.
//
//   node e2e/run.cjs PARLEY_BINARY DIST_DIR CHROMIUM SCREENSHOT_DIR
//
// Each scenario starts from a fresh browser context; the server is started (and, for the fault
// scenario, stopped and restarted on the same port) by this script. Prints one line per
// scenario and a libtest-style summary (`test result: ok. N passed; M failed`), which
// `cargo xtask test` counts. Every wait is bounded.
'use strict';
const { chromium } = require('playwright-core');
const { spawn } = require('node:child_process');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const [parleyBin, distDir, chromiumPath, shotsDir] = process.argv.slice(2);
const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];
const WAIT = { timeout: 15000 };

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

// The demo project's API-call block asks 127.0.0.1:8080 for the delivery estimate: the server
// listens there when it is free, so the call is real; otherwise on a free port (the block then
// takes its failure path, which the scenario accepts).
async function startServer(port, dataDir) {
  const child = spawn(parleyBin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--widget-dir', distDir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start')), 15000);
    child.stderr.on('data', (chunk) => {
      if (String(chunk).includes('http://')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  child.stderr.resume();
  return child;
}

function stopServer(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function portIsFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// Playwright's CSS selectors pierce open Shadow DOM roots: `.parley-…` reaches inside.
const log = '[role=log]';
async function send(page, text) {
  await page.fill('.parley-composer__input', text);
  await page.press('.parley-composer__input', 'Enter');
}
async function lines(page) {
  return page.locator(`${log} > *`).count();
}
async function shot(page, name) {
  await page.screenshot({ path: path.join(shotsDir, `e2e-${name}.png`) });
}

// axe-core on the widget (its open Shadow DOM included): every violation is a failure.
const axePath = require.resolve('axe-core/axe.min.js');
async function accessible(page, when) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.addScriptTag({ path: axePath });
  }
  const violations = await page.evaluate(async () => {
    const host = document.querySelector('.parley-host');
    if (!host) return [];
    const result = await window.axe.run(host, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  });
  if (violations.length) throw new Error(`axe, ${when}: ${violations.join('; ')}`);
}

// What the live region holds: a polite log whose text includes `said`.
async function announced(page, said) {
  const region = page.locator('[role=log]');
  if ((await region.getAttribute('aria-live')) !== 'polite') throw new Error('the log is not a polite live region');
  const text = await region.textContent();
  if (!text.includes(said)) throw new Error(`the live region does not hold "${said}"`);
}

const scenarios = [];
const scenario = (name, f) => scenarios.push({ name, f });

scenario('a whole conversation: NLU, carousel, card, capture, custom action, API call, end, new chat', async ({ page, events }) => {
  await accessible(page, 'closed');
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  await accessible(page, 'open');
  await announced(page, 'What would you like to do?');
  await shot(page, '1-launch');
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
  await page.waitForSelector('.parley-carousel', WAIT);
  await announced(page, 'Great, a large pizza. Which one?');
  await accessible(page, 'with a carousel');
  await shot(page, '2-carousel');
  await page.click('.parley-carousel button:has-text("Pepperoni")');
  await page.waitForSelector('text=How many large pepperoni pizzas would you like?', WAIT);
  await send(page, '2');
  await page.waitForSelector('.parley-card__title:has-text("Your order")', WAIT);
  await accessible(page, 'with a card');
  await shot(page, '3-card');
  await page.click('.parley-card button:has-text("Confirm")');
  await page.waitForSelector('text=What name should we put on the order?', WAIT);
  await send(page, 'Dana');
  // The captured name, echoed back by the flow.
  await page.waitForSelector('text=Thanks, Dana!', WAIT);
  await send(page, 'dana@example.com');
  await page.waitForFunction(() => window.__events.some((e) => e.startsWith('parley:action')), null, WAIT);
  const action = (await page.evaluate(() => window.__events)).find((e) => e.startsWith('parley:action'));
  if (!action.includes('"paths":["success","cancel"]')) throw new Error(`unexpected action: ${action}`);
  await page.evaluate(() => window.parley.chat.interact({ type: 'success' }));
  // The thank-you has variants; the goodbye names the captured customer.
  await page.waitForSelector('text=Enjoy your meal, Dana!', WAIT);
  await page.waitForSelector('text=The conversation has ended.', WAIT);
  await announced(page, 'Enjoy your meal, Dana!');
  await accessible(page, 'ended');
  await shot(page, '4-ended');
  const said = await page.textContent(log);
  // The API-call block's success path ("about N minutes"), or its failure path ("soon") when
  // 127.0.0.1:8080 was taken by something else.
  if (!/about \d+ minutes|with you soon/.test(said)) throw new Error(`no delivery estimate: ${said.slice(-300)}`);
  await page.click('text=Start a new chat');
  await page.waitForSelector('.parley-choices button', WAIT);
  if ((await lines(page)) > 4) throw new Error('the new chat kept the old transcript');
});

scenario('a reload in the middle of a conversation restores it, and it goes on', async ({ page }) => {
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('.parley-carousel', WAIT);
  const before = await lines(page);
  await page.reload();
  await page.click('.parley-launcher');
  await page.waitForFunction((n) => document.querySelector('.parley-host').shadowRoot
    .querySelectorAll('[role=log] > *').length === n, before, WAIT);
  await send(page, 'veggie');
  await page.waitForSelector('text=How many large veggie pizzas would you like?', WAIT);
});

scenario('garbage in localStorage before load: discarded with a warning, the chat works', async ({ page, context }) => {
  const warnings = [];
  page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
  await context.addInitScript(() => {
    if (!sessionStorage.getItem('planted')) {
      localStorage.setItem('parley:2:pizza:development:anonymous', '{"schema":2,"key":');
      sessionStorage.setItem('planted', '1');
    }
  });
  await page.reload();
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  if (!warnings.some((w) => w.includes('the saved conversation is corrupt'))) {
    throw new Error(`the garbage was not read and discarded: ${warnings}`);
  }
  const saved = await page.evaluate(() => localStorage.getItem('parley:2:pizza:development:anonymous'));
  if (!saved || !saved.startsWith('{"schema":2')) throw new Error(`not rewritten: ${saved}`);
});

scenario('the server dies mid-conversation: the message is marked failed; after a restart the retry goes on', async ({ page, server }) => {
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  await server.stop();
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('.parley-bubble--failed', WAIT);
  await page.waitForSelector('.parley-banner', WAIT);
  await accessible(page, 'with a failed message and the banner');
  await shot(page, '5-failed');
  await server.start();
  await page.click('.parley-bubble__retry');
  await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
  if (await page.locator('.parley-bubble--failed').count()) throw new Error('still marked failed');
});

scenario('stateful mode: the runtime keeps the state under a user id', async ({ page }) => {
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  await page.evaluate(() => {
    window.parley.chat.destroy();
    window.parley.chat.load({ verify: { projectID: 'pizza' }, mode: 'stateful', persistence: 'memory', autostart: true });
  });
  await page.waitForSelector('.parley-choices button', WAIT);
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
  if (!urls.some((u) => /\/state\/user\/u-[0-9a-f]+\/interact$/.test(u))) throw new Error(`no stateful call: ${urls}`);
});

scenario('embedded mode fills its target, without a launcher', async ({ page }) => {
  await page.evaluate(() => {
    window.parley.chat.destroy();
    const target = document.createElement('div');
    target.id = 'chat';
    target.style.cssText = 'width: 400px; height: 500px; margin: 20px';
    document.body.append(target);
    window.parley.chat.load({ verify: { projectID: 'pizza' }, render: { mode: 'embedded', target: '#chat' }, persistence: 'memory' });
  });
  await page.waitForSelector('#chat .parley-choices button', WAIT);
  if (await page.locator('.parley-launcher').count()) throw new Error('a launcher in embedded mode');
  await accessible(page, 'embedded');
  const box = await page.locator('#chat .parley-panel').boundingBox();
  if (Math.abs(box.width - 400) > 2 || Math.abs(box.height - 500) > 2) throw new Error(`panel box ${JSON.stringify(box)}`);
  await shot(page, '6-embedded');
});

scenario('a narrow mobile viewport: the open panel takes the whole screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 740 });
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  const box = await page.locator('.parley-panel').boundingBox();
  if (box.x !== 0 || box.y !== 0 || Math.abs(box.width - 390) > 1 || Math.abs(box.height - 740) > 1) {
    throw new Error(`panel box ${JSON.stringify(box)}`);
  }
  const size = await page.locator('.parley-composer__input').evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
  if (size < 16) throw new Error(`input font ${size}px`);
  await accessible(page, 'full screen on a phone');
  await shot(page, '7-mobile');
});

(async () => {
  fs.mkdirSync(shotsDir, { recursive: true });
  const port = (await portIsFree(8080)) ? 8080 : await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-'));
  let child = await startServer(port, dataDir);
  const running = () => child.exitCode === null && child.signalCode === null;
  const server = {
    stop: async () => { await stopServer(child); },
    start: async () => { child = await startServer(port, dataDir); },
  };
  const browser = await chromium.launch({ executablePath: chromiumPath, args });
  let passed = 0;
  let failed = 0;
  for (const { name, f } of scenarios) {
    // A scenario that failed with the server down leaves it down: the next one starts it.
    if (!running()) await server.start();
    const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1024, height: 800 } });
    await context.addInitScript(() => {
      window.__events = [];
      for (const n of ['parley:open', 'parley:close', 'parley:action', 'parley:error']) {
        addEventListener(n, (e) => window.__events.push(`${n} ${JSON.stringify(e.detail ?? null)}`));
      }
    });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const started = Date.now();
    try {
      await page.goto(`http://127.0.0.1:${port}/`);
      await page.waitForSelector('.parley-launcher', WAIT);
      await f({ page, context, server, events: () => page.evaluate(() => window.__events) });
      if (errors.length) throw new Error(`errors on the page: ${errors.join('; ')}`);
      passed += 1;
      console.log(`test ${name} ... ok (${Date.now() - started} ms)`);
    } catch (e) {
      failed += 1;
      console.log(`test ${name} ... FAILED\n    ${String(e.stack || e).split('\n').slice(0, 4).join('\n    ')}`);
      await shot(page, `failed-${scenarios.findIndex((s) => s.name === name)}`).catch(() => {});
    }
    await context.close();
  }
  await browser.close();
  await stopServer(child);
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`test result: ${failed ? 'FAILED' : 'ok'}. ${passed} passed; ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.error(e);
  console.log('test result: FAILED. 0 passed; 1 failed');
  process.exit(1);
});
