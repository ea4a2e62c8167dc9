// The widget streams (issue 17, part 4): in the stateful flavour, against a runtime that offers
// Voiceflow's v4 sessions, each turn goes to `/v4/interact/stream` with completion events, and
// an LLM's answer fills one bubble as it arrives.
//
// - Against the real runtime, whose LLM block talks to an OpenAI-compatible server on loopback
//   (the stream Ollama, llama.cpp's server and vLLM send: a role chunk, content chunks, the
//   finish chunk, `data: [DONE]`; a piece every 250 ms). No model can be installed here, so the
//   model is this stub; the runtime's client, its streaming and the widget are the real ones.
// - A stream cut off mid-answer (the runtime killed): what arrived stays, a retry is offered,
//   and after a restart the retry's whole answer replaces the cut one.
// - A recorded Voiceflow stream (the frames of docs.voiceflow.com's "Completion Events" page:
//   `id` lines, `completion` start / content / end with `time`, an `end` event without data),
//   replayed frame by frame by a loopback server with Voiceflow's CORS: one bubble, drawn as a
//   text trace of the same words is.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// What the transcript holds, as the visitor and the live region see it.
const bubbles = (page) => page.evaluate(() => [...document.querySelector('.parley-host').shadowRoot
  .querySelectorAll('[role=log] > .parley-bubble--bot')].map((b) => ({
  text: b.textContent, hidden: b.getAttribute('aria-hidden'), html: b.innerHTML.replace(/<time[^]*?<\/time>/, ''),
})));
const typingShows = (page) => page.evaluate(() => Boolean(document.querySelector('.parley-host')
  .shadowRoot.querySelector('.parley-typing')));

// Every line added to the live region, with whether it was hidden from it when added: what a
// screen reader is given to announce.
async function watchLog(page) {
  await page.evaluate(() => {
    window.__added = [];
    const log = document.querySelector('.parley-host').shadowRoot.querySelector('[role=log]');
    new MutationObserver((records) => {
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (n.nodeType === 1) window.__added.push({ text: n.textContent, hidden: n.getAttribute('aria-hidden') === 'true' });
        }
      }
    }).observe(log, { childList: true });
  });
}
const announcedLines = (page) => page.evaluate(() => window.__added.filter((a) => !a.hidden).map((a) => a.text));

// An OpenAI-compatible `POST /v1/chat/completions` with `stream: true`, on loopback.
function startModel(pieces, gap) {
  const seen = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
        return;
      }
      seen.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (delta, finish = null) => `data: ${JSON.stringify({
        id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1700000000, model: 'tiny',
        choices: [{ index: 0, delta, finish_reason: finish }],
      })}\n\n`;
      res.write(chunk({ role: 'assistant', content: '' }));
      for (const piece of pieces) {
        await sleep(gap);
        if (res.destroyed) return;
        res.write(chunk({ content: piece }));
      }
      res.write(chunk({}, 'stop'));
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/v1`, seen, close: () => server.close(),
  })));
}

module.exports = (scenario, { accessible, shot, send, WAIT, freePort, parleyBin, distDir }) => {
  // The runtime with the demo project and a model, on `port` (a restart keeps its data: the
  // state secret that signs session keys, the conversations).
  async function startRuntime(port, dataDir, model) {
    const child = spawn(parleyBin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir, '--widget-dir', distDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, RUST_LOG: 'warn', PARLEY_LLM_BASE_URL: model.url, PARLEY_LLM_MODEL: 'tiny' },
    });
    await new Promise((resolve, reject) => {
      let said = '';
      const timer = setTimeout(() => reject(new Error(`the runtime did not start: ${said}`)), 60000);
      child.stderr.on('data', (chunk) => {
        said += String(chunk);
        if (said.includes(`http://127.0.0.1:${port}`)) { clearTimeout(timer); resolve(); }
      });
      child.on('exit', (code) => reject(new Error(`the runtime exited (${code}): ${said}`)));
    });
    child.stderr.resume();
    return child;
  }
  const stop = (child) => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });

  // The demo page of `base`, its widget stateful under `userID`, open.
  async function openStateful(page, base, userID) {
    await page.goto(`${base}/`);
    await page.waitForSelector('.parley-launcher', WAIT);
    await page.evaluate((u) => {
      window.parley.chat.destroy();
      window.parley.chat.load({ verify: { projectID: 'pizza' }, assistant: { title: 'Pizza Palace' }, mode: 'stateful', userID: u, autostart: true });
    }, userID);
    await page.waitForSelector('.parley-bubble--bot', WAIT);
  }

  async function askTheModel(page, question) {
    await page.waitForSelector('.parley-composer__send:not([disabled])', WAIT);
    await send(page, 'I have a question');
    await page.waitForSelector('.parley-bubble--bot >> text=what would you like to know', WAIT);
    await watchLog(page);
    await page.waitForSelector('.parley-composer__send:not([disabled])', WAIT);
    await send(page, question);
  }

  const PIECES = ['Yes, ', 'our ', 'dough ', 'is ', '**vegan**: ', 'flour, ', 'water, ', 'salt ', 'and ', 'yeast.'];
  const WHOLE = 'Yes, our dough is vegan: flour, water, salt and yeast.';

  scenario('streaming: an LLM answer fills one bubble as it arrives (v4 session, completion events), the typing indicator until its first words, read out once when whole', async ({ page }) => {
    const model = await startModel(PIECES, 250);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-stream-'));
    const port = await freePort();
    const runtime = await startRuntime(port, dataDir, model);
    const calls = [];
    page.on('request', (r) => { if (r.method() === 'POST') calls.push({ url: new URL(r.url()).pathname, id: r.headers()['x-parley-request-id'] }); });
    try {
      const base = `http://127.0.0.1:${port}`;
      await openStateful(page, base, 'stream-a');
      await askTheModel(page, 'Is the dough vegan?');
      const sent = Date.now();
      await page.waitForSelector('.parley-typing', WAIT);
      await page.waitForFunction(() => [...document.querySelector('.parley-host').shadowRoot
        .querySelectorAll('[role=log] > .parley-bubble--bot')].some((b) => b.textContent.includes('Yes,')), null, WAIT);
      const firstWords = Date.now() - sent;
      let now = (await bubbles(page)).filter((b) => b.text.includes('Yes,'));
      if (now.length !== 1) throw new Error(`${now.length} bubbles hold the answer mid-stream`);
      if (now[0].text.includes('yeast.')) throw new Error(`the answer came whole, not streamed: ${now[0].text}`);
      if (now[0].hidden !== 'true') throw new Error('the filling bubble is read out piece by piece (not hidden from the live region)');
      if (await typingShows(page)) throw new Error('the typing indicator stays while the words arrive');
      await shot(page, 'stream-mid');
      await accessible(page, 'mid-stream');
      // It grows in place.
      await page.waitForFunction(() => [...document.querySelector('.parley-host').shadowRoot
        .querySelectorAll('[role=log] > .parley-bubble--bot')].some((b) => b.textContent.includes('is vegan')), null, WAIT);
      now = (await bubbles(page)).filter((b) => b.text.includes('Yes,'));
      if (now.length !== 1) throw new Error(`${now.length} bubbles hold the answer: one per piece?`);
      await page.waitForFunction(() => [...document.querySelector('.parley-host').shadowRoot
        .querySelectorAll('[role=log] > .parley-bubble--bot')].some((b) => b.textContent.includes('yeast.') && !b.hasAttribute('aria-hidden')), null, WAIT);
      const whole = Date.now() - sent;
      now = (await bubbles(page)).filter((b) => b.text.includes('Yes,'));
      if (now.length !== 1 || !now[0].text.includes(WHOLE)) throw new Error(`the answer: ${JSON.stringify(now)}`);
      if (!now[0].html.includes('<strong>vegan</strong>')) throw new Error(`its markdown is not drawn: ${now[0].html}`);
      const announced = (await announcedLines(page)).filter((t) => t.includes('Yes,'));
      if (announced.length !== 1 || !announced[0].includes(WHOLE)) throw new Error(`the live region was given ${JSON.stringify(announced)}`);
      await page.waitForSelector('.parley-composer__send:not([disabled])', WAIT);
      await shot(page, 'stream-done');
      await accessible(page, 'after the stream');
      // The wire: one session, every turn on the v4 stream with its request id.
      const sessions = calls.filter((c) => c.url === '/v4/project/pizza/session');
      const turns = calls.filter((c) => c.url.includes('/interact'));
      if (sessions.length !== 1) throw new Error(`${sessions.length} sessions started: ${JSON.stringify(calls)}`);
      if (turns.length !== 3 || turns.some((t) => t.url !== '/v4/interact/stream' || !t.id)) throw new Error(`the turns: ${JSON.stringify(turns)}`);
      const prompt = JSON.stringify(model.seen.at(-1)?.messages || []);
      if (!prompt.includes('Is the dough vegan?')) throw new Error(`the model was asked ${prompt}`);
      // A reload restores the answer as one line, whole.
      await page.reload();
      await page.waitForSelector('.parley-launcher', WAIT);
      await page.evaluate(() => {
        window.parley.chat.destroy();
        window.parley.chat.load({ verify: { projectID: 'pizza' }, mode: 'stateful', userID: 'stream-a', autostart: true });
      });
      await page.waitForSelector('.parley-bubble--bot >> text=and yeast.', WAIT);
      now = (await bubbles(page)).filter((b) => b.text.includes('Yes,'));
      if (now.length !== 1) throw new Error(`${now.length} lines after a reload`);
      return `first words ${firstWords} ms after Enter, whole after ${whole} ms (the model: ${PIECES.length} pieces, 250 ms apart)`;
    } finally {
      await stop(runtime);
      model.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  scenario('streaming: a stream cut off mid-answer keeps what arrived and offers a retry; after a restart the retry\'s whole answer replaces it', async ({ page, events }) => {
    const model = await startModel(PIECES, 300);
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-stream-cut-'));
    const port = await freePort();
    let runtime = await startRuntime(port, dataDir, model);
    try {
      const base = `http://127.0.0.1:${port}`;
      await openStateful(page, base, 'stream-b');
      await askTheModel(page, 'Is the dough vegan?');
      await page.waitForFunction(() => document.querySelector('.parley-host').shadowRoot
        .querySelector('[role=log]').textContent.includes('our dough'), null, WAIT);
      await stop(runtime);
      await page.waitForSelector('.parley-bubble__retry', WAIT);
      const cut = (await bubbles(page)).filter((b) => b.text.includes('Yes,'));
      if (cut.length !== 1 || cut[0].text.includes('yeast.')) throw new Error(`what arrived: ${JSON.stringify(cut)}`);
      if (cut[0].hidden) throw new Error('the cut answer stays hidden from screen readers');
      if (await typingShows(page)) throw new Error('still typing after the cut');
      const error = (await events()).find((e) => e.startsWith('parley:error'));
      if (!error || !error.includes('cut off')) throw new Error(`parley:error: ${await events()}`);
      await shot(page, 'stream-cut');
      await accessible(page, 'a stream cut off');
      runtime = await startRuntime(port, dataDir, model);
      await page.click('.parley-bubble__retry');
      await page.waitForFunction(() => [...document.querySelector('.parley-host').shadowRoot
        .querySelectorAll('[role=log] > .parley-bubble--bot')].some((b) => b.textContent.includes('yeast.') && !b.hasAttribute('aria-hidden')), null, { timeout: 30000 });
      const after = (await bubbles(page)).filter((b) => b.text.includes('Yes,'));
      if (after.length !== 1) throw new Error(`${after.length} answers after the retry: ${JSON.stringify(after.map((a) => a.text))}`);
      if (await page.locator('.parley-bubble__retry').count()) throw new Error('the retry is still offered');
      await shot(page, 'stream-retried');
      return 'the cut answer replaced by the retry\'s';
    } finally {
      await stop(runtime);
      model.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  // A session start is a new conversation on the runtime: a conversation that began on the
  // plain route (an earlier build, `stream: false`, a runtime without v4 then) goes on there.
  scenario('streaming: a stateful conversation begun on the plain route goes on there after a reload with streaming on (no session start wipes it)', async ({ page, parley }) => {
    const posts = [];
    page.on('request', (r) => { if (r.method() === 'POST') posts.push(new URL(r.url()).pathname); });
    const load = (stream) => page.evaluate((s) => {
      window.parley.chat.destroy();
      window.parley.chat.load({ verify: { projectID: 'pizza' }, mode: 'stateful', userID: 'plain-1', autostart: true, stream: s });
    }, stream);
    await load(false);
    await page.waitForSelector('.parley-choices button', WAIT);
    await send(page, "I'd like a large pizza please");
    await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
    await page.reload();
    await page.waitForSelector('.parley-launcher', WAIT);
    await load(true);
    await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
    await page.waitForSelector('.parley-composer__send:not([disabled])', WAIT);
    await send(page, 'pepperoni');
    await page.waitForSelector('.parley-bubble--bot >> text=/pepperoni/i', WAIT);
    if (posts.some((p) => p.startsWith('/v4/'))) throw new Error(`a v4 call: ${posts}`);
    const said = await page.evaluate(() => document.querySelector('.parley-host').shadowRoot.querySelector('[role=log]').textContent);
    if (!/large pepperoni/i.test(said)) throw new Error(`the order did not go on: ${said.slice(-300)}`);
    return `${posts.filter((p) => p.includes('/interact')).length} turns on the public route`;
  });

  // docs.voiceflow.com, "Completion Events", `completion_events=true`: the frames, each JSON on
  // one `data` line (the page prints them over several lines, which is not valid SSE, and with
  // trailing commas, which is not JSON), with the `id`s and `time`s it shows.
  const recorded = [
    'event: trace\nid: 1\ndata: {"type":"text","payload":{"message":"Give me a moment..."},"time":1725899197140}\n\n',
    'event: trace\nid: 2\ndata: {"type":"completion","payload":{"state":"start"},"time":1725899197143}\n\n',
    'event: trace\nid: 3\ndata: {"type":"completion","payload":{"state":"content","content":"Welcome to our service. How can I help you today? Perh"},"time":1725899197144}\n\n',
    'event: trace\nid: 4\ndata: {"type":"completion","payload":{"state":"content","content":"aps you\'re interested in our latest offers or need assistance with an existing order?"},"time":1725899197145}\n\n',
    'event: trace\nid: 5\ndata: {"type":"completion","payload":{"state":"content","content":" Let me know if you have any other questions!"},"time":1725899197146}\n\n',
    'event: trace\nid: 6\ndata: {"type":"completion","payload":{"state":"end"},"time":1725899197147}\n\n',
    'event: end\nid: 7\n\n',
  ];
  const RECORDED_WHOLE = "Welcome to our service. How can I help you today? Perhaps you're interested in our latest offers or need assistance with an existing order? Let me know if you have any other questions!";

  scenario('streaming: a recorded Voiceflow completion stream, replayed frame by frame, fills one bubble drawn as a text trace of its words', async ({ page }) => {
    const seen = [];
    const vf = http.createServer((req, res) => {
      // general-runtime's CORS: the origin reflected, the asked headers allowed.
      const headers = {
        'access-control-allow-origin': req.headers.origin || '*', 'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET,HEAD,PUT,PATCH,POST,DELETE', 'access-control-allow-headers': req.headers['access-control-request-headers'] || '',
      };
      if (req.method === 'OPTIONS') { res.writeHead(204, headers).end(); return; }
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', async () => {
        seen.push({ url: req.url, authorization: req.headers.authorization, body: body ? JSON.parse(body) : null });
        if (req.url === '/v4/project/vf-pizza/session') {
          res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end('{"sessionKey":"vf-session-1"}');
        } else if (req.url === '/v4/interact/stream' && req.headers.authorization === 'vf-session-1') {
          res.writeHead(200, { ...headers, 'content-type': 'text/event-stream' });
          const frames = JSON.parse(body).action.type === 'launch' ? [recorded[0], recorded.at(-1)] : recorded.slice(1);
          for (const frame of frames) { res.write(frame); await sleep(150); }
          res.end();
        } else {
          res.writeHead(404, { ...headers, 'content-type': 'application/json' }).end('{"message":"not found"}');
        }
      });
    });
    await new Promise((resolve) => vf.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${vf.address().port}`;
    const said = [];
    page.on('console', (m) => said.push(`${m.type()}: ${m.text()}`));
    try {
      await page.evaluate((u) => {
        window.parley.chat.destroy();
        window.parley.chat.load({ verify: { projectID: 'vf-pizza' }, url: u, mode: 'stateful', userID: 'vf-user', autostart: true });
      }, url);
      await page.waitForSelector('.parley-bubble--bot >> text=Give me a moment', WAIT);
      await watchLog(page);
      await page.waitForSelector('.parley-composer__send:not([disabled])', WAIT);
      await send(page, 'hello');
      await page.waitForFunction(() => document.querySelector('.parley-host').shadowRoot
        .querySelector('[role=log]').textContent.includes('Welcome to our service'), null, WAIT)
        .catch((e) => { throw new Error(`${e.message}; asked ${JSON.stringify(seen.map((s) => s.url))}; console: ${said.join(' | ')}`); });
      const mid = (await bubbles(page)).filter((b) => b.text.includes('Welcome'));
      if (mid.length !== 1 || mid[0].text.includes('other questions!') || mid[0].hidden !== 'true') throw new Error(`mid-stream: ${JSON.stringify(mid)}`);
      await page.waitForFunction(() => [...document.querySelector('.parley-host').shadowRoot
        .querySelectorAll('[role=log] > .parley-bubble--bot')].some((b) => b.textContent.includes('other questions!') && !b.hasAttribute('aria-hidden')), null, WAIT);
      const done = (await bubbles(page)).filter((b) => b.text.includes('Welcome'));
      if (done.length !== 1 || !done[0].text.includes(RECORDED_WHOLE)) throw new Error(`the answer: ${JSON.stringify(done)}`);
      // Drawn as a text trace of the same words: the same markup as the launch's text bubble
      // but for the words.
      const text = (await bubbles(page)).find((b) => b.text.includes('Give me a moment'));
      if (done[0].html.replace(RECORDED_WHOLE, 'X') !== text.html.replace('Give me a moment...', 'X')) throw new Error(`drawn differently from a text: ${done[0].html} vs ${text.html}`);
      const announced = (await announcedLines(page)).filter((t) => t.includes('Welcome'));
      if (announced.length !== 1) throw new Error(`the live region was given ${JSON.stringify(announced)}`);
      const turn = seen.find((s) => s.url === '/v4/interact/stream' && s.body.action.type === 'text');
      if (!turn || turn.body.config.completionEvents !== true || turn.body.action.payload !== 'hello') throw new Error(`sent: ${JSON.stringify(seen)}`);
      if (seen.filter((s) => s.url.includes('/session')).length !== 1) throw new Error(`sessions: ${JSON.stringify(seen)}`);
      await page.waitForSelector('.parley-composer__send:not([disabled])', WAIT);
      if (await typingShows(page)) throw new Error('still typing after the end');
      await shot(page, 'stream-voiceflow');
      return `${recorded.length} recorded frames`;
    } finally {
      vf.close();
    }
  });
};
