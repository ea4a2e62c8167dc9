// Conformance: Voiceflow's own published clients against the real `parley serve` and the bundled
// demo project, on loopback. The packages are installed by `cargo xtask test` into
// target/tools/voiceflow at the versions pinned in Cargo.toml ([workspace.metadata.parley.tools]);
// PARLEY_VOICEFLOW_DIR names that prefix.
//
// - @voiceflow/react-chat (dist/bundle.mjs, embedded mode, public route, no key) in Chromium,
//   served from an origin of its own: every bot message the server sent is rendered, the custom
//   action through a react-chat `response` extension that the page answers with
//   `window.voiceflow.chat.interact`, no uncaught page error (the runner fails on any).
// - @voiceflow/sdk-runtime in Node, public mode and keyed mode (`?verbose=true`), registered with
//   its own trace components as react-chat registers them.
// - @voiceflow/runtime-client-js in Node, stateless, as its README shows, with a key made by
//   `parley keys create`; the custom action answered through `onResponse`.
//
// The keyed scenarios run on a server of their own (own data dir, own port): a key makes the
// project keyed, which the other scenarios' server must never be.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const clientsDir = path.resolve(process.env.PARLEY_VOICEFLOW_DIR || path.join(__dirname, '../target/tools/voiceflow'));
function voiceflow(name) {
  const dir = path.join(clientsDir, 'node_modules', name);
  if (!fs.existsSync(dir)) {
    throw new Error(`${name} is not installed in ${clientsDir} (cargo xtask test installs it; PARLEY_VOICEFLOW_DIR names the prefix)`);
  }
  return dir;
}

// ---- the demo conversation, as Voiceflow's clients see it ----

// Diagnostics and timers: in the answer, but nothing a user sees.
const UNSEEN = new Set(['no-reply', 'path', 'flow', 'block', 'debug', 'log', 'goto']);
const seen = (traces) => traces.filter((t) => !UNSEEN.has(t.type));

const fail = (what) => { throw new Error(what); };
const show = (v) => JSON.stringify(v).slice(0, 400);

// Voiceflow's text trace: `slate { id, content, messageDelayMilliseconds }`, `message`, `delay`
// (general-runtime's textOutputTrace); react-chat drops one without `slate`.
function text(pattern) {
  return {
    what: `text ${pattern}`,
    check(t) {
      if (t.type !== 'text') return `not a text trace: ${show(t)}`;
      const p = t.payload || {};
      if (typeof p.message !== 'string' || !pattern.test(p.message)) return `text "${p.message}" does not match ${pattern}`;
      const s = p.slate;
      if (!s || typeof s !== 'object') return `no slate: ${show(t)}`;
      if (typeof s.id !== 'string' || !s.id) return `slate without an id: ${show(s)}`;
      if (!Array.isArray(s.content) || !s.content.length) return `slate without content: ${show(s)}`;
      if (typeof s.messageDelayMilliseconds !== 'number') return `slate without messageDelayMilliseconds: ${show(s)}`;
      if (typeof p.delay !== 'number') return `no delay (Voiceflow's text trace has one): ${show(p)}`;
      const plain = s.content.map(slateText).join('\n').trim();
      if (plain !== p.message) return `slate says "${plain}", message says "${p.message}"`;
      return null;
    },
  };
}
function slateText(node) {
  if (typeof node.text === 'string') return node.text;
  return Array.isArray(node.children) ? node.children.map(slateText).join('') : '';
}
const image = (file) => ({
  what: `image ${file}`,
  check: (t) => (t.type === 'visual' && t.payload?.visualType === 'image' && String(t.payload.image).endsWith(file)
    ? null : `not the image ${file}: ${show(t)}`),
});
const names = (buttons) => (buttons || []).map((b) => b.name);
const choice = (...want) => ({
  what: `choice ${want.join(' | ')}`,
  check: (t) => (t.type === 'choice' && names(t.payload?.buttons).join('|') === want.join('|')
    && t.payload.buttons.every((b) => typeof b.request?.type === 'string') ? null : `not the choice ${want}: ${show(t)}`),
});
// react-chat reads `description.text` and maps `buttons` on every card: both must be there.
const cardOk = (c) => typeof c?.description?.text === 'string' && Array.isArray(c.buttons);
const carousel = (...titles) => ({
  what: `carousel ${titles.join(' | ')}`,
  check: (t) => (t.type === 'carousel' && ['Carousel', 'List'].includes(t.payload?.layout)
    && (t.payload.cards || []).map((c) => c.title).join('|') === titles.join('|') && t.payload.cards.every(cardOk)
    ? null : `not the carousel ${titles}: ${show(t)}`),
});
const card = (title, description, ...buttons) => ({
  what: `card ${title}`,
  check: (t) => (t.type === 'cardV2' && t.payload?.title === title && cardOk(t.payload)
    && t.payload.description.text === description && names(t.payload.buttons).join('|') === buttons.join('|')
    ? null : `not the card ${title} "${description}" [${buttons}]: ${show(t)}`),
});
// Voiceflow's custom action trace: the action's name as the type, its body, and its paths.
const payment = {
  what: 'custom action payment',
  check: (t) => (t.type === 'payment' && t.payload?.amount === '28' && t.payload.currency === 'USD'
    && (t.paths || []).map((p) => p.event?.type).join('|') === 'success|cancel' && typeof t.defaultPath === 'number'
    ? null : `not the payment action: ${show(t)}`),
};
const end = { what: 'end', check: (t) => (t.type === 'end' ? null : `not the end: ${show(t)}`) };
const handoff = {
  what: 'custom action handoff',
  check: (t) => (t.type === 'handoff' && t.payload?.reason === 'I want a human'
    && (t.paths || []).map((p) => p.event?.type).join('|') === 'connected|unavailable'
    ? null : `not the handoff action (its reason the last utterance): ${show(t)}`),
};

const buttonRequest = (traces, name) => {
  for (const t of traces) {
    const buttons = t.type === 'carousel' ? t.payload.cards.flatMap((c) => c.buttons) : t.payload?.buttons || [];
    const b = buttons.find((x) => x.name === name);
    if (b) return b.request;
  }
  return fail(`no button "${name}" in ${show(traces)}`);
};

// Every turn of the demo's order: what the user does, and what the runtime must answer. `send` gets
// the previous turn's traces (a button's request is whatever the runtime put on it).
const TURNS = [
  { say: 'launch', send: () => ({ type: 'launch' }),
    want: [text(/^(Hi! Welcome|Hello, and welcome) to Pizza Palace/), image('logo.svg'),
      text(/^What would you like to do\?/), choice('Order a pizza', 'See the menu', 'Opening hours', 'Track my order')] },
  { say: "I'd like a large pizza please", send: () => ({ type: 'text', payload: "I'd like a large pizza please" }),
    want: [text(/^Great, a large pizza\. Which one\?$/), carousel('Margherita', 'Pepperoni', 'Veggie')] },
  { say: 'the carousel button Pepperoni', send: (prev) => buttonRequest(prev, 'Pepperoni'),
    want: [text(/^How many large pepperoni pizzas would you like\?$/)] },
  { say: '2', send: () => ({ type: 'text', payload: '2' }),
    want: [card('Your order', '2 × large pepperoni: $28', 'Confirm', 'Start over')] },
  { say: 'the card button Confirm', send: (prev) => buttonRequest(prev, 'Confirm'),
    want: [text(/^What name should we put on the order\?$/)] },
  { say: 'Dana', send: () => ({ type: 'text', payload: 'Dana' }),
    want: [text(/^Thanks, Dana! Which email should we send the receipt to\?$/)] },
  { say: 'dana@example.com', send: () => ({ type: 'text', payload: 'dana@example.com' }), want: [payment] },
  // The API-call block's success path ("about N minutes"), or its failure path ("soon") when
  // 127.0.0.1:8080 is not this test's server.
  { say: 'the payment action answered success', send: () => ({ type: 'success' }),
    want: [text(/^(Payment received|All paid)/), text(/^It will be with you (in about \d+ minutes|soon)\.$/),
      text(/^Enjoy your meal, Dana!$/), end] },
];

// react-chat, after the order: a new chat, and a talk with a person that a react-chat `effect`
// extension answers (it draws nothing; the page calls `interact` with the path it picks).
const AGAIN = [
  { say: 'Start New Chat',
    want: [text(/^(Hi! Welcome|Hello, and welcome|Welcome back) to Pizza Palace/), image('logo.svg'),
      text(/^What would you like to do\?/), choice('Order a pizza', 'See the menu', 'Opening hours', 'Track my order')] },
  { say: 'I want a human', want: [text(/^Let me find a person for you\.$/), handoff] },
  { say: 'the handoff effect answered connected', want: [text(/^You're now connected with our team\.$/), end] },
];

// The traces a user sees must be exactly the turn's, in order.
function expectTurn(turn, traces, where) {
  const got = seen(traces);
  const problems = [];
  turn.want.forEach((w, i) => {
    const p = got[i] ? w.check(got[i]) : `missing (${w.what})`;
    if (p) problems.push(`#${i + 1} ${p}`);
  });
  if (got.length > turn.want.length) problems.push(`unexpected: ${show(got.slice(turn.want.length))}`);
  if (problems.length) fail(`${where}, turn "${turn.say}": ${problems.join('; ')}`);
}

// Stateful traces carry `time` (ms since the epoch), as Voiceflow's do.
function timed(traces, where) {
  const untimed = traces.filter((t) => typeof t.time !== 'number' || t.time < 1.5e12);
  if (untimed.length) fail(`${where}: traces without time: ${show(untimed)}`);
}

// Bold in Voiceflow's slate is a `fontWeight` leaf ("700"), not markdown asterisks.
function boldPizzaPalace(traces, where) {
  const welcome = traces.find((t) => t.type === 'text');
  const leaves = [];
  const walk = (n) => { if (typeof n.text === 'string') leaves.push(n); (n.children || []).forEach(walk); };
  (welcome?.payload?.slate?.content || []).forEach(walk);
  if (!leaves.some((l) => l.text === 'Pizza Palace' && l.fontWeight === '700')) {
    fail(`${where}: "Pizza Palace" is not a fontWeight "700" leaf: ${show(welcome?.payload?.slate)}`);
  }
  if (/\*/.test(welcome.payload.message)) fail(`${where}: markdown left in the message: ${welcome.payload.message}`);
}

// ---- a server with a key, for the keyed clients ----

async function keyedServer(h) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-vf-'));
  const made = spawnSync(h.parleyBin, ['keys', 'create', '--project', 'pizza', '--scope', 'secret',
    '--name', 'voiceflow conformance', '--data-dir', dataDir], { encoding: 'utf8', timeout: 15000 });
  if (made.status !== 0) fail(`parley keys create failed (${made.status}): ${made.stderr}`);
  const key = made.stdout.trim();
  if (!key || /\s/.test(key)) fail(`parley keys create printed no single key: ${show(made.stdout)}`);
  const port = await h.freePort();
  const child = await h.startServer(port, dataDir);
  return {
    url: `http://127.0.0.1:${port}`,
    key,
    close: async () => { await h.stopServer(child); fs.rmSync(dataDir, { recursive: true, force: true }); },
  };
}

// ---- sdk-runtime: the runtime layer react-chat uses, in Node ----

async function sdkConversation(url, verify, { where, timedTraces }) {
  const sdk = require(voiceflow('@voiceflow/sdk-runtime'));
  // As react-chat registers them: the package's trace components, then one for whatever is left
  // (the custom action), so that every trace of the answer is seen in order.
  const keep = ({ context }, trace) => { context.traces.push(trace); return context; };
  const runtime = new sdk.VoiceflowRuntime({
    url,
    verify,
    traces: [sdk.TextTraceComponent(keep), sdk.VisualTraceComponent(keep), sdk.ChoiceTraceComponent(keep),
      sdk.CardV2TraceComponent(keep), sdk.EndTraceComponent(keep), { canHandle: () => true, handle: keep }],
  });
  const sessionID = `vf-sdk-${Math.random().toString(36).slice(2)}`;
  let prev = [];
  let held = 0;
  for (const turn of TURNS) {
    let context;
    try {
      context = await runtime.interact({ traces: [] }, { sessionID, action: turn.send(prev), config: { tts: false } });
    } catch (e) {
      fail(`${where}, turn "${turn.say}": ${e.status || ''} ${e.message} ${e.code || ''}`);
    }
    expectTurn(turn, context.traces, where);
    if (timedTraces) timed(context.traces, `${where}, turn "${turn.say}"`);
    if (held === 0) boldPizzaPalace(context.traces, where);
    prev = context.traces;
    held += 1;
  }
  return held;
}

// ---- react-chat in the page ----

const AVATAR = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="5" fill="#c0392b"/></svg>')}`;

// The customer's page: react-chat's bundle, embedded, pointed at Parley; the payment action is a
// `response` extension whose button answers the action with the path the trace names.
function reactChatPage(parley) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>react-chat against Parley</title></head>
<body style="margin:0;font-family:sans-serif;background:#f3f3f3">
<div id="chat" style="width:440px;height:760px;margin:20px"></div>
<script type="module">
  import '/react-chat/bundle.mjs';
  window.__effects = [];
  window.voiceflow.chat.load({
    verify: { projectID: 'pizza' },
    url: ${JSON.stringify(parley)},
    versionID: 'production',
    autostart: true,
    render: { mode: 'embedded', target: document.getElementById('chat') },
    assistant: {
      image: ${JSON.stringify(AVATAR)}, avatar: ${JSON.stringify(AVATAR)}, persistence: 'memory',
      extensions: [
        { name: 'payment', type: 'response',
          match: ({ trace }) => trace.type === 'payment',
          render: ({ trace, element }) => {
            const pay = document.createElement('button');
            pay.className = 'pay';
            pay.textContent = 'Pay $' + trace.payload.amount + ' (' + trace.payload.description + ')';
            const success = trace.paths.find((p) => p.event.type === 'success').event;
            pay.addEventListener('click', () => {
              pay.disabled = true;
              window.voiceflow.chat.interact(success);
            });
            element.append(pay);
          } },
        { name: 'handoff', type: 'effect',
          match: ({ trace }) => trace.type === 'handoff',
          effect: async ({ trace }) => {
            window.__effects.push(trace.payload);
            // The page's own work (a queue, a person) before it answers the action.
            await new Promise((resolve) => setTimeout(resolve, 300));
            await window.voiceflow.chat.interact(trace.paths.find((p) => p.event.type === 'connected').event);
          } },
      ],
    },
  }).then(() => { window.__loaded = true; }, (e) => { window.__loadError = String(e); });
</script>
</body></html>`;
}

function startPage(parley) {
  const bundle = path.join(voiceflow('@voiceflow/react-chat'), 'dist/bundle.mjs');
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(reactChatPage(parley));
    } else if (req.url === '/react-chat/bundle.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(fs.readFileSync(bundle));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((r) => server.close(r)),
  })));
}

// What react-chat draws for a trace (dist/bundle.mjs, read from its DOM): each text, image,
// card, carousel and extension message is a `.vfrc-system-response--message`; a choice is a row
// of buttons under the last turn; the end draws nothing but ends the session.
const DRAWN = new Set(['text', 'visual', 'cardV2', 'carousel', 'payment']);
const MESSAGE = '#chat .vfrc-system-response--message';

module.exports = function register(scenario, h) {
  scenario("Voiceflow's react-chat 1.65.2 (embedded, public route, no key): the whole demo order, a new chat and a handoff render every bot message", async ({ page, context, parley }) => {
    const site = await startPage(parley);
    try {
      const abroad = [];
      await context.route((url) => url.hostname !== '127.0.0.1', (route) => { abroad.push(route.request().url()); route.abort(); });
      const answers = [];
      const calls = [];
      const publishing = [];
      page.on('response', async (r) => {
        const u = new URL(r.url());
        if (u.origin !== parley || r.request().method() === 'OPTIONS') return;
        if (u.pathname.startsWith('/demo/')) return; // the demo's images
        calls.push(`${r.request().method()} ${u.pathname} ${r.status()}`);
        if (u.pathname === '/public/pizza/publishing') publishing.push(r.json().catch(() => null));
        if (/^\/public\/pizza\/state\/user\/[^/]+\/interact$/.test(u.pathname)) {
          answers.push(r.json().catch((e) => ({ unreadable: String(e) })));
        }
      });
      const consoleErrors = [];
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
      await page.goto(site.url);
      await page.waitForFunction(() => window.__loaded || window.__loadError, null, h.WAIT);
      const loadError = await page.evaluate(() => window.__loadError);
      if (loadError) fail(`react-chat's load() failed: ${loadError}`);

      const root = '#chat';
      const drawn = async () => page.locator(MESSAGE).count();
      const type = async (said) => {
        await page.fill(`${root} .vfrc-chat-input textarea`, said);
        await page.press(`${root} .vfrc-chat-input textarea`, 'Enter');
      };
      // One conversation: each turn's user act, the answer read off the network and checked, then
      // every bot message of it looked for in react-chat's DOM.
      // Each turn takes the next answer of the public route, in order: the launch autostart sent
      // on mount, or an answer the page's extension asked for, may have come in already.
      let taken = 0;
      const converse = async (turns, act, { shots = {} } = {}) => {
        const sent = { messages: 0, choices: 0, ends: 0 };
        for (const [i, turn] of turns.entries()) {
          await act(turn, i);
          const deadline = Date.now() + h.WAIT.timeout;
          while (answers.length === taken && Date.now() < deadline) await page.waitForTimeout(50);
          if (answers.length === taken) fail(`turn "${turn.say}": react-chat sent nothing to the public route (calls: ${calls.join(', ')})`);
          const body = await answers[taken];
          taken += 1;
          if (!body || !Array.isArray(body.trace)) fail(`turn "${turn.say}": the public route answered no {trace}: ${show(body)}`);
          expectTurn(turn, body.trace, 'react-chat');
          timed(body.trace, `react-chat, turn "${turn.say}"`);
          sent.messages += body.trace.filter((t) => DRAWN.has(t.type)).length;
          sent.choices += body.trace.filter((t) => t.type === 'choice').length;
          sent.ends += body.trace.filter((t) => t.type === 'end').length;
          // react-chat shows a turn's messages one after the other: wait for all of them.
          await page.waitForFunction(({ sel, n }) => document.querySelector('#chat').shadowRoot
            .querySelectorAll(sel).length >= n, { sel: MESSAGE.replace('#chat ', ''), n: sent.messages }, h.WAIT)
            .catch(async () => fail(`turn "${turn.say}": ${await drawn()} bot messages drawn of ${sent.messages} sent`));
          for (const t of seen(body.trace)) await isDrawn(t, turn);
          if (shots[i]) await h.shot(page, shots[i]);
        }
        // The end: react-chat ends the session (its input gives way to "Start new chat").
        await page.waitForSelector(`${root} button:has-text("Start new chat")`, h.WAIT)
          .catch(() => fail('react-chat did not end the conversation'));
        const messages = await drawn();
        if (messages !== sent.messages) fail(`${messages} bot messages drawn, ${sent.messages} sent`);
        return { ...sent, drawn: messages };
      };
      const isDrawn = async (t, turn) => {
        if (t.type === 'text') {
          // The rendered text of the slate (marks become markup; the words stay).
          const words = t.payload.message.split(/\s+/).slice(0, 4).join(' ');
          await page.waitForSelector(`${MESSAGE}:has-text(${JSON.stringify(words)})`, h.WAIT)
            .catch(() => fail(`turn "${turn.say}": the text "${t.payload.message}" is not drawn`));
        } else if (t.type === 'choice') {
          for (const b of t.payload.buttons) {
            await page.waitForSelector(`${root} .vfrc-system-response--actions button:has-text(${JSON.stringify(b.name)})`, h.WAIT)
              .catch(() => fail(`turn "${turn.say}": the choice button "${b.name}" is not drawn`));
          }
        } else if (t.type === 'visual') {
          await page.waitForSelector(`${MESSAGE} img.vfrc-image[src$="${t.payload.image.split('/').pop()}"]`, h.WAIT)
            .catch(() => fail(`turn "${turn.say}": the image ${t.payload.image} is not drawn`));
        } else if (t.type === 'cardV2') {
          await page.waitForSelector(`${MESSAGE} .vfrc-card:has-text(${JSON.stringify(t.payload.title)})`, h.WAIT)
            .catch(() => fail(`turn "${turn.say}": the card "${t.payload.title}" is not drawn`));
        } else if (t.type === 'carousel') {
          const cards = await page.locator(`${MESSAGE} .vfrc-carousel .vfrc-card`).count();
          if (cards < t.payload.cards.length) fail(`turn "${turn.say}": ${cards} carousel cards drawn of ${t.payload.cards.length}`);
        } else if (t.type === 'payment') {
          await page.waitForSelector(`${MESSAGE} .vfrc-message--extension-payment button.pay:has-text("Pay $28")`, h.WAIT)
            .catch(() => fail(`turn "${turn.say}": the payment extension did not render`));
        }
      };

      // The order.
      const order = await converse(TURNS, async (turn, i) => {
        if (i === 0) {
          // autostart sent the launch
        } else if (turn.say.startsWith('the carousel button') || turn.say.startsWith('the card button')) {
          await page.click(`${root} .vfrc-card button:has-text("${turn.say.split(' ').pop()}")`, h.WAIT);
        } else if (turn.say.startsWith('the payment action')) {
          await page.click(`${root} .vfrc-message--extension-payment button.pay`, h.WAIT);
        } else {
          await type(turn.say);
        }
      }, { shots: { 1: 'vf-1-react-chat-carousel', 3: 'vf-2-react-chat-card', 6: 'vf-3-react-chat-payment' } });
      await h.shot(page, 'vf-4-react-chat-ended');
      // A new chat, and the handoff the effect extension answers by itself.
      const again = await converse(AGAIN, async (turn, i) => {
        if (i === 0) await page.click(`${root} button:has-text("Start new chat")`, h.WAIT);
        else if (i === 1) await type(turn.say);
      }, { shots: { 2: 'vf-5-react-chat-handoff' } });
      const effects = await page.evaluate(() => window.__effects);
      if (effects.length !== 1) fail(`the handoff effect ran ${effects.length} times`);
      if (abroad.length) fail(`react-chat reached off the loopback: ${abroad.join(', ')}`);
      const others = calls.filter((c) => !c.includes('/interact'));
      // The look comes from the project's publishing settings (the page sets no title).
      const settings = await publishing[0];
      const title = await page.textContent(`${root} .vfrc-header--title`);
      if (!settings || title !== settings.title) fail(`the header says "${title}", the publishing settings ${show(settings)}`);
      const all = [order, again].reduce((a, c) => ({ drawn: a.drawn + c.drawn, messages: a.messages + c.messages, ends: a.ends + c.ends, choices: a.choices + c.choices }));
      return `react-chat: ${TURNS.length + AGAIN.length}/${TURNS.length + AGAIN.length} turns held (the order, then a new chat and a handoff); `
        + `${all.drawn + all.ends} of ${all.messages + all.ends} bot messages rendered (${all.drawn} drawn + ${all.ends} ends), `
        + `${all.choices} of ${all.choices} choice rows; the payment answered through a response extension, the handoff through an effect; `
        + `title "${title}" from the publishing settings; other calls: ${others.join(', ') || 'none'}; ${consoleErrors.length} console errors`;
    } finally {
      await site.close();
    }
  });

  scenario("Voiceflow's sdk-runtime 1.10.0, public mode: every turn of the demo conversation returns the expected traces", async ({ parley }) => {
    const held = await sdkConversation(parley, { projectID: 'pizza' }, { where: 'sdk-runtime public', timedTraces: true });
    return `sdk-runtime public: ${held}/${TURNS.length} turns held`;
  });

  scenario("Voiceflow's sdk-runtime 1.10.0, keyed mode against a project without keys: a Voiceflow-style key it does not know is ignored", async ({ parley }) => {
    // Keyed mode sends `authorization`; a project that has no keys must not refuse one it does not know.
    const held = await sdkConversation(parley, { authorization: 'VF.DM.0123456789abcdef.unknown' }, { where: 'sdk-runtime keyed, keyless project', timedTraces: true });
    return `sdk-runtime keyed against a keyless project: ${held}/${TURNS.length} turns held`;
  });

  scenario("Voiceflow's sdk-runtime 1.10.0, keyed mode (?verbose=true, a key from `parley keys create`): every turn returns the expected traces", async () => {
    const server = await keyedServer(h);
    try {
      const held = await sdkConversation(server.url, { authorization: server.key }, { where: 'sdk-runtime keyed', timedTraces: true });
      // Keyed mode answers {state, trace, request} with ?verbose=true; a wrong key is refused.
      const raw = await fetch(`${server.url}/state/user/vf-raw/interact?verbose=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: server.key, sessionID: 'vf-raw' },
        body: JSON.stringify({ action: { type: 'launch' }, config: { tts: false } }),
      });
      const body = await raw.json();
      if (!body || !Array.isArray(body.trace) || typeof body.state !== 'object' || !('request' in body)) {
        fail(`?verbose=true answered ${raw.status} ${show(body)}, not {state, trace, request}`);
      }
      const plain = await fetch(`${server.url}/state/user/vf-raw/interact`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: server.key },
        body: JSON.stringify({ action: { type: 'text', payload: 'help' } }),
      });
      const array = await plain.json();
      if (!Array.isArray(array)) fail(`without ?verbose the keyed route answered ${plain.status} ${show(array)}, not a bare trace array`);
      const wrong = await fetch(`${server.url}/state/user/vf-raw/interact?verbose=true`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'VF.DM.nope.nope' },
        body: JSON.stringify({ action: { type: 'launch' } }),
      });
      if (wrong.status !== 401) fail(`a wrong key got ${wrong.status}, not 401`);
      // A project locked with a key keeps its public route closed to keyless pages unless its
      // file says `publicAccess: true` (Voiceflow's public route is opt-in too: API privacy).
      const closed = await fetch(`${server.url}/public/pizza/state/user/vf-open/interact`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ action: { type: 'launch' } }),
      });
      const refusal = await closed.json();
      if (closed.status !== 401 || refusal.code !== 'key_required') {
        fail(`the keyless public route of a keyed project answered ${closed.status} ${show(refusal)}, not 401 key_required`);
      }
      return `sdk-runtime keyed: ${held}/${TURNS.length} turns held; verbose envelope, bare array, a wrong key's 401 `
        + `and the keyed project's closed public route checked`;
    } finally {
      await server.close();
    }
  });

  scenario("Voiceflow's runtime-client-js 1.17.4, stateless (a key from `parley keys create`): every turn of the demo conversation returns the expected traces", async () => {
    const server = await keyedServer(h);
    try {
      const { default: RuntimeClientFactory } = require(voiceflow('@voiceflow/runtime-client-js'));
      let factory;
      try {
        // As the README shows, with the endpoint pointed at Parley.
        factory = new RuntimeClientFactory({ versionID: 'production', apiKey: server.key, endpoint: server.url });
      } catch (e) {
        fail(`runtime-client-js refused the key \`parley keys create\` printed (${server.key.replace(/\.[^.]*$/, '.…')}): ${e.message}`);
      }
      const client = factory.createClient();
      const general = [];
      client.on('general', (trace) => { general.push(trace); });
      // A custom action ends the turn with its paths; the client asks onResponse which to take
      // (else it takes defaultPath): the payment succeeds.
      const asked = [];
      client.onResponse((trace) => {
        asked.push(trace.type);
        return trace.type === 'payment' ? trace.paths.findIndex((p) => p.event.type === 'success') : undefined;
      });
      let prev = [];
      let held = 0;
      let states = [];
      for (const [i, turn] of TURNS.entries()) {
        if (turn.say.startsWith('the payment action')) break; // onResponse answered it within the previous turn
        let context;
        try {
          if (i === 0) context = await client.start();
          else if (turn.send(prev).type === 'text') context = await client.sendText(turn.send(prev).payload);
          else context = await client.sendRequest(turn.send(prev));
        } catch (e) {
          const r = e.response;
          fail(`runtime-client-js, turn "${turn.say}": ${e.message}${r ? ` — ${r.status} ${show(r.data)}` : ''}`);
        }
        const traces = context.getTrace();
        states.push(context.toJSON().state);
        if (turn.want.includes(payment)) {
          // The client went on by itself with the path onResponse chose: it ends on that answer
          // (the last turn's traces); the action's own trace went through the handlers.
          const action = general.filter((t) => t.type === 'payment');
          if (action.length !== 1 || payment.check(action[0])) fail(`the payment action, through on('general'): ${show(action)}`);
          if (!asked.includes('payment')) fail('onResponse was not asked about the payment action');
          expectTurn(TURNS[TURNS.length - 1], traces, 'runtime-client-js (after onResponse chose success)');
          if (!context.isEnding()) fail('the conversation did not end');
          held += 2;
        } else {
          expectTurn(turn, traces, 'runtime-client-js');
          held += 1;
        }
        prev = traces;
      }
      states = states.filter(Boolean);
      if (states.length !== TURNS.length - 1) fail(`${states.length} states came back for ${TURNS.length - 1} answers`);
      // Stateless is deterministic: the same state and request give the same bytes (no clock in
      // the traces), after the state went through JSON.parse and JSON.stringify like any client's.
      const replay = async () => {
        const r = await fetch(`${server.url}/interact/production`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: server.key },
          body: JSON.stringify({ state: states[0], request: TURNS[1].send([]), config: { tts: false, stripSSML: true } }),
        });
        return `${r.status} ${await r.text()}`;
      };
      const [one, two] = [await replay(), await new Promise((r) => setTimeout(r, 5)).then(replay)];
      if (!one.startsWith('200 ')) fail(`a replayed stateless turn: ${one.slice(0, 300)}`);
      if (one !== two) fail(`the same stateless turn answered two different bodies:\n${one.slice(0, 300)}\n${two.slice(0, 300)}`);
      // The launch too, across a second boundary (a clock read at the start would show).
      const launch = async () => {
        const r = await fetch(`${server.url}/interact/production`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: server.key },
          body: JSON.stringify({ state: { stack: [], storage: {}, variables: {} }, request: null, config: { tts: false, stripSSML: true } }),
        });
        return `${r.status} ${await r.text()}`;
      };
      const [first, later] = [await launch(), await new Promise((r) => setTimeout(r, 1100)).then(launch)];
      if (!first.startsWith('200 ') || first !== later) {
        fail(`the same stateless launch, a second apart, answered two different bodies:\n${first.slice(0, 300)}\n${later.slice(0, 300)}`);
      }
      // Deliberately unlike Voiceflow (docs/voiceflow.md): a variable the client changes in a
      // signed state mid-conversation makes it forged (409); at the start (empty stack) the
      // settable ones are taken, as the factory's `variables` are.
      const other = new RuntimeClientFactory({ versionID: 'production', apiKey: server.key, endpoint: server.url, variables: { customer_name: 'Ana' } }).createClient();
      const greeted = await other.start();
      expectTurn({ say: 'start() with variables', want: [text(/^Welcome back to Pizza Palace, Ana!/), ...TURNS[0].want.slice(1)] },
        greeted.getTrace(), 'runtime-client-js');
      other.getContext().variables.set('customer_name', 'Bob');
      const forged = await other.sendText('help').then((c) => `answered ${show(c.getTrace())}`, (e) => e.response);
      if (forged?.status !== 409 || forged.data?.code !== 'state_forged') {
        fail(`a variable changed mid-conversation: not refused with 409 state_forged: ${forged?.status ?? ''} ${show(forged?.data ?? forged)}`);
      }
      // A new conversation after the end: start() sends the last state with an empty stack (its
      // variables kept, so the demo greets the customer back).
      const again = await client.start().catch((e) => fail(`start() after the end: ${e.message}${e.response ? ` — ${e.response.status} ${show(e.response.data)}` : ''}`));
      expectTurn({ say: 'start() again', want: [text(/^Welcome back to Pizza Palace, Dana!/), ...TURNS[0].want.slice(1)] },
        again.getTrace(), 'runtime-client-js');
      return `runtime-client-js: ${held}/${TURNS.length} turns held (the custom action through onResponse), a replayed turn and a launch a second apart byte-identical, `
        + 'a new conversation with start(), initial variables taken, a variable changed mid-conversation refused (409)';
    } finally {
      await server.close();
    }
  });
};

// Shared with e2e/voiceflow-import.cjs (issue 18): where the clients are installed, what
// react-chat draws a bot message as.
module.exports.helpers = { voiceflow, MESSAGE, seen };
