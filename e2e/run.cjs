// End-to-end: Debian's Chromium (through playwright-core, no browser download) against the real
// `parley` server serving the real release build of the widget, on loopback.
//
//   node e2e/run.cjs PARLEY_BINARY DIST_DIR CHROMIUM SCREENSHOT_DIR NPM_TARBALL
//
// Each scenario starts from a fresh browser context; the server is started (and, for the fault
// scenario, stopped and restarted on the same port) by this script. The XSS corpus
// (xss-vectors.cjs, through xss.cjs) and the faults the real runtime does not make (slowness,
// garbage answers, unknown traces) are served by a fake runtime (fake-runtime.cjs) to the widget
// on the real server's page. The example hosts (examples/hosts/, through hosts.cjs) are served
// from another origin under a strict CSP: the script tag, the embedded mode, and the npm package
// built by Vite from the packed tarball. Prints one line per scenario and a libtest-style summary
// (`test result: ok. N passed; M failed`), which `cargo xtask test` counts. Every wait is bounded.
'use strict';
const { chromium } = require('playwright-core');
const { spawn } = require('node:child_process');
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { isDeepStrictEqual } = require('node:util');
const vectors = require('./xss-vectors.cjs');
const xss = require('./xss.cjs');
const { startFakeRuntime, state } = require('./fake-runtime.cjs');
const { examples, startHost, buildViteExample } = require('./hosts.cjs');

const [parleyBin, distDir, chromiumPath, shotsDir, npmTarball] = process.argv.slice(2);
const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
  // No name resolves: whatever a hostile trace points at, nothing leaves the loopback.
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'];
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

// The demo project's API-call block asks the server itself for the delivery estimate (a path:
// the server's own address, whatever the port), so the call is real on any port.
async function startServer(port, dataDir) {
  const child = spawn(parleyBin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--widget-dir', distDir, '--debug-traces'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
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
  await accessible(page, 'after a reload');
  await shot(page, '2b-after-reload');
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
  await accessible(page, 'after garbage in storage');
  await shot(page, '2c-garbage-storage');
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

// With `stream: false`: the public route Voiceflow's widget calls (streamed turns, the default
// against a runtime with v4 sessions, are e2e/widget-stream.cjs's).
scenario('stateful mode: the runtime keeps the state under a user id', async ({ page }) => {
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  await page.evaluate(() => {
    window.parley.chat.destroy();
    window.parley.chat.load({ verify: { projectID: 'pizza' }, mode: 'stateful', persistence: 'memory', autostart: true, stream: false });
  });
  await page.waitForSelector('.parley-choices button', WAIT);
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
  if (!urls.some((u) => /\/state\/user\/u-[0-9a-f]+\/interact$/.test(u))) throw new Error(`no stateful call: ${urls}`);
  await accessible(page, 'stateful');
  await shot(page, '5b-stateful');
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
  // Nothing covers the composer (the launcher sat on the send button).
  const covered = await page.locator('.parley-composer__send').evaluate((b) => {
    const r = b.getBoundingClientRect();
    const at = b.getRootNode().elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
    return at === b || b.contains(at) ? null : String(at && (at.closest('[class]') || at).getAttribute('class'));
  });
  if (covered) throw new Error(`the send button is under ${covered}`);
  await accessible(page, 'full screen on a phone');
  await shot(page, '7-mobile');
  // Closed from the header, the focus goes back to the launcher, which shows again.
  await page.click('.parley-header__close');
  const back = await page.evaluate(() => {
    const root = document.querySelector('.parley-host').shadowRoot;
    const l = root.querySelector('.parley-launcher');
    return root.activeElement === l && l.getBoundingClientRect().width > 0;
  });
  if (!back) throw new Error('the launcher is not back with the focus after closing');
});

// The widget against a runtime of the scenario's own (the demo page loads the pizza one).
async function loadWidget(page, options) {
  await page.evaluate((o) => {
    window.parley.chat.destroy();
    window.parley.chat.load(o);
  }, options);
}

// Polls a condition on this side (the fake runtime's records), bounded like every wait.
async function until(condition, what, timeout = WAIT.timeout) {
  const end = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Waits until the transcript holds `text` (markers hold braces, which text= selectors mangle).
async function logHolds(page, text) {
  await page.waitForFunction((t) => document.querySelector('.parley-host')?.shadowRoot
    ?.querySelector('[role=log]')?.textContent.includes(t), text, WAIT);
}

const textTrace = (message) => ({ type: 'text', payload: { message } });

scenario(`XSS: ${vectors.length} vectors through every rendered field: nothing runs, no unsafe URL, no foreign element`, async ({ page, context }) => {
  const ran = [];
  await context.exposeBinding('__xss', ({ frame }, id) => { ran.push(`__xss('${id}') ran in ${frame.url().slice(0, 80)}`); });
  page.on('dialog', (d) => {
    ran.push(`a ${d.type()} dialog: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on('popup', (p) => ran.push(`a popup: ${p.url()}`));
  page.on('framenavigated', (f) => ran.push(`a navigation: ${f.url().slice(0, 80)}`));
  // Allowed URLs point at 127.0.0.1; anything else is refused before it is sent.
  await context.route((url) => url.hostname !== '127.0.0.1', (route) => route.abort());
  // The page's own elements; anything else in the light DOM but the widget's host is foreign.
  await page.evaluate(() => { window.__initial = new WeakSet(document.querySelectorAll('*')); });
  const problems = [];
  const audit = async (when) => {
    for (const p of await page.evaluate(xss.audit)) problems.push(`${when}: ${p}`);
  };
  const missing = [];
  const batches = xss.plan(vectors, 24);
  const fake = await startFakeRuntime(({ number }) => ({
    body: { state: state(number), trace: number < batches.length ? batches[number].traces : [textTrace('{done}')] },
  }));
  // Renderings found, by field: each must reach one per vector (the echoes, one per turn).
  const tally = new Map();
  const found = (field) => tally.set(field, (tally.get(field) || 0) + 1);
  let urlsKept = 0;
  let urlsDropped = 0;
  try {
    await loadWidget(page, { verify: { projectID: 'xss' }, url: fake.url, persistence: 'memory', autostart: true });
    for (const [k, batch] of batches.entries()) {
      await logHolds(page, batch.end);
      await audit(`turn ${k}`);
      // Quick replies go with the next turn: their labels are checked now.
      const choices = await page.evaluate(() => document.querySelector('.parley-host').shadowRoot
        .querySelector('.parley-choices').textContent);
      for (const c of batch.choices) {
        if (choices.includes(c.name)) found('choice.button');
        else missing.push(`${c.id} choice.button`);
      }
      // The next turn, by each way a user has: a quick reply, a card's button, a carousel's, typing.
      const { id, payload } = batch.vectors[k % batch.vectors.length];
      const calls = fake.calls.length;
      const way = ['choice', 'card', 'carousel', 'typed'][k % 4];
      let echo;
      if (way === 'typed') {
        echo = xss.marker(id, 'typed');
        await send(page, echo + payload);
      } else {
        const where = { choice: '.parley-choices', card: '.parley-bubble--card', carousel: '.parley-carousel' }[way];
        echo = xss.marker(id, `${way}.button`);
        await page.locator(`${where} button`, { hasText: echo }).click(WAIT);
      }
      await until(() => fake.calls.length > calls, `the request of turn ${k}`);
      const sent = fake.calls[calls].body.request;
      const expected = way === 'typed'
        ? sent.type === 'text' && sent.payload.startsWith(echo)
        : isDeepStrictEqual(sent, { type: 'xss-next', payload: { label: payload, id, field: way } });
      if (!expected) problems.push(`turn ${k}: the ${way} sent ${JSON.stringify(sent).slice(0, 200)}`);
      await logHolds(page, echo);
      found('user echo');
    }
    await logHolds(page, '{done}');
    await audit('the whole transcript');
    const shown = await page.evaluate(xss.rendered);
    for (const { instances } of batches) {
      for (const i of instances) {
        if (!shown.log.includes(i.expect)) {
          missing.push(`${i.id} ${i.field}`);
          continue;
        }
        found(i.field);
        if (!i.sink) continue;
        const value = shown.sinks[i.sink][i.marker];
        if (value === undefined) missing.push(`${i.id} ${i.field} (its element)`);
        else if (value === null && i.allow) missing.push(`${i.id} ${i.field}: an allowed URL was dropped`);
        else if (value !== null && !i.allow) problems.push(`${i.id} ${i.field}: kept ${JSON.stringify(value)}`);
        else if (value === null) urlsDropped += 1;
        else urlsKept += 1;
      }
    }
    if (shown.widget.includes(':hidden}')) problems.push('a custom action or an unknown trace was rendered');
    await shot(page, '8-xss-transcript');

    // Proactive messages by the launcher, before any conversation.
    fake.answer = ({ number }) => ({ body: { state: state(number), trace: [] } });
    await loadWidget(page, { verify: { projectID: 'xss-proactive' }, url: fake.url, persistence: 'memory' });
    await page.evaluate((messages) => {
      for (const message of messages) window.parley.chat.proactive.push({ type: 'text', payload: { message } });
    }, vectors.map((v) => `${xss.marker(v.id, 'proactive.message')} ${v.payload}`));
    await page.waitForSelector('.parley-proactive', WAIT);
    await audit('proactive messages');
    const proactive = await page.evaluate(() => document.querySelector('.parley-host').shadowRoot
      .querySelector('.parley-proactive').textContent);
    for (const v of vectors) {
      if (proactive.includes(xss.marker(v.id, 'proactive.message'))) found('proactive.message');
      else missing.push(`${v.id} proactive.message`);
    }

    // The assistant's title and picture, one load per vector.
    for (const v of vectors) {
      const title = xss.marker(v.id, 'assistant.title') + v.payload;
      await loadWidget(page, { verify: { projectID: 'xss-title' }, url: fake.url, persistence: 'memory', autostart: true,
        assistant: { title, image: v.payload } });
      const header = await page.waitForFunction(() => {
        const root = document.querySelector('.parley-host')?.shadowRoot;
        const h2 = root?.querySelector('.parley-header__title');
        return h2 && { title: h2.textContent, avatar: root.querySelector('.parley-header__avatar')?.getAttribute('src') ?? null };
      }, null, WAIT).then((h) => h.jsonValue());
      await audit(`assistant ${v.id}`);
      if (header.title === title) found('assistant.title');
      else missing.push(`${v.id} assistant.title`);
      const allow = xss.allowed.image(v.payload);
      if (header.avatar === null && allow) missing.push(`${v.id} assistant.image: an allowed URL was dropped`);
      else if (header.avatar !== null && !allow) problems.push(`${v.id} assistant.image: kept ${JSON.stringify(header.avatar)}`);
      else {
        found('assistant.image');
        if (allow) urlsKept += 1;
        else urlsDropped += 1;
      }
    }
  } finally {
    await fake.close();
  }
  // Last, as axe is a script of its own that the audits above would count as foreign: the
  // widget, with the last hostile title and picture, is still accessible.
  await accessible(page, 'after hostile traces');
  // An image's error handler would run after its load failed: give it the time to.
  await page.waitForTimeout(300);
  if (page.frames().length !== 1) problems.push(`${page.frames().length - 1} frame(s) on the page`);
  const failures = [...ran, ...problems,
    ...(missing.length ? [`${missing.length} vector × field renderings missing: ${missing.slice(0, 12).join(', ')}`] : [])];
  if (failures.length) throw new Error(`${failures.length} problem(s): ${failures.slice(0, 20).join('; ')}`);
  // Not vacuous: every field rendered every vector (a miss above would have said which).
  const fields = [...new Set(batches[0].instances.map((i) => i.field)),
    'choice.button', 'proactive.message', 'assistant.title', 'assistant.image'];
  const short = fields.filter((field) => tally.get(field) !== vectors.length);
  if (short.length || tally.get('user echo') !== batches.length) {
    throw new Error(`renderings by field: ${JSON.stringify([...tally])}`);
  }
  const kinds = new Set(vectors.map((v) => v.kind)).size;
  // The custom action's and unknown traces' three fields render nothing, by design.
  return `${vectors.length} vectors in ${kinds} classes x ${fields.length + 3} fields: `
    + `${vectors.length * fields.length} renderings checked and ${batches.length} echoes of clicked or typed vectors, `
    + `${urlsKept} allowed URLs kept, ${urlsDropped} unsafe URLs dropped`;
});

scenario('a slow server: the typing indicator shows, a second Enter or click sends nothing, then the answer shows', async ({ page }) => {
  const fake = await startFakeRuntime(({ body, number }) => {
    const { type, payload } = body.request;
    return {
      delayMs: payload === 'hello' ? 2000 : 0,
      body: { state: state(number), trace: [textTrace(type === 'text' ? `You said: ${payload}` : 'Hello! Say something.')] },
    };
  });
  try {
    await loadWidget(page, { verify: { projectID: 'slow' }, url: fake.url, persistence: 'memory', autostart: true });
    await page.waitForSelector('text=Hello! Say something.', WAIT);
    await send(page, 'hello');
    await page.waitForSelector('.parley-typing', { state: 'visible', timeout: 1000 });
    if (!(await page.locator('.parley-composer__send').isDisabled())) throw new Error('Send is enabled while waiting');
    // A second message while the first is out: Enter, then a (forced) click on the disabled Send.
    await send(page, 'hello again');
    await page.click('.parley-composer__send', { force: true, timeout: 1000 });
    await shot(page, '9-slow');
    if (!(await page.locator('.parley-typing').isVisible())) throw new Error('the typing indicator went before the answer');
    await accessible(page, 'waiting for a slow answer');
    await page.waitForSelector('text=You said: hello', WAIT);
    await page.waitForSelector('.parley-typing', { state: 'detached', ...WAIT });
    const texts = fake.requests().filter((r) => r.type === 'text');
    if (texts.length !== 1) throw new Error(`${texts.length} text requests: ${JSON.stringify(texts)}`);
    // The second message was neither sent nor lost: it waits in the input, and goes now.
    const kept = await page.inputValue('.parley-composer__input');
    if (kept !== 'hello again') throw new Error(`the input holds "${kept}"`);
    await page.press('.parley-composer__input', 'Enter');
    await page.waitForSelector('text=You said: hello again', WAIT);
  } finally {
    await fake.close();
  }
});

scenario('a server answering 500, invalid JSON, then wrong types: the message fails clearly, nothing is lost, the retry goes through', async ({ page, events }) => {
  const faults = [
    { status: 500, body: { code: 'internal', message: 'the runtime broke' }, says: 'refused the message (500 internal: the runtime broke)' },
    { status: 200, body: '{"trace": [', says: 'not understood (not JSON)' },
    { status: 200, body: '{"trace": "nope", "state": 3}', says: 'not understood (no state)' },
    // A good state with a bad trace list: the state must not be taken either.
    { status: 200, body: { state: state(99), trace: 'nope' }, says: 'not understood (no trace list)' },
  ];
  let fault = null;
  const fake = await startFakeRuntime(({ body, number }) => fault || {
    body: { state: state(number), trace: [textTrace(body.request.type === 'launch' ? 'Welcome.' : `Got it: ${body.request.payload}`)] },
  });
  const key = 'parley:2:faults:development:anonymous';
  const stored = () => page.evaluate((k) => JSON.parse(localStorage.getItem(k)), key);
  try {
    await loadWidget(page, { verify: { projectID: 'faults' }, url: fake.url, autostart: true });
    await page.waitForSelector('text=Welcome.', WAIT);
    const before = (await stored()).state;
    if (!isDeepStrictEqual(before, state(0))) throw new Error(`stored state ${JSON.stringify(before)}`);
    for (const [i, f] of faults.entries()) {
      fault = f;
      const calls = fake.calls.length;
      if (i === 0) await send(page, 'my order 42');
      else await page.click('.parley-bubble__retry', WAIT);
      await until(() => fake.calls.length > calls, `call ${calls}`);
      // The visitor reads a plain sentence; the developer's words go to parley:error.
      await page.waitForFunction(() => document.querySelector('.parley-host').shadowRoot
        .querySelector('.parley-banner')?.textContent === 'Something went wrong.', null, WAIT);
      const said = (await events()).filter((e) => e.startsWith('parley:error')).pop() || '';
      if (!said.includes(f.says)) throw new Error(`parley:error after fault ${i}: ${said}`);
      await page.waitForSelector('.parley-bubble--failed:has-text("my order 42") .parley-bubble__retry', WAIT);
      if ((await lines(page)) !== 2) throw new Error(`after fault ${i}: ${await lines(page)} lines`);
      const now = (await stored()).state;
      if (!isDeepStrictEqual(now, before)) throw new Error(`after fault ${i} the stored state is ${JSON.stringify(now)}`);
      // The same request, with the same state, every time.
      const sent = fake.calls[calls].body;
      if (!isDeepStrictEqual(sent.request, { type: 'text', payload: 'my order 42' }) || !isDeepStrictEqual(sent.state, before)) {
        throw new Error(`attempt ${i} sent ${JSON.stringify(sent)}`);
      }
    }
    await announced(page, 'my order 42');
    await accessible(page, 'a failed message after a garbage answer');
    await shot(page, '10-faults');
    fault = null;
    await page.click('.parley-bubble__retry', WAIT);
    await page.waitForSelector('text=Got it: my order 42', WAIT);
    if (await page.locator('.parley-bubble--failed, .parley-banner').count()) throw new Error('still failed');
    const after = (await stored()).state;
    if (!isDeepStrictEqual(after, state(faults.length + 1))) throw new Error(`the new state was not stored: ${JSON.stringify(after)}`);
    const errors = (await events()).filter((e) => e.startsWith('parley:error'));
    if (errors.length !== faults.length) throw new Error(`${errors.length} parley:error events`);
  } finally {
    await fake.close();
  }
});

scenario('unknown trace types among known ones: the known render in order, the rest are skipped, no console error', async ({ page }) => {
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  // One blue pixel, shown 96 px wide.
  const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mOwjr4NAAJGAXIE1Xa3AAAAAElFTkSuQmCC';
  const first = [
    textTrace('First, a **known** text.'),
    { type: 'completion', payload: { state: 'start', content: 'STREAMED must not show' } },
    { type: 'knowledgeBase', payload: { query: { output: 'KB must not show' }, chunks: [] } },
    { type: 'brand-new-thing', payload: { message: 'UNKNOWN must not show' } },
    { type: 'visual', payload: { visualType: 'image', image: png, dimensions: { width: 96, height: 96 } } },
    // Known types with the wrong shape, and traces without a usable type.
    { type: 'carousel', payload: { layout: 'Carousel', cards: 'oops' } },
    { type: 'text', payload: 'MALFORMED must not show' },
    { payload: { message: 'UNTYPED must not show' } },
    { type: 42, payload: { message: 'NUMBER-TYPED must not show' } },
    { type: 'debug', payload: { message: 'DEBUG must not show' } },
    { type: 'cardV2', payload: { title: 'A known card', description: { text: 'With a description.' },
      buttons: [{ name: 'Fine', request: { type: 'fine' } }] } },
    textTrace('Last, another known text.'),
    { type: 'choice', payload: { buttons: [{ name: 'Go on', request: { type: 'go-on' } }] } },
    { type: 'x-telemetry' },
  ];
  const fake = await startFakeRuntime(({ body, number }) => ({
    body: { state: state(number), trace: body.request.type === 'launch' ? first : [textTrace('Still going.')] },
  }));
  try {
    await loadWidget(page, { verify: { projectID: 'unknown' }, url: fake.url, persistence: 'memory', autostart: true });
    await page.waitForSelector('.parley-choices button:has-text("Go on")', WAIT);
    const shown = await page.evaluate(() => [...document.querySelector('.parley-host').shadowRoot
      .querySelectorAll('[role=log] > *')].map((e) => `${e.className.replace('parley-bubble ', '')}: ${[...e.childNodes].filter((n) => n.localName !== 'time').map((n) => n.textContent).join('')}`));
    const want = ['parley-bubble--bot: First, a known text.', 'parley-bubble--image: ',
      'parley-bubble--card: A known cardWith a description.Fine', 'parley-bubble--bot: Last, another known text.'];
    if (!isDeepStrictEqual(shown, want)) throw new Error(`the transcript: ${JSON.stringify(shown)}`);
    await accessible(page, 'after unknown traces');
    await shot(page, '11-unknown-traces');
    await page.click('.parley-choices button:has-text("Go on")');
    await page.waitForSelector('text=Still going.', WAIT);
    if (!isDeepStrictEqual(fake.requests()[1], { type: 'go-on' })) throw new Error(`sent ${JSON.stringify(fake.requests()[1])}`);
    if (consoleErrors.length) throw new Error(`console errors: ${consoleErrors.join('; ')}`);
  } finally {
    await fake.close();
  }
});

// axe-core on a page whose CSP refuses inline scripts: served from the page's own `origin`.
async function accessibleUnderCsp(page, origin, when) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    await page.route(`${origin}/__axe.js`, (route) => route.fulfill({ path: axePath, contentType: 'text/javascript' }));
    await page.addScriptTag({ url: `${origin}/__axe.js` });
  }
  await accessible(page, when);
}

// What the page's CSP refused (recorded by the init script) and what it wrote as console errors.
async function refused(page) {
  return page.evaluate(() => window.__csp);
}
function consoleErrors(page) {
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} for ${r.url()}`); });
  return errors;
}
// The app's files (the wasm-bindgen glue and the wasm, hashed names) as the page requests them.
function appFetches(page) {
  const urls = [];
  page.on('request', (r) => { if (/parley-widget-[^/]*(\.js|_bg\.wasm)$/.test(r.url())) urls.push(r.url()); });
  return urls;
}
// Every scenario starts on the demo page, whose loader fetches its app once the launcher is
// painted: a scenario that counts requests leaves it first, or that fetch may land in its count.
async function awayFromDemo(page) {
  await page.goto('about:blank');
}
// The demo conversation up to the carousel, whose pictures come from the runtime's server.
async function orderUpToCarousel(page) {
  await page.waitForSelector('.parley-choices button', WAIT);
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('.parley-carousel', WAIT);
  await page.waitForFunction(() => [...document.querySelector('.parley-host').shadowRoot
    .querySelectorAll('.parley-carousel img')].some((i) => i.complete && i.naturalWidth > 0), null, WAIT);
}
async function noRefusals(page, errors) {
  const csp = await refused(page);
  if (csp.length) throw new Error(`the CSP refused: ${csp.join('; ')}`);
  if (errors.length) throw new Error(`console errors: ${errors.join('; ')}`);
}

scenario("the script tag on another origin under a strict CSP: the launcher is painted at once, the app fetched on hover, the chat works (CORS)", async ({ page, parley }) => {
  const host = await startHost(path.join(examples, 'script-tag'), { parleyOrigin: parley });
  await awayFromDemo(page);
  const errors = consoleErrors(page);
  const fetched = appFetches(page);
  const encodings = [];
  page.on('response', (r) => { if (/(_bg\.wasm|\.js)$/.test(r.url()) && r.url().startsWith(parley)) encodings.push(`${r.url().split('/').pop()}: ${r.headers()['content-encoding']}`); });
  const interacts = [];
  page.on('request', (r) => { if (r.url().endsWith('/interact')) interacts.push(r.headers().origin); });
  // The example's own call, with `preload: 'interaction'`: the app waits for a gesture.
  await page.route(`${host.url}/chat.js`, async (route) => {
    const response = await route.fetch();
    const body = (await response.text()).replace('verify: {', "preload: 'interaction', verify: {");
    await route.fulfill({ response, body });
  });
  try {
    const started = Date.now();
    await page.goto(`${host.url}/`);
    await page.waitForSelector('.parley-launcher', WAIT);
    const painted = Date.now() - started;
    // The page's `assistant.color`, on the loader's launcher and then on the app's.
    const accent = () => page.locator('.parley-launcher').evaluate((b) => getComputedStyle(b).backgroundColor);
    if ((await accent()) !== 'rgb(194, 65, 12)') throw new Error(`the loader's launcher is ${await accent()}`);
    await page.waitForTimeout(300);
    if (fetched.length) throw new Error(`the app was fetched before any gesture: ${fetched}`);
    await accessibleUnderCsp(page, host.url, 'the loader\'s launcher');
    await page.hover('.parley-launcher');
    await until(() => fetched.length === 2, 'the app fetched on hover');
    if (!fetched.every((u) => u.startsWith(parley))) throw new Error(`fetched from ${fetched}`);
    await page.click('.parley-launcher');
    await orderUpToCarousel(page);
    // The host's `button { background: hotpink }` stays out of the Shadow DOM.
    const bg = await page.locator('.parley-choices button, .parley-carousel button').first()
      .evaluate((b) => getComputedStyle(b).backgroundColor);
    if (bg === 'rgb(255, 105, 180)') throw new Error('the host page\'s CSS reached the widget');
    await page.click('.parley-carousel button:has-text("Pepperoni")');
    await page.waitForSelector('text=How many large pepperoni pizzas would you like?', WAIT);
    if ((await accent()) !== 'rgb(194, 65, 12)') throw new Error(`the app's launcher is ${await accent()}`);
    await accessibleUnderCsp(page, host.url, 'open on another origin');
    await shot(page, '13-script-tag-other-origin');
    // A second load once the app is there: `url` still defaults to the loader's server.
    const before = interacts.length;
    await page.evaluate(() => {
      window.parley.chat.destroy();
      window.parley.chat.load({ verify: { projectID: 'pizza' }, persistence: 'memory', autostart: true });
    });
    await page.waitForSelector('.parley-choices button', WAIT);
    if (interacts.length <= before) throw new Error('the second load reached no runtime');
    if (!interacts.length || !interacts.every((o) => o === host.url)) throw new Error(`interact origins: ${interacts}`);
    await noRefusals(page, errors);
    // The loader, the glue and the wasm come compressed (the bundle's precompressed twins).
    if (encodings.length < 3 || !encodings.every((e) => / (br|gzip)$/.test(e))) throw new Error(`transfer encodings: ${encodings}`);
    return `launcher painted ${painted} ms after navigation; app fetched on hover; ${encodings.join(', ')}`;
  } finally {
    await host.close();
  }
});

scenario('the embedded example on another origin under a strict CSP: the chat fills its section, open from the start', async ({ page, parley }) => {
  const host = await startHost(path.join(examples, 'embedded'), { parleyOrigin: parley });
  const errors = consoleErrors(page);
  try {
    await page.goto(`${host.url}/`);
    await page.waitForSelector('#chat .parley-choices button', WAIT);
    if (await page.locator('.parley-launcher').count()) throw new Error('a launcher in embedded mode');
    const target = await page.locator('#chat').boundingBox();
    const panel = await page.locator('#chat .parley-panel').boundingBox();
    if (Math.abs(target.width - panel.width) > 2 || Math.abs(target.height - panel.height) > 2) {
      throw new Error(`panel ${JSON.stringify(panel)} in ${JSON.stringify(target)}`);
    }
    // The page themes the widget through its tokens, from its own stylesheet.
    const header = await page.locator('#chat .parley-header').evaluate((h) => getComputedStyle(h).backgroundColor);
    if (header !== 'rgb(11, 114, 133)') throw new Error(`the page's accent did not reach the widget: ${header}`);
    await send(page, 'when are you open?');
    await page.waitForSelector('text=/from 11 am to 11 pm/', WAIT);
    await accessibleUnderCsp(page, host.url, 'embedded on another origin');
    await shot(page, '14-embedded-example');
    await noRefusals(page, errors);
  } finally {
    await host.close();
  }
});

scenario('the npm package (the packed tarball) in a TypeScript page type-checked with tsc and built by Vite, on another origin under a strict CSP; a second version on the page is refused', async ({ page, context, parley }) => {
  const built = buildViteExample(npmTarball, parley);
  const host = await startHost(built.dir, { parleyOrigin: parley });
  await awayFromDemo(page);
  const errors = consoleErrors(page);
  const fetched = [];
  page.on('request', (r) => { if (r.url().endsWith('.wasm')) fetched.push(r.url()); });
  try {
    await page.goto(`${host.url}/`);
    await page.waitForSelector('.parley-launcher', WAIT);
    if (!fetched.length || !fetched.every((u) => u.startsWith(host.url))) throw new Error(`the wasm came from ${fetched}`);
    const loader = await page.evaluate(() => window.parley.loader);
    if (loader !== built.version) throw new Error(`window.parley.loader is ${loader}, the package ${built.version}`);
    // The page's own button calls the package's open().
    await page.click('#open-chat');
    await orderUpToCarousel(page);
    await accessibleUnderCsp(page, host.url, 'the npm package');
    await shot(page, '15-npm-vite');
    await noRefusals(page, errors);

    // Another version already on the page: the package refuses, saying which.
    const other = await context.newPage();
    await other.addInitScript(() => { window.parley = { loader: '0.0.1' }; });
    const otherErrors = consoleErrors(other);
    await other.goto(`${host.url}/`);
    await until(() => otherErrors.length > 0, 'the refusal');
    const want = `package ${built.version} not started: loader 0.0.1 is already on this page`;
    if (!otherErrors.some((e) => e.includes(want))) throw new Error(`errors: ${otherErrors}`);
    if (await other.locator('.parley-host').count()) throw new Error('mounted beside another version');
    await other.close();
    return `parley-chat ${built.version} installed from ${path.basename(npmTarball)}`;
  } finally {
    await host.close();
    built.cleanup();
  }
});

scenario("the demo page under CSP script-src 'self' 'wasm-unsafe-eval' (no 'unsafe-inline'): nothing is refused", async ({ page, parley }) => {
  const errors = consoleErrors(page);
  const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    + `img-src 'self' http://127.0.0.1:8080 data:; object-src 'none'; base-uri 'none'`;
  await page.route(`${parley}/`, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': csp } });
  });
  await page.reload();
  await page.click('.parley-launcher');
  await orderUpToCarousel(page);
  await page.click('.parley-carousel button:has-text("Margherita")');
  await send(page, '1');
  await page.waitForSelector('.parley-card__title:has-text("Your order")', WAIT);
  await accessibleUnderCsp(page, parley, 'under the strict CSP');
  await shot(page, '16-strict-csp');
  await noRefusals(page, errors);
  // Not vacuous: the same policy refuses an inline script.
  await page.evaluate(() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1'; document.head.append(s); });
  if (await page.evaluate(() => window.__inline)) throw new Error('the policy let an inline script run');
  if (!(await refused(page)).some((v) => v.startsWith('script-src'))) throw new Error('the inline script was not reported');
});

scenario('a loader and an app of different builds: the app refuses to start, both say why (and parley:error), nothing is mounted', async ({ page, parley, events }) => {
  const errors = consoleErrors(page);
  const version = await page.evaluate(() => window.parley.loader);
  if (!/^\d+\.\d+\.\d+/.test(version || '')) throw new Error(`the loader reports version ${version}`);
  // The same loader, saying it is of another build (its version is a string literal, in quotes).
  await page.route(`${parley}/parley.js`, async (route) => {
    const response = await route.fetch();
    const text = await response.text();
    const body = text.split(`"${version}"`).join('"0.0.9"').split(`'${version}'`).join("'0.0.9'");
    if (body === text) throw new Error('no version in the loader');
    await route.fulfill({ response, body });
  });
  await page.reload();
  await page.click('.parley-launcher');
  await until(() => errors.length >= 2, 'two console errors');
  const want = [`app ${version} cannot start under loader 0.0.9: serve both from one build`, 'the chat could not start'];
  for (const w of want) {
    if (!errors.some((e) => e.includes(w))) throw new Error(`no "${w}" in ${errors}`);
  }
  if (await page.locator('.parley-panel').count()) throw new Error('a panel opened');
  const told = (await events()).filter((e) => e.startsWith('parley:error') && e.includes('the chat could not start'));
  // One event per failed start. The idle-time fetch may fail before the click, which then tries
  // once more (as the loader promises): so one or two starts, each told once.
  const failedStarts = errors.filter((e) => e.includes('the chat could not start')).length;
  if (told.length < 1 || told.length !== failedStarts) {
    throw new Error(`parley:error events: ${told} for ${failedStarts} failed starts`);
  }
  // What is left is the loader's launcher: it too must pass.
  await accessible(page, 'the loader\'s launcher, the app refused');
  await shot(page, '17-version-mismatch');
});

scenario("preload 'idle': the loader fetches the glue and compiles the wasm before idle time, starts the app only on idle or a gesture, each file fetched once; a failed early fetch of either is fetched again", async ({ page, parley, events }) => {
  await awayFromDemo(page);
  const fetched = appFetches(page);
  // Idle time never comes: what the loader fetches, it fetched before it.
  await page.addInitScript(() => { window.requestIdleCallback = () => 0; });
  await page.goto(`${parley}/`);
  await until(() => fetched.length === 2, 'the glue and the wasm fetched before idle time');
  await page.waitForTimeout(300);
  if (await page.locator('[data-parley]').count()) throw new Error('the app started without idle time or a gesture');
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  if (fetched.length !== 2) throw new Error(`the app's files fetched again: ${fetched}`);
  // The early fetch of the wasm answered 503: the start fetches it again, and the chat works.
  await awayFromDemo(page);
  fetched.length = 0;
  let refused = 0;
  await page.route(/_bg\.wasm$/, (route) => (refused++ ? route.continue() : route.fulfill({ status: 503, body: 'busy' })));
  await page.goto(`${parley}/`);
  await until(() => fetched.length === 2, 'the early fetches');
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  const wasm = fetched.filter((u) => u.endsWith('_bg.wasm')).length;
  if (refused !== 2 || wasm !== 2) throw new Error(`the wasm was fetched ${wasm} times (${refused} routed) after a refused early fetch`);
  await page.unroute(/_bg\.wasm$/);
  // The early import of the glue failed: the first click still opens the chat, nothing told.
  await awayFromDemo(page);
  const errors = consoleErrors(page);
  let cut = 0;
  await page.route(/parley-widget-[^/]*\.js(\?.*)?$/, (route) => (cut++ ? route.continue() : route.abort()));
  await page.goto(`${parley}/`);
  await until(() => cut === 1, 'the early import');
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  const told = (await events()).filter((e) => e.startsWith('parley:error'));
  const ours = errors.filter((e) => e.startsWith('parley: '));
  if (cut !== 2 || told.length || ours.length) throw new Error(`after a failed early import: ${cut} imports, ${told} ${ours}`);
  return 'fetched and compiled before idle time, started on the click; a refused early wasm fetch and a failed early glue import fetched again';
});

scenario("no-reply: after the demo's 60 s of silence (on a fake clock) the widget sends one no-reply, and the flow prompts", async ({ page }) => {
  const sent = [];
  page.on('request', (r) => { if (r.url().endsWith('/interact')) sent.push(r.postDataJSON().request.type); });
  // The widget's timers must run on the fake clock from the start: install it, then reload.
  await page.clock.install();
  await page.reload();
  await page.click('.parley-launcher');
  await page.waitForSelector('.parley-choices button', WAIT);
  await page.clock.runFor(59000);
  // Real time for a request the fake minute might have started to be reported.
  await new Promise((resolve) => setTimeout(resolve, 300));
  if (sent.includes('no-reply')) throw new Error('no-reply before the timeout');
  await page.clock.runFor(2000);
  await page.waitForSelector('text=Still there? Take your time.', WAIT);
  await announced(page, 'Still there? Take your time.');
  if (sent.filter((t) => t === 'no-reply').length !== 1) throw new Error(`sent: ${sent}`);
  await accessible(page, 'after a no-reply');
  await shot(page, '12-no-reply');
});

// Voiceflow's own published clients against the server (e2e/voiceflow.cjs).
require('./voiceflow.cjs')(scenario, { startServer, stopServer, freePort, shot, WAIT, parleyBin });
require('./voiceflow-import.cjs')(scenario, { stopServer, freePort, shot, send, WAIT, parleyBin, distDir });
// Parley's widget against a Voiceflow-shaped runtime (e2e/widget-voiceflow.cjs).
require('./widget-voiceflow.cjs')(scenario, { accessible, shot, send, until, WAIT, xss });
// The widget's conversation controller: errors, retries after a reload, tabs (e2e/widget-controller.cjs).
require('./widget-controller.cjs')(scenario, { accessible, shot, send, WAIT });
// The widget's look and feel: scrolling, broken pictures, unread count, menu, dark, RTL (e2e/widget-look.cjs).
require('./widget-look.cjs')(scenario, { accessible, shot, send, WAIT });
// The widget's streamed answers: v4 sessions, completion events, a cut-off stream (e2e/widget-stream.cjs).
require('./widget-stream.cjs')(scenario, { accessible, shot, send, WAIT, freePort, parleyBin, distDir });
require('./workbench.cjs')(scenario, { shot, send, WAIT });
// Scale-out: nginx in front of three servers on PostgreSQL (e2e/nginx.cjs; cargo xtask test's scale-out step).
require('./nginx.cjs')(scenario, { shot, send, WAIT, parleyBin, distDir, freePort });

// PARLEY_E2E_ONLY=<text> runs only the scenarios whose name holds it.
const only = process.env.PARLEY_E2E_ONLY || '';

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
  for (const { name, f } of scenarios.filter((s) => s.name.includes(only))) {
    // A scenario that failed with the server down leaves it down: the next one starts it.
    if (!running()) await server.start();
    const context = await browser.newContext({ reducedMotion: 'reduce', viewport: { width: 1024, height: 800 } });
    await context.addInitScript(() => {
      // CSP refusals, as the page sees them (an init script is not subject to the page's CSP).
      window.__csp = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
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
      // A scenario may say what it covered: it goes on its line.
      const note = await f({ page, context, server, parley: `http://127.0.0.1:${port}`, events: () => page.evaluate(() => window.__events) });
      if (errors.length) throw new Error(`errors on the page: ${errors.join('; ')}`);
      passed += 1;
      console.log(`test ${name} ... ok (${Date.now() - started} ms${note ? `; ${note}` : ''})`);
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
