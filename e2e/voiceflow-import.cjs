// Issue 18: a Voiceflow export served as it is. `parley serve --project agent.vfr` (the small
// agent written by hand in base-types' shapes, crates/parley-engine/tests/voiceflow/agent.vfr),
// then the whole conversation of that agent through Voiceflow's own widget (react-chat, from the
// conformance suite's install: e2e/voiceflow.cjs's helpers) and through Parley's widget, each in
// Chromium on a page of its own origin, on loopback.
//
// The agent's API step names a public host (api.beanthere.example), which this closed network
// cannot reach: the scenario serves a copy whose API step asks Parley's own demo endpoint (a path
// on the server, `/demo/api/estimate`), so the call is real and takes its success path; that is a
// loopback address, which the copy allows with the export's Parley settings
// (`parley.allowPrivateNetwork`, docs/voiceflow-import.md). The rest of the export is unchanged.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const vf = require('./voiceflow.cjs').helpers;

const fail = (what) => { throw new Error(what); };
const AGENT = path.join(__dirname, '../crates/parley-engine/tests/voiceflow/agent.vfr');

// The agent with its API step pointed at the server's own demo endpoint.
function servableAgent(dir) {
  const agent = JSON.parse(fs.readFileSync(AGENT, 'utf8'));
  const api = agent.programs.d_main.lines.n_api.action_data;
  api.url = '/demo/api/estimate';
  api.method = 'GET';
  api.params = [{ key: 'quantity', val: '1' }];
  api.headers = [{ key: 'accept', val: 'application/json' }];
  api.bodyInputType = 'rawInput';
  api.content = '';
  api.mapping = [{ path: 'response.minutes', var: 'eta' }];
  agent.parley = { allowPrivateNetwork: true };
  // The menu's own no-reply (10 s) would prompt in the middle of a slow run's turn; the engine's
  // transcript tests cover it.
  delete agent.programs.d_main.lines.n_menu.noReply;
  const file = path.join(dir, 'agent.vfr');
  fs.writeFileSync(file, JSON.stringify(agent));
  return file;
}

async function serveAgent(h) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-vfr-'));
  const project = servableAgent(dataDir);
  const port = await h.freePort();
  const child = spawn(h.parleyBin, ['serve', '--project', project, '--addr', `127.0.0.1:${port}`,
    '--data-dir', dataDir, '--widget-dir', h.distDir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let said = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`parley serve --project agent.vfr did not start: ${said}`)), 15000);
    child.stderr.on('data', (chunk) => {
      said += String(chunk);
      if (said.includes('http://')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`parley serve exited (${code}): ${said}`)); });
  });
  child.stderr.resume();
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => { await h.stopServer(child); fs.rmSync(dataDir, { recursive: true, force: true }); },
  };
}

// A page of its own origin: `body` is its HTML; `/react-chat/bundle.mjs` is react-chat's bundle.
function startPage(body) {
  const bundle = path.join(vf.voiceflow('@voiceflow/react-chat'), 'dist/bundle.mjs');
  const server = http.createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body);
    else if (req.url === '/react-chat/bundle.mjs') res.writeHead(200, { 'content-type': 'text/javascript' }).end(fs.readFileSync(bundle));
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((r) => server.close(r)),
  })));
}

// react-chat's default avatar is on Voiceflow's CDN: the page gives its own (off the loopback is
// refused).
const AVATAR = `data:image/svg+xml,${encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle cx="5" cy="5" r="5" fill="#6d4c41"/></svg>')}`;

// react-chat embedded; the agent's `feedback` custom action is a response extension whose button
// answers it with the path its trace names.
const reactChatPage = (parley) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>react-chat against a Voiceflow export on Parley</title></head>
<body style="margin:0;font-family:sans-serif;background:#f3f3f3">
<div id="chat" style="width:440px;height:760px;margin:20px"></div>
<script type="module">
  import '/react-chat/bundle.mjs';
  window.voiceflow.chat.load({
    verify: { projectID: 'bean-there' },
    url: ${JSON.stringify(parley)},
    versionID: 'production',
    autostart: true,
    render: { mode: 'embedded', target: document.getElementById('chat') },
    assistant: { image: ${JSON.stringify(AVATAR)}, avatar: ${JSON.stringify(AVATAR)}, persistence: 'memory', extensions: [
      { name: 'feedback', type: 'response',
        match: ({ trace }) => trace.type === 'feedback',
        render: ({ trace, element }) => {
          const done = document.createElement('button');
          done.className = 'feedback-done';
          done.textContent = 'Done: ' + trace.payload.question;
          done.addEventListener('click', () => {
            done.disabled = true;
            window.voiceflow.chat.interact(trace.paths.find((p) => p.event.type === 'done').event);
          });
          element.append(done);
        } },
    ] },
  }).then(() => { window.__loaded = true; }, (e) => { window.__loadError = String(e); });
</script>
</body></html>`;

// Parley's widget from the same server, embedded, on another origin.
const parleyPage = (parley) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Parley's widget against a Voiceflow export</title>
<script src="${parley}/parley.js"></script></head>
<body style="margin:0;font-family:sans-serif">
<section id="chat" style="width:440px;height:760px;margin:20px" aria-label="Chat with Bean There"></section>
<script>
  window.__actions = [];
  addEventListener('parley:action', (e) => window.__actions.push(e.detail));
  window.parley.chat.load({ url: ${JSON.stringify(parley)}, verify: { projectID: 'bean-there' },
    assistant: { title: 'Bean There' }, render: { mode: 'embedded', target: '#chat' } });
</script>
</body></html>`;

// The agent's conversation: what the user does, and what each answer must say.
const ORDER = [
  { say: 'launch', expect: [/^Welcome to Bean There!$/], buttons: ['Order a coffee', 'Opening hours'] },
  { say: 'the button Opening hours', expect: [/^We open at 7, every day\.$/], buttons: ['Order a coffee'] },
  { say: "I'd like a large coffee", expect: [/^A large coffee\. And your name\?$/] },
  { say: 'Dana', expect: [/^Thanks Dana! Order A100: your large coffee \(\$4\.5\) is ready in 25 minutes\.$/], action: 'feedback' },
  { say: 'the action done', expect: [/^You have 1 stamp\(s\) on your card\.$/, /^(Enjoy!|See you soon!)$/], end: true },
];

function checkAnswer(turn, traces, where) {
  const texts = traces.filter((t) => t.type === 'text').map((t) => t.payload.message);
  if (texts.length !== turn.expect.length || !turn.expect.every((re, i) => re.test(texts[i]))) {
    fail(`${where}, turn "${turn.say}": texts ${JSON.stringify(texts)}, expected ${turn.expect}`);
  }
  for (const name of turn.buttons || []) {
    const choice = traces.find((t) => t.type === 'choice');
    if (!choice || !choice.payload.buttons.some((b) => b.name === name)) fail(`${where}, turn "${turn.say}": no button "${name}"`);
  }
  if (turn.action && !traces.some((t) => t.type === turn.action)) fail(`${where}, turn "${turn.say}": no ${turn.action} action`);
  if (!!turn.end !== traces.some((t) => t.type === 'end')) fail(`${where}, turn "${turn.say}": end ${!turn.end ? 'not ' : ''}expected`);
}

module.exports = function register(scenario, h) {
  scenario("a Voiceflow export served as it is (issue 18): react-chat holds the small agent's whole conversation against `parley serve --project agent.vfr`", async ({ page, context }) => {
    const parley = await serveAgent(h);
    const site = await startPage(reactChatPage(parley.url));
    try {
      const abroad = [];
      await context.route((url) => url.hostname !== '127.0.0.1', (route) => { abroad.push(route.request().url()); route.abort(); });
      const answers = [];
      page.on('response', (r) => {
        const u = new URL(r.url());
        if (u.origin === parley.url && r.request().method() === 'POST' && /^\/public\/bean-there\/state\/user\/[^/]+\/interact$/.test(u.pathname)) {
          answers.push(r.json().catch((e) => ({ unreadable: String(e) })));
        }
      });
      await page.goto(site.url);
      await page.waitForFunction(() => window.__loaded || window.__loadError, null, h.WAIT);
      const loadError = await page.evaluate(() => window.__loadError);
      if (loadError) fail(`react-chat's load() failed: ${loadError}`);
      const root = '#chat';
      const type = async (said) => {
        await page.fill(`${root} .vfrc-chat-input textarea`, said);
        await page.press(`${root} .vfrc-chat-input textarea`, 'Enter');
      };
      let taken = 0;
      for (const [i, turn] of ORDER.entries()) {
        if (i === 0) { /* autostart sent the launch */ } else if (turn.say.startsWith('the button')) {
          await page.click(`${root} .vfrc-system-response--actions button:has-text("${turn.say.replace('the button ', '')}")`, h.WAIT);
        } else if (turn.say === 'the action done') {
          await page.click(`${root} button.feedback-done`, h.WAIT);
        } else {
          await type(turn.say);
        }
        const deadline = Date.now() + h.WAIT.timeout;
        while (answers.length === taken && Date.now() < deadline) await page.waitForTimeout(50);
        if (answers.length === taken) fail(`turn "${turn.say}": react-chat sent nothing`);
        const body = await answers[taken];
        taken += 1;
        if (!body || !Array.isArray(body.trace)) fail(`turn "${turn.say}": no {trace}: ${JSON.stringify(body).slice(0, 300)}`);
        checkAnswer(turn, body.trace, 'react-chat');
        // Every text of the answer drawn by react-chat (its slate, marks and all).
        for (const t of body.trace.filter((x) => x.type === 'text')) {
          const words = t.payload.message.split(/\s+/).slice(0, 3).join(' ');
          await page.waitForSelector(`${vf.MESSAGE}:has-text(${JSON.stringify(words)})`, h.WAIT)
            .catch(() => fail(`turn "${turn.say}": "${t.payload.message}" is not drawn`));
        }
        if (turn.action) await page.waitForSelector(`${root} button.feedback-done`, h.WAIT);
        if (i === 0) await h.shot(page, 'vfr-1-react-chat-welcome');
      }
      await page.waitForSelector(`${root} button:has-text("Start new chat")`, h.WAIT)
        .catch(() => fail('react-chat did not end the conversation'));
      // The slate's bold mark reached react-chat's DOM.
      const bold = await page.locator(`${vf.MESSAGE} :is(strong, b, [style*="700"]):has-text("Bean There")`).count();
      if (bold < 1) fail('the welcome\'s bold "Bean There" is not drawn bold');
      await h.shot(page, 'vfr-2-react-chat-ended');
      if (abroad.length) fail(`react-chat reached off the loopback: ${abroad.join(', ')}`);
    } finally {
      await site.close();
      await parley.close();
    }
  });

  scenario("a Voiceflow export served as it is (issue 18): Parley's widget holds the small agent's whole conversation", async ({ page, context }) => {
    const parley = await serveAgent(h);
    const site = await startPage(parleyPage(parley.url));
    try {
      const abroad = [];
      await context.route((url) => url.hostname !== '127.0.0.1', (route) => { abroad.push(route.request().url()); route.abort(); });
      await page.goto(site.url);
      // A bot line's text, marks and all (the welcome's "Bean There" is bold: several nodes).
      const said = async (text) => {
        const deadline = Date.now() + h.WAIT.timeout;
        while (Date.now() < deadline) {
          if ((await page.locator('[role=log]').textContent()).includes(text)) return;
          await page.waitForTimeout(100);
        }
        fail(`Parley's widget did not show "${text}": ${(await page.locator('[role=log]').textContent()).slice(-300)}`);
      };
      await page.waitForSelector('.parley-choices button:has-text("Opening hours")', h.WAIT);
      await said('Welcome to Bean There!');
      await h.shot(page, 'vfr-3-parley-welcome');
      await page.click('.parley-choices button:has-text("Opening hours")');
      await said('We open at 7, every day.');
      await h.send(page, "I'd like a large coffee");
      await said('A large coffee. And your name?');
      await h.send(page, 'Dana');
      await said('Thanks Dana! Order A100: your large coffee ($4.5) is ready in 25 minutes.');
      await page.waitForFunction(() => window.__actions.length === 1, null, h.WAIT)
        .catch(() => fail('no parley:action for the feedback custom action'));
      const action = await page.evaluate(() => window.__actions[0]);
      if (JSON.stringify(action).indexOf('How was your order, Dana?') < 0) fail(`unexpected action: ${JSON.stringify(action)}`);
      await page.evaluate(() => window.parley.chat.interact({ type: 'done' }));
      await said('You have 1 stamp(s) on your card.');
      await page.waitForSelector('text=The conversation has ended.', h.WAIT);
      await h.shot(page, 'vfr-4-parley-ended');
      if (abroad.length) fail(`the page reached off the loopback: ${abroad.join(', ')}`);
    } finally {
      await site.close();
      await parley.close();
    }
  });
};
