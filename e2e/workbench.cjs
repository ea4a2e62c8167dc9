// The workbench (`/workbench`, issue 19): a whole demo conversation driven through it, each
// panel checked against the requests and answers the browser actually exchanged (Playwright's
// own view of the network, not the page's), the engine test it exports run through the
// engine's harness (`PARLEY_CONVERSATIONS=<dir> cargo test -p parley-engine --test engine
// conversations`), replay and a raw request, axe-core on the whole page, screenshots at 1280
// and 390 px, and no CSP refusal under the page's own policy (no 'unsafe-inline').
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn, spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');

module.exports = (scenario, { shot, send, WAIT }) => {
  const axePath = require.resolve('axe-core/axe.min.js');
  async function axeWhole(page, when) {
    // Through the DevTools protocol: the page's CSP (rightly) refuses an inline script tag.
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(fs.readFileSync(axePath, 'utf8'));
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, { resultTypes: ['violations'] });
      return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
    });
    if (violations.length) throw new Error(`axe on the workbench, ${when}: ${violations.join('; ')}`);
  }

  // The exported test, through the engine's own harness (a directory of its own).
  function engineHarness(text) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-workbench-'));
    fs.writeFileSync(path.join(dir, 'workbench_export.json'), text);
    const run = spawnSync('cargo', ['test', '-p', 'parley-engine', '--test', 'engine', '--', 'conversations', '--exact'], {
      cwd: root, env: { ...process.env, PARLEY_CONVERSATIONS: dir }, encoding: 'utf8', timeout: 900000,
    });
    if (run.status !== 0) throw new Error(`the exported test failed in the engine's harness (kept in ${dir}):\n${(run.stdout + run.stderr).slice(-2500)}`);
    fs.rmSync(dir, { recursive: true, force: true });
  }

  scenario('workbench: a whole demo conversation, each panel against the wire, the exported engine test green', async ({ page, parley }) => {
    // What went over the network, as the browser saw it.
    const wire = [];
    page.on('requestfinished', async (request) => {
      if (request.method() !== 'POST' || !/\/interact(\?|$)/.test(request.url())) return;
      const response = await request.response();
      const entry = { url: request.url(), body: JSON.parse(request.postData() || '{}'), status: response.status() };
      wire.push(entry);
      entry.answer = JSON.parse(await response.text());
    });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${parley}/workbench`);
    await page.waitForSelector('#wb-widget .parley-choices button', WAIT);
    const until = async (f, what) => {
      for (let i = 0; i < 150; i += 1) {
        if (await f()) return;
        await page.waitForTimeout(100);
      }
      throw new Error(`timed out: ${what}`);
    };
    const turnsShown = () => page.locator('#wb-turns > li').count();
    const settled = async (n) => {
      await until(async () => wire.length >= n && wire[n - 1].answer && (await turnsShown()) === n
        && (await page.locator(`#wb-turns > li[data-turn="${n}"] [data-field=status]`).textContent()) === String(wire[n - 1].status), `turn ${n} on the wire and in the panel`);
      await page.waitForTimeout(150);
    };
    await settled(1);
    const last = () => wire[wire.length - 1];

    // The wire panel: the request as sent (config.debug on) and every trace with what the
    // widget made of it.
    async function checkTurn(n) {
      const w = wire[n - 1];
      const item = page.locator(`#wb-turns > li[data-turn="${n}"]`);
      const shown = JSON.parse(await item.locator('[data-field=request]').textContent());
      if (JSON.stringify(shown.body) !== JSON.stringify(w.body)) throw new Error(`turn ${n}: the panel's request is not the one sent: ${JSON.stringify(shown.body)} vs ${JSON.stringify(w.body)}`);
      if (w.body.config.debug !== true) throw new Error(`turn ${n}: config.debug was not set`);
      const types = await item.locator('[data-trace-type]').evaluateAll((els) => els.map((e) => e.dataset.traceType));
      const sent = w.answer.trace.map((t) => t.type);
      if (JSON.stringify(types) !== JSON.stringify(sent)) throw new Error(`turn ${n}: traces shown ${types} vs on the wire ${sent}`);
      const made = await item.locator('[data-made]').evaluateAll((els) => els.map((e) => e.dataset.made));
      w.answer.trace.forEach((t, i) => {
        const want = t.type === 'debug' ? 'hidden' : Array.isArray(t.paths) ? 'action' : 'rendered';
        if (made[i] !== want) throw new Error(`turn ${n}, trace ${i} (${t.type}): made ${made[i]}, expected ${want}`);
      });
      const timing = await item.locator('[data-field=timing]').textContent();
      if (!/first byte \d+ ms, done \d+ ms/.test(timing)) throw new Error(`turn ${n}: timing ${timing}`);
    }

    // The state panel: the variables of the last answer's state, changes marked against the
    // state before; the stack; the signed state's size.
    async function checkState(n) {
      const state = wire[n - 1].answer.state;
      const before = n > 1 ? wire[n - 2].answer.state.variables : {};
      const rows = await page.locator('#wb-vars tbody tr').evaluateAll((els) => els.map((e) => [e.dataset.var, e.querySelector('td').textContent, e.dataset.changed]));
      const want = Object.keys(state.variables).sort().map((k) => [k, JSON.stringify(state.variables[k]), JSON.stringify(state.variables[k]) !== JSON.stringify(before[k]) ? 'yes' : 'no']);
      if (JSON.stringify(rows) !== JSON.stringify(want)) throw new Error(`turn ${n}: variables ${JSON.stringify(rows)} vs ${JSON.stringify(want)}`);
      const stack = await page.locator('#wb-stack li').allTextContents();
      const frames = state.stack.map((f) => `${f.diagramID} › ${f.nodeID || '(start)'}`);
      if (state.stack.length && JSON.stringify(stack) !== JSON.stringify(frames)) throw new Error(`turn ${n}: stack ${stack} vs ${frames}`);
      const signed = await page.locator('#wb-signed').textContent();
      const size = Buffer.byteLength(JSON.stringify(state));
      if (!signed.includes(`${size} bytes`)) throw new Error(`turn ${n}: ${signed}, the state is ${size} bytes`);
    }

    await checkTurn(1);
    await checkState(1);
    await send(page, "I'd like a large pizza please");
    await settled(2);
    await page.waitForSelector('#wb-widget .parley-carousel', WAIT);
    await checkTurn(2);
    await checkState(2);
    // What the runtime understood, against its debug trace.
    const nlu = last().answer.trace.find((t) => t.type === 'debug' && t.payload.type === 'nlu').payload;
    const match = await page.locator('#wb-nlu-match').textContent();
    if (nlu.match.intent !== 'order_pizza' || !match.includes(`Matched order_pizza (${nlu.match.confidence}), threshold ${nlu.threshold}`)) throw new Error(`understood: ${match} vs ${JSON.stringify(nlu.match)}`);
    const intents = await page.locator('#wb-intents tbody tr').evaluateAll((els) => els.map((e) => `${e.dataset.intent} ${e.querySelector('td').textContent}`));
    const wantIntents = nlu.intents.slice(0, 10).map((i) => `${i.name} ${i.confidence}`);
    if (JSON.stringify(intents) !== JSON.stringify(wantIntents)) throw new Error(`intents ${intents} vs ${wantIntents}`);
    const slots = await page.locator('#wb-nlu-slots').textContent();
    if (!slots.includes('size = large')) throw new Error(`slots: ${slots}`);
    await shot(page, 'workbench-1280');
    await axeWhole(page, 'with a carousel');

    // What the reader opened stays open as turns arrive.
    await page.click('#wb-turns > li[data-turn="2"] details[data-key="2:trace:2"] > summary');
    await page.click('#wb-widget .parley-carousel button:has-text("Pepperoni")');
    await settled(3);
    if (!(await page.locator('details[data-key="2:trace:2"]').evaluate((d) => d.open))) throw new Error('an opened trace closed when the next turn came');
    await send(page, '2');
    await settled(4);
    await page.click('#wb-widget .parley-card button:has-text("Confirm")');
    await settled(5);
    await send(page, 'Dana');
    await settled(6);
    await send(page, 'dana@example.com');
    await settled(7);
    await checkTurn(7);
    // The pending custom action, answered from the panel by keyboard.
    await page.waitForSelector('#wb-pending button[data-path="success"]', WAIT);
    const paths = await page.locator('#wb-pending button').allTextContents();
    if (JSON.stringify(paths) !== JSON.stringify(['success', 'cancel'])) throw new Error(`paths: ${paths}`);
    await page.focus('#wb-pending button[data-path="success"]');
    await page.keyboard.press('Enter');
    await settled(8);
    await page.waitForSelector('#wb-widget >> text=Enjoy your meal, Dana!', WAIT);
    await checkTurn(8);
    await checkState(8);
    const answered = last().body.request || last().body.action;
    if (answered.type !== "success") throw new Error(`the path went out as ${JSON.stringify(answered)}`);

    // The engine test, through the engine's own harness.
    await page.fill('#wb-project-path', path.join(root, 'examples/projects/pizza/project.json'));
    await page.click('[data-export=test]');
    const test = JSON.parse(await page.inputValue('#wb-export'));
    if (test.turns.length < 9 || !test.turns.some((t) => t.api) || !test.turns.some((t) => t.button === 'Confirm') || !test.turns.some((t) => t.action === 'success')) {
      throw new Error(`the export misses turns: ${JSON.stringify(test.turns.map((t) => Object.keys(t)))}`);
    }
    engineHarness(await page.inputValue('#wb-export'));
    await page.click('[data-export=text]');
    const text = await page.inputValue('#wb-export');
    if (!text.includes('< text: Enjoy your meal, Dana!') || !text.includes('#7 > text dana@example.com')) throw new Error(`text export: ${text.slice(0, 400)}`);
    await page.click('[data-export=json]');
    const json = JSON.parse(await page.inputValue('#wb-export'));
    if (json.turns.length !== 8 || JSON.stringify(json.turns[1].traces) !== JSON.stringify(wire[1].answer.trace)) throw new Error('the JSON export is not the wire');

    // Replay up to turn 2: a new conversation, the launch and the same text again.
    const before = wire.length;
    await page.click('[data-replay="2"]');
    await until(async () => wire.length === before + 2 && wire[before + 1].answer && (await turnsShown()) === 2, 'the replay');
    if (wire[before].body.state) throw new Error('the replay did not start a new conversation');
    if (JSON.stringify(wire[before + 1].body.request) !== JSON.stringify(wire[1].body.request)) throw new Error('the replay sent another request');
    await page.waitForSelector('#wb-widget .parley-carousel', WAIT);
    // A raw request.
    await page.fill('#wb-raw', '{"type": "intent", "payload": {"intent": {"name": "show_menu"}}}');
    await page.click('#wb-send-raw');
    await until(async () => wire.length === before + 3 && wire[before + 2].answer, 'the raw request');
    if (wire[before + 2].body.request.type !== 'intent') throw new Error('the raw request went out otherwise');
    // An error, with its code, as the runtime answered it.
    await page.fill('#wb-raw', JSON.stringify({ type: 'text', payload: 'x'.repeat(2100) }));
    await page.click('#wb-send-raw');
    await until(async () => wire.length >= before + 4 && wire[before + 3].answer, 'the refused request');
    const refused = wire[before + 3];
    if (refused.status !== 413) throw new Error(`a 2,100-character text was answered ${refused.status}`);
    const shownError = await page.locator(`#wb-turns > li[data-turn="4"] [data-field=error]`).textContent();
    if (!shownError.startsWith(`${refused.answer.code}: `)) throw new Error(`the error shown: ${shownError}`);
    await page.fill('#wb-raw', 'nope');
    await page.click('#wb-send-raw');
    if (!(await page.locator('#wb-raw-error').textContent()).startsWith('Not JSON')) throw new Error('a bad raw request was not refused');

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    const [chat, panel] = await Promise.all(['.wb-chat', '.wb-panel'].map((s) => page.locator(s).boundingBox()));
    if (!(panel.y >= chat.y + chat.height - 1)) throw new Error('at 390 px the panel is not below the chat');
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    if (wide > 390) throw new Error(`the page scrolls sideways at 390 px (${wide} px)`);
    await axeWhole(page, 'at 390 px');
    await shot(page, 'workbench-390');
    const csp = await page.evaluate(() => window.__csp);
    if (csp.length) throw new Error(`CSP refusals: ${csp}`);
    return `${wire.length} calls checked; the exported test (${test.turns.length} turns) passed the engine's harness`;
  });

  scenario('workbench: the streaming flavour, each frame as it arrived, the traces the widget was handed', async ({ page, parley }) => {
    const streams = [];
    page.on('requestfinished', async (request) => {
      if (!request.url().includes('/interact/stream')) return;
      const entry = { url: request.url(), body: JSON.parse(request.postData() || '{}') };
      streams.push(entry);
      entry.text = await (await request.response()).text();
    });
    await page.goto(`${parley}/workbench?flavour=streaming`);
    await page.waitForSelector('#wb-widget .parley-choices button', WAIT);
    await send(page, 'what is on the menu');
    await page.waitForSelector('#wb-widget >> text=Here is our menu', WAIT);
    for (let i = 0; i < 100 && !(streams.length === 2 && streams[1].text); i += 1) await page.waitForTimeout(100);
    if (streams.length !== 2) throw new Error(`${streams.length} streamed turns`);
    const turns = await page.evaluate(() => window.parleyWorkbench.turns.map((t) => ({ frames: t.frames.map((f) => f.event), traces: t.traces })));
    for (const [i, stream] of streams.entries()) {
      const events = [...stream.text.matchAll(/^event: ?(.*)$/gm)].map((m) => m[1]);
      const traces = stream.text.split(/\n\n/).filter((f) => /^event: ?trace$/m.test(f)).map((f) => JSON.parse(f.replace(/^[\s\S]*?^data: ?/m, '')));
      if (JSON.stringify(turns[i].frames) !== JSON.stringify(events)) throw new Error(`turn ${i + 1}: frames ${turns[i].frames} vs ${events}`);
      // Compared on their ASCII: Playwright hands an event stream's body over in another
      // charset (its non-ASCII characters arrive garbled), the page reads it as UTF-8.
      const ascii = (v) => JSON.stringify(v).replace(/[^\x20-\x7e]/g, '');
      if (ascii(turns[i].traces) !== ascii(traces)) throw new Error(`turn ${i + 1}: the traces the widget got are not the stream's: ${JSON.stringify(turns[i].traces).slice(0, 300)} vs ${JSON.stringify(traces).slice(0, 300)}`);
      if (!stream.body.config || stream.body.config.debug !== true) throw new Error('no config.debug on the stream');
    }
    if (!(await page.locator('#wb-nlu-match').textContent()).includes('Matched show_menu')) throw new Error('the stream\'s NLU trace is not shown');
    const frames = await page.locator('#wb-turns > li[data-turn="2"] summary:has-text("stream frames")').textContent();
    if (!frames.startsWith(`${turns[1].frames.length} stream frames`)) throw new Error(`frames summary: ${frames}`);
    await shot(page, 'workbench-streaming');
    return `${turns[1].frames.length} frames in the text turn`;
  });

  // Another runtime, on another origin: a second `parley serve` (the binary run.cjs was given),
  // reached by CORS, as a Voiceflow runtime would be.
  scenario('workbench: pointed at another runtime by URL, its turns go there', async ({ page, parley }) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-workbench-other-'));
    const other = spawn(process.argv[2], ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir, '--widget-dir', process.argv[3], '--debug-traces'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
    try {
      const url = await new Promise((resolve, reject) => {
        // Bounded, but with room for a loaded CI machine; the address is read from all that
        // was said so far (a pipe may cut "…127.0.0.1:34" from "567/" between two chunks).
        let said = '';
        const timer = setTimeout(() => reject(new Error(`the other server did not start: ${said}`)), 60000);
        other.stderr.on('data', (chunk) => {
          said += String(chunk);
          const m = said.match(/ at (http:\/\/127\.0\.0\.1:\d+)\//);
          if (m) { clearTimeout(timer); resolve(m[1]); }
        });
        other.on('exit', (code) => reject(new Error(`the other server exited (${code})`)));
      });
      other.stderr.resume();
      const calls = [];
      page.on('requestfinished', (r) => { if (r.method() === 'POST') calls.push(r.url()); });
      await page.goto(`${parley}/workbench?url=${encodeURIComponent(url)}`);
      await page.waitForSelector('#wb-widget .parley-choices button', WAIT);
      await send(page, 'opening hours');
      await page.waitForSelector('#wb-turns > li[data-turn="2"] [data-field=status]:text-is("200")', WAIT);
      if (!calls.length || !calls.every((c) => c.startsWith(`${url}/interact`))) throw new Error(`calls went to ${calls}`);
      if ((await page.inputValue('#wb-url')) !== url) throw new Error('the runtime field does not show the other runtime');
      if (!(await page.locator('#wb-nlu-match').textContent()).includes('Matched hours')) throw new Error('no NLU trace from the other runtime');
      return `${calls.length} calls to ${url}`;
    } finally {
      other.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  // A runtime that is not Parley and misbehaves (a Node server on loopback: no real runtime
  // sends these), reached by `?url=` in a tab where a key was typed for this server: the key
  // stays with the runtime it was typed for, and answers that are no traces (null, a number,
  // a list; an NLU trace whose fields are of the wrong kinds; a state whose stack is a string)
  // are shown for what they are, with no script error and the other panels still drawn.
  scenario('workbench: a misbehaving runtime by URL gets no key typed for another, and its odd answers are shown, not thrown on', async ({ page, parley }) => {
    const seen = [];
    const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS' };
    const odd = {
      trace: [null, 7, [1], { type: 'debug', payload: { type: 'nlu', intents: 'many', match: { intent: 'x', slots: 'none' } } },
        { type: 'carousel', payload: { cards: 'none' } }, { type: 'choice', payload: { buttons: 5 } },
        { type: 'text', payload: { message: 'Hello from elsewhere', source: 'odd' } }],
      state: { stack: 'none', variables: 3 },
    };
    const server = http.createServer((req, res) => {
      if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
      req.resume();
      req.on('end', () => {
        seen.push({ url: req.url, authorization: req.headers.authorization || null });
        if (req.method === 'POST' && req.url.startsWith('/interact')) {
          res.writeHead(200, { ...cors, 'content-type': 'application/json' });
          res.end(JSON.stringify(odd));
        } else {
          res.writeHead(404, { ...cors, 'content-type': 'application/json' });
          res.end('{}');
        }
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const other = `http://127.0.0.1:${server.address().port}`;
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e.message || e)));
    try {
      await page.goto(`${parley}/workbench`);
      await page.waitForSelector('#wb-widget .parley-choices button', WAIT);
      await page.fill('#wb-key', 'VF.DM.0123456789abcdef_typedforthisserver');
      await Promise.all([page.waitForNavigation(), page.click('#wb-settings button[type=submit]')]);
      if ((await page.inputValue('#wb-key')) === '') throw new Error('the key typed for this server was not kept for it');
      await page.goto(`${parley}/workbench?url=${encodeURIComponent(other)}&project=elsewhere`);
      await page.waitForSelector('#wb-turns > li[data-turn="1"] [data-field=status]:text-is("200")', WAIT);
      await page.evaluate(() => window.parley.chat.interact({ type: 'text', payload: 'hello?' }));
      await page.waitForSelector('#wb-turns > li[data-turn="2"] [data-field=status]:text-is("200")', WAIT);
      await page.waitForTimeout(300);
      const turns = seen.filter((s) => s.url.startsWith('/interact'));
      if (turns.length < 2) throw new Error(`the other runtime saw ${JSON.stringify(seen)}`);
      if (seen.some((s) => s.authorization)) throw new Error(`the key went to another runtime: ${JSON.stringify(seen)}`);
      if ((await page.inputValue('#wb-key')) !== '') throw new Error('the key field shows a key typed for another runtime');
      if (errors.length) throw new Error(`script errors: ${errors.join('; ')}`);
      const shown = await page.locator('#wb-turns > li[data-turn="2"] li[data-trace-type]').count();
      if (shown !== odd.trace.length) throw new Error(`${shown} of ${odd.trace.length} answers shown`);
      const notTraces = await page.locator('#wb-turns > li[data-turn="2"] li[data-trace-type="(not a trace)"]').count();
      if (notTraces !== 3) throw new Error(`${notTraces} shown as no trace, not 3`);
      const failed = page.locator('.wb-error', { hasText: /annot show this/ });
      if (await failed.count()) throw new Error(`a panel failed: ${await failed.first().textContent()}`);
      if (!(await page.locator('#wb-nlu-match').textContent()).includes('Matched x')) throw new Error('the NLU panel is not drawn');
      if ((await page.locator('#wb-stack').textContent()).trim() !== 'empty (ended)') throw new Error('the stack panel is not drawn');
      await shot(page, 'workbench-odd-runtime');
      return `${turns.length} turns to ${other}, none with a key`;
    } finally {
      server.close();
    }
  });

  // An LLM block (no model here: its failure path), exported as the call and its result.
  scenario('workbench: a question for the LLM block, exported as its effect and result, green in the engine', async ({ page, parley }) => {
    await page.goto(`${parley}/workbench`);
    await page.waitForSelector('#wb-widget .parley-choices button', WAIT);
    await send(page, 'I have a question');
    await page.waitForSelector('#wb-turns > li[data-turn="2"] [data-field=status]:text-is("200")', WAIT);
    await send(page, 'do you have gluten free dough?');
    await page.waitForSelector('#wb-turns > li[data-turn="3"] [data-field=status]:text-is("200")', WAIT);
    await page.fill('#wb-project-path', path.join(root, 'examples/projects/pizza/project.json'));
    await page.click('[data-export=test]');
    const text = await page.inputValue('#wb-export');
    const test = JSON.parse(text);
    const call = test.turns.findIndex((t) => (t.traces || []).some((l) => l.startsWith('effect: llm ')));
    if (call < 0 || !test.turns[call + 1] || !test.turns[call + 1].llm) throw new Error(`no LLM call and result in the export: ${text.slice(0, 600)}`);
    engineHarness(text);
    return `the model's ${JSON.stringify(test.turns[call + 1].llm)}`;
  });
};
