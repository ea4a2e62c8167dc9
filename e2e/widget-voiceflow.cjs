// Parley's widget against a Voiceflow-shaped runtime (issue 14, part 3): a Node `http` server on
// loopback that answers the routes Voiceflow's widget calls, in the shapes Voiceflow's runtime
// sends (general-runtime's `textOutputTrace`, handlers and routers, as recorded in
// crates/parley-protocol/tests/fixtures/SOURCES.md): the public route's `{ trace }` envelope,
// the keyed route's verbose `{ state, trace, request }`, text traces with `slate` + `message` +
// `delay` + `time`, `completion` and an unknown type among the known ones, choice, cardV2,
// carousel, visual, a custom action, end; and a Voiceflow-style state per user, with the
// built-in variables, kept by the runtime. The scenarios check what the DOM shows and that the
// widget sent what Voiceflow's widget (`@voiceflow/sdk-runtime` inside react-chat) sends: the
// route, the headers, the body's keys.
'use strict';
const http = require('node:http');
const { isDeepStrictEqual } = require('node:util');

// general-runtime's CORS (backend/expressMiddleware.ts: the `cors` package with
// `{ origin: true, credentials: true }` and no header list): the origin reflected, credentials
// allowed, and the preflight allows whatever headers the browser asks for.
function cors(req) {
  return {
    'access-control-allow-origin': req.headers.origin || '*',
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET,HEAD,PUT,PATCH,POST,DELETE',
    'access-control-allow-headers': req.headers['access-control-request-headers'] || '',
    vary: 'Origin, Access-Control-Request-Headers',
  };
}

// Where the widget asks for a v4 session (with the page's version, its environment's route).
const V4_SESSION = /\/v4\/project\/vf-pizza\/(environment\/[^/]+\/)?session$/;

const slug = (n) => `k${n.toString(36).padStart(7, '0')}`;

// A Voiceflow text trace, as `textOutputTrace` builds it: `time` first, the slate with its id
// and delay, the plain `message` (each top-level node's text joined by `\n`), the `delay`.
function text(content, delay = 100) {
  const plain = (node) => (node.text ?? '') + (node.children || []).map(plain).join('');
  return {
    time: Date.now(),
    type: 'text',
    payload: {
      slate: { id: slug(Math.floor(Math.random() * 1e9)), content, messageDelayMilliseconds: delay },
      message: content.map(plain).join('\n').trim(),
      delay,
    },
  };
}
const para = (...children) => ({ children });

// Voiceflow's state for a new session: the built-in variables a project reads.
function freshState(userID, sessions) {
  return {
    stack: [{ programID: '6571a1e0c2b1f80007d0a1b2', diagramID: '6571a1e0c2b1f80007d0a1b2', nodeID: null, storage: {}, commands: [], variables: {} }],
    storage: {},
    variables: {
      sessions, user_id: userID, timestamp: Math.floor(Date.now() / 1000), platform: 'webchat', locale: 'en-US',
      last_utterance: '', last_response: '', intent_confidence: 0, last_event: null,
    },
  };
}

// The conversation: each request to the traces of its turn, the state updated as Voiceflow's
// runtime does (last_utterance on text, last_event on an event, last_response on output).
function turn(state, action, base) {
  const v = state.variables;
  v.timestamp = Math.floor(Date.now() / 1000);
  const type = action && action.type;
  if (type === 'text') { v.last_utterance = action.payload; v.intent_confidence = 0.93; }
  if (type === 'event') v.last_event = action.payload;
  const picture = `${base}/pizza.svg`;
  let traces;
  if (type === 'launch' || type === 'event') {
    traces = [
      text([
        para({ text: 'Welcome to ' }, { text: 'Pizza Palace', fontWeight: '700' }, { text: ', ' },
          { text: 'fresh', italic: true }, { text: ' and ' }, { text: 'hot', underline: true }, { text: ', never ' },
          { text: 'frozen', strikeThrough: true }, { text: '. ' },
          { text: 'Today only', color: { r: 201, g: 42, b: 42, a: 1 } }, { text: ': see ' },
          { type: 'link', url: `${base}/menu`, children: [{ text: 'the menu' }] }, { text: ' or ' },
          { type: 'link', url: 'javascript:alert(1)', children: [{ text: 'this' }] }, { text: '.' }),
        { textAlign: 'center', children: [{ text: `Session ${v.sessions}, user ${v.user_id}` }] },
      ]),
      { time: Date.now(), type: 'completion', payload: { state: 'start' } },
      { time: Date.now(), type: 'completion', payload: { state: 'content', content: 'STREAMED must not show' } },
      { time: Date.now(), type: 'completion', payload: { state: 'end' } },
      { time: Date.now(), type: 'x-analytics', payload: { message: 'UNKNOWN must not show' } },
      { time: Date.now(), type: 'visual', payload: { visualType: 'image', device: 'desktop', dimensions: { width: 120, height: 80 }, canvasVisibility: 'full', image: picture } },
      { time: Date.now(), type: 'choice', payload: { buttons: [
        { name: 'See the menu', request: { type: 'path-k3n9xq2vd', payload: { label: 'See the menu', actions: [] } } },
        { name: 'Opening hours', request: { type: 'path-m2x8pq1ra', payload: { label: 'Opening hours', actions: [] } } },
      ] } },
    ];
  } else if (type === 'text' || type === 'path-k3n9xq2vd') {
    const card = (id, title, about) => ({
      id, title, imageUrl: picture,
      description: { slate: [para({ text: about })], text: about },
      buttons: [{ name: `Pick ${title}`, request: { type: `path-${id}`, payload: { label: `Pick ${title}`, actions: [] } } }],
    });
    traces = [
      text([para({ text: 'You said "' }, { text: v.last_utterance, italic: true }, { text: '". Here is the menu.' })]),
      { time: Date.now(), type: 'carousel', payload: { layout: 'Carousel', cards: [
        card('c1margh', 'Margherita', 'Tomato, mozzarella, basil.'), card('c2veggi', 'Veggie', 'Peppers, olives, onions.'),
      ] } },
    ];
  } else if (type === 'path-c1margh' || type === 'path-c2veggi') {
    const pizza = type === 'path-c1margh' ? 'Margherita' : 'Veggie';
    traces = [{ time: Date.now(), type: 'cardV2', payload: {
      imageUrl: picture, description: { slate: [para({ text: `One large ${pizza}.` })], text: `One large ${pizza}.` },
      buttons: [{ name: 'Confirm', request: { type: 'path-q7r2confirm', payload: { label: 'Confirm', actions: [] } } }],
      title: 'Your order',
    } }];
  } else if (type === 'path-q7r2confirm') {
    // Custom actions (general-runtime's `_v1` handler): one the page draws (a response
    // extension), one it answers (an effect extension that sends the path's request).
    traces = [
      { time: Date.now(), type: 'order_receipt', payload: { orderID: 'A-42', minutes: 20 }, defaultPath: 0, paths: [{ event: { type: 'done' } }] },
      { time: Date.now(), type: 'track_purchase', payload: { value: 12.5 }, defaultPath: 0, paths: [{ event: { type: 'done' } }] },
    ];
  } else if (type === 'done') {
    traces = [text([para({ text: `Thanks, ${v.user_id}! Your last words were "${v.last_utterance}".` })]), { time: Date.now(), type: 'end', payload: null }];
  } else {
    traces = [text([para({ text: 'Sorry, I did not get that.' })])];
  }
  const said = traces.filter((t) => t.type === 'text').map((t) => t.payload.message);
  if (said.length) v.last_response = said[said.length - 1];
  return traces;
}

const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="120" height="80" fill="#f08c00"/><circle cx="60" cy="40" r="28" fill="#ffd43b"/></svg>';
const AVATAR = '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48"><circle cx="24" cy="24" r="24" fill="#2f9e44"/><text x="24" y="32" font-size="24" text-anchor="middle" fill="#fff" font-family="sans-serif">D</text></svg>';
// The page's own theme for the widget (`assistant.stylesheet`): it must win over the widget's
// rules, which are in a cascade layer.
const THEME = '.parley-bubble--bot { background: #fff3bf; border: 1px solid #e67700; } .parley-header { background: #5f3dc4; color: #fff; }';

async function startVoiceflowRuntime() {
  const calls = [];
  const preflights = [];
  const users = new Map();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const headers = cors(req);
      if (req.method === 'OPTIONS') {
        preflights.push({ url: req.url, asked: req.headers['access-control-request-headers'] || '' });
        res.writeHead(204, headers).end();
        return;
      }
      const files = { '/pizza.svg': ['image/svg+xml', SVG], '/dana.svg': ['image/svg+xml', AVATAR], '/theme.css': ['text/css', THEME] };
      if (req.method === 'GET' && files[req.url]) {
        res.writeHead(200, { ...headers, 'content-type': files[req.url][0] }).end(files[req.url][1]);
        return;
      }
      const route = /^\/(?:public\/([^/]+)\/)?state\/user\/([^/?]+)\/interact(\?verbose=true)?$/.exec(req.url);
      if (req.method !== 'POST' || !route) {
        res.writeHead(404, { ...headers, 'content-type': 'application/json' }).end('{"message":"not found"}');
        return;
      }
      const [, projectID, user, verbose] = route;
      let body = null;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { /* recorded as null */ }
      calls.push({ url: req.url, public: Boolean(projectID), headers: req.headers, body });
      const userID = decodeURIComponent(user);
      const action = body && (body.action || body.request);
      // A launch (or the page's launch event) starts a session: the runtime resets the state.
      let state = users.get(userID);
      if (!state || (action && (action.type === 'launch' || action.type === 'event'))) {
        state = freshState(userID, state ? state.variables.sessions + 1 : 1);
        users.set(userID, state);
      }
      const trace = turn(state, action, `http://127.0.0.1:${server.address().port}`);
      // Public: `{ trace }`; keyed: a bare array, or `{ state, trace, request }` when verbose.
      const answer = projectID ? { trace } : verbose ? { state, trace, request: action } : trace;
      res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    preflights,
    users,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

// The transcript as `class: text` lines, the widget's own class prefix dropped.
async function transcript(page) {
  return page.evaluate(() => [...document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] > *')]
    .map((e) => `${e.className.replace('parley-bubble ', '')}: ${[...e.childNodes].filter((n) => n.localName !== 'time').map((n) => n.textContent).join('')}`));
}

// The headers Voiceflow's widget sends on its interact call, besides what every fetch has.
// Parley's widget adds one of its own: `x-parley-request-id`, the retry id that Parley's runtime
// answers a repeated request from (Voiceflow's ignores it, and its CORS allows any asked header).
function sentHeaders(call) {
  const browser = new Set(['host', 'connection', 'content-length', 'origin', 'referer', 'user-agent', 'accept',
    'accept-encoding', 'accept-language', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest', 'sec-ch-ua',
    'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'x-parley-request-id']);
  return Object.keys(call.headers).filter((h) => !browser.has(h)).sort();
}

module.exports = function register(scenario, { accessible, shot, send, until, WAIT, xss }) {
  scenario("Parley's widget against a Voiceflow-shaped public runtime: the public route, the {trace} envelope, slate marks, unknown traces skipped, extensions, the page's stylesheet, the user's picture", async ({ page }) => {
    const consoleErrors = [];
    // The browser's own line for the v4 session probe's 404 (the runtime has no v4) is not
    // the widget's error.
    page.on('console', (m) => {
      if (m.type() === 'error' && !V4_SESSION.test(m.location().url)) consoleErrors.push(m.text());
    });
    const vf = await startVoiceflowRuntime();
    try {
      await page.evaluate((base) => {
        window.__initial = new WeakSet(document.querySelectorAll('*'));
        window.__tracked = [];
        window.parley.chat.destroy();
        window.parley.chat.load({
          verify: { projectID: 'vf-pizza' }, url: base, versionID: 'production', mode: 'stateful', userID: 'dana 1',
          persistence: 'memory', autostart: true,
          launch: { event: { type: 'event', payload: { event: { name: 'hello' } } } },
          user: { name: 'Dana', image: `${base}/dana.svg` },
          assistant: {
            title: 'Pizza Palace', stylesheet: `${base}/theme.css`,
            extensions: [
              { name: 'receipt', type: 'response', match: ({ trace }) => trace.type === 'order_receipt',
                render: ({ trace, element }) => {
                  const b = document.createElement('b');
                  b.textContent = `Order ${trace.payload.orderID}`;
                  element.append(b, `: ready in ${trace.payload.minutes} minutes`);
                } },
              { name: 'purchase', type: 'effect', match: ({ trace }) => trace.type === 'track_purchase',
                effect: ({ trace }) => {
                  window.__tracked.push(trace.payload.value);
                  window.parley.chat.interact({ type: trace.paths[trace.defaultPath].event.type });
                } },
            ],
          },
        });
      }, vf.url);
      await page.waitForSelector('.parley-choices button:has-text("See the menu")', WAIT);
      const welcome = [
        'parley-bubble--bot: Welcome to Pizza Palace, fresh and hot, never frozen. Today only: see the menu or this.Session 1, user dana 1',
        'parley-bubble--image: ',
      ];
      const shown = await transcript(page);
      if (!isDeepStrictEqual(shown, welcome)) throw new Error(`the welcome: ${JSON.stringify(shown)}`);
      // The slate's marks, as DOM.
      const marks = await page.evaluate(() => {
        const log = document.querySelector('.parley-host').shadowRoot.querySelector('[role=log]');
        const one = (s) => log.querySelector(s)?.textContent;
        return {
          strong: one('strong'), em: one('em'), u: one('u'), s: one('s'),
          red: [...log.querySelectorAll('span')].map((e) => `${e.textContent}=${getComputedStyle(e).color}`),
          links: [...log.querySelectorAll('a')].map((a) => a.getAttribute('href')),
          centred: one('.parley-rich__p--center'),
          bubble: getComputedStyle(log.querySelector('.parley-bubble--bot')).backgroundColor,
        };
      });
      const want = {
        strong: 'Pizza Palace', em: 'fresh', u: 'hot', s: 'frozen', red: ['Today only=rgb(201, 42, 42)'],
        links: [`${vf.url}/menu`], centred: 'Session 1, user dana 1',
        // The page's stylesheet wins over the widget's rules.
        bubble: 'rgb(255, 243, 191)',
      };
      if (!isDeepStrictEqual(marks, want)) throw new Error(`the marks: ${JSON.stringify(marks)}`);
      await accessible(page, 'a Voiceflow welcome, themed by the page');
      await shot(page, '20-voiceflow-welcome-stylesheet');

      await send(page, 'show me the menu');
      await page.waitForSelector('.parley-carousel .parley-card__title:has-text("Veggie")', WAIT);
      const avatar = await page.evaluate(() => {
        const img = document.querySelector('.parley-host').shadowRoot.querySelector('.parley-bubble--user img.parley-bubble__avatar');
        return img && { src: img.getAttribute('src'), alt: img.alt, loaded: img.complete && img.naturalWidth > 0 };
      });
      if (!avatar || avatar.src !== `${vf.url}/dana.svg` || avatar.alt !== 'Dana' || !avatar.loaded) {
        throw new Error(`the user's picture: ${JSON.stringify(avatar)}`);
      }
      await accessible(page, 'the user\'s picture and a carousel');
      await shot(page, '21-voiceflow-user-avatar');
      await page.click('.parley-carousel button:has-text("Pick Veggie")');
      await page.waitForSelector('.parley-card__title:has-text("Your order")', WAIT);
      await page.click('.parley-card button:has-text("Confirm")');
      // The effect extension answers the custom action; the response one draws the receipt.
      await page.waitForSelector('text=The conversation has ended.', WAIT);
      const receipt = await page.evaluate(() => document.querySelector('.parley-host').shadowRoot
        .querySelector('.parley-bubble--extension > span')?.innerHTML);
      if (receipt !== '<b>Order A-42</b>: ready in 20 minutes') throw new Error(`the receipt: ${receipt}`);
      const tracked = await page.evaluate(() => window.__tracked);
      if (!isDeepStrictEqual(tracked, [12.5])) throw new Error(`the effect ran for ${JSON.stringify(tracked)}`);
      const all = await transcript(page);
      const rest = [
        'parley-bubble--user: show me the menu',
        'parley-bubble--bot: You said "show me the menu". Here is the menu.',
        'parley-carousel-wrap: MargheritaTomato, mozzarella, basil.Pick MargheritaVeggiePeppers, olives, onions.Pick Veggie‹›',
        'parley-bubble--user: Pick Veggie',
        'parley-bubble--card: Your orderOne large Veggie.Confirm',
        'parley-bubble--user: Confirm',
        'parley-bubble--bot parley-bubble--extension: Order A-42: ready in 20 minutes',
        'parley-bubble--bot: Thanks, dana 1! Your last words were "show me the menu".',
      ];
      if (!isDeepStrictEqual(all, [...welcome, ...rest])) throw new Error(`the transcript: ${JSON.stringify(all)}`);
      await accessible(page, 'an extension\'s receipt and the end');
      await shot(page, '22-voiceflow-extension-end');

      // A new chat starts with the page's launch event again: a new session for the runtime.
      await page.click('text=Start a new chat');
      await page.waitForSelector('text=Session 2, user dana 1', WAIT);

      // What was sent: Voiceflow's widget's public call, every time.
      const route = '/public/vf-pizza/state/user/dana%201/interact';
      for (const [i, call] of vf.calls.entries()) {
        if (call.url !== route) throw new Error(`call ${i} went to ${call.url}`);
        if (!isDeepStrictEqual(sentHeaders(call), ['content-type', 'versionid'])) throw new Error(`call ${i} headers: ${sentHeaders(call)}`);
        if (call.headers['content-type'] !== 'application/json' || call.headers.versionid !== 'production') throw new Error(`call ${i}: ${JSON.stringify(call.headers)}`);
        if (!isDeepStrictEqual(Object.keys(call.body), ['action', 'config'])) throw new Error(`call ${i} body: ${JSON.stringify(call.body)}`);
      }
      // What the browser's preflight asked the runtime to allow (Voiceflow's widget asks for
      // `content-type` and `versionid`; Parley's adds its retry id).
      // The widget first asks for a v4 session (streamed turns); this runtime has none (404),
      // so the page uses the public route from then on: one probe, for the whole page.
      const probes = vf.preflights.filter((p) => V4_SESSION.test(p.url));
      if (probes.length !== 1) throw new Error(`v4 session probes: ${JSON.stringify(vf.preflights)}`);
      const asked = [...new Set(vf.preflights.filter((p) => !probes.includes(p)).map((p) => p.asked.split(',').map((h) => h.trim()).sort().join(',')))];
      if (!isDeepStrictEqual(asked, ['content-type,versionid,x-parley-request-id'])) throw new Error(`preflights asked for ${JSON.stringify(asked)}`);
      const actions = vf.calls.map((c) => c.body.action);
      const event = { type: 'event', payload: { event: { name: 'hello' } } };
      const wantActions = [event, { type: 'text', payload: 'show me the menu' },
        { type: 'path-c2veggi', payload: { label: 'Pick Veggie', actions: [] } },
        { type: 'path-q7r2confirm', payload: { label: 'Confirm', actions: [] } }, { type: 'done' }, event];
      if (!isDeepStrictEqual(actions, wantActions)) throw new Error(`the actions: ${JSON.stringify(actions)}`);
      // The runtime kept the state: the built-in variables as the widget never saw them.
      const vars = vf.users.get('dana 1').variables;
      if (vars.sessions !== 2 || vars.user_id !== 'dana 1' || vars.platform !== 'webchat') throw new Error(`state: ${JSON.stringify(vars)}`);
      // The XSS audit of the DOM (the slate colour's style, the user's picture, the extension's
      // element included): nothing unsafe, nothing foreign.
      // axe-core's script (added by the accessibility checks) is the test's, not the widget's.
      await page.evaluate(() => { for (const s of document.scripts) if (s.textContent.includes('axe')) window.__initial.add(s); });
      const problems = await page.evaluate(xss.audit);
      if (problems.length) throw new Error(`the audit: ${problems.join('; ')}`);
      if (consoleErrors.length) throw new Error(`console errors: ${consoleErrors.join('; ')}`);
      return `${vf.calls.length} calls on the public route`;
    } finally {
      await vf.close();
    }
  });

  scenario("Parley's widget against a Voiceflow-shaped keyed runtime: the keyed route, verbose, with authorization and sessionID; no versionID when none is given", async ({ page }) => {
    const vf = await startVoiceflowRuntime();
    try {
      await page.evaluate((base) => {
        window.parley.chat.destroy();
        window.parley.chat.load({ verify: { projectID: 'vf-pizza' }, url: base, apiKey: 'VF.DM.6571a1e0c2b1f8.secret', mode: 'stateful',
          userID: 'dana-2', persistence: 'memory', autostart: true });
      }, vf.url);
      await page.waitForSelector('.parley-choices button:has-text("See the menu")', WAIT);
      await page.click('.parley-choices button:has-text("See the menu")');
      await page.waitForSelector('.parley-carousel', WAIT);
      await until(() => vf.calls.length === 2, 'two calls');
      for (const [i, call] of vf.calls.entries()) {
        if (call.url !== '/state/user/dana-2/interact?verbose=true') throw new Error(`call ${i} went to ${call.url}`);
        if (!isDeepStrictEqual(sentHeaders(call), ['authorization', 'content-type', 'sessionid'])) throw new Error(`call ${i} headers: ${sentHeaders(call)}`);
        if (call.headers.authorization !== 'VF.DM.6571a1e0c2b1f8.secret' || call.headers.sessionid !== 'dana-2') throw new Error(`call ${i}: ${JSON.stringify(call.headers)}`);
        if (!isDeepStrictEqual(Object.keys(call.body), ['action', 'config'])) throw new Error(`call ${i} body: ${JSON.stringify(call.body)}`);
      }
      if (!isDeepStrictEqual(vf.calls[0].body.action, { type: 'launch' })) throw new Error(`launch: ${JSON.stringify(vf.calls[0].body)}`);
      const probes = vf.preflights.filter((p) => V4_SESSION.test(p.url));
      if (probes.length !== 1) throw new Error(`v4 session probes: ${JSON.stringify(vf.preflights)}`);
      const asked = [...new Set(vf.preflights.filter((p) => !probes.includes(p)).map((p) => p.asked.split(',').map((h) => h.trim()).sort().join(',')))];
      if (!isDeepStrictEqual(asked, ['authorization,content-type,sessionid,x-parley-request-id'])) throw new Error(`preflights asked for ${JSON.stringify(asked)}`);
      await accessible(page, 'keyed');
      await shot(page, '23-voiceflow-keyed');
    } finally {
      await vf.close();
    }
  });
};
