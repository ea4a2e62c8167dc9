// The workbench: Parley's widget, embedded through its public API (`parley.chat.load`, its
// options and its `parley:*` events), beside a panel of everything on the wire.
//
// The widget exposes no request or response, so the page observes its own `fetch` (a page may:
// it is the page's function, not a hook of the widget's): each Dialog API call is recorded as
// it goes out and as it comes back. On the way out the page adds `config.debug: true` (and
// lets `debug` traces through `excludeTypes`), which the runtime honours only where the caller
// may have them (see docs/protocol.md); the widget gets the answer byte for byte. The
// streaming flavour runs the widget's stateful call through the legacy stream route
// (`/v2/project/{projectID}/user/{userID}/interact/stream`) and hands the widget the traces
// the frames carried, as `{ trace }`, once the stream ends.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const query = new URLSearchParams(location.search);
  const settings = {
    url: (query.get('url') || location.origin).replace(/\/+$/, ''),
    project: query.get('project') || 'pizza',
    version: query.get('version') === 'production' ? 'production' : 'development',
    flavour: ['stateful', 'streaming'].includes(query.get('flavour')) ? query.get('flavour') : 'stateless',
    key: '',
  };
  // A key stays out of the address bar: it comes from this tab's session storage, kept for the
  // runtime it was typed for (a link with another `?url=` must not carry it there).
  const keyItem = (url) => `parley-workbench:key:${url}`;
  settings.key = sessionStorage.getItem(keyItem(settings.url)) || '';

  /** Every turn on the wire, in order: what the panel shows and what the exports write. */
  const turns = [];
  let pending = null; // the custom action the flow waits on: { type, paths, trace }
  const origFetch = window.fetch.bind(window);

  // ---- small DOM helpers (text nodes only: nothing of the runtime's is parsed as HTML) ----
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const pretty = (v) => JSON.stringify(v, null, 2);
  const ms = (v) => (v === undefined ? '…' : `${Math.round(v)} ms`);

  // ---- which calls are Dialog API turns ----
  function turnRoute(url) {
    if (!url.startsWith(`${settings.url}/`)) return null;
    const path = url.slice(settings.url.length).split('?')[0];
    if (/^\/interact(\/[^/]+)?$/.test(path)) return 'stateless';
    let m = path.match(/^\/public\/([^/]+)\/state\/user\/([^/]+)\/interact$/);
    if (m) return 'public';
    m = path.match(/^\/state\/user\/([^/]+)\/interact$/);
    if (m) return 'keyed';
    return null;
  }

  function headersOf(h) {
    const out = {};
    h.forEach((v, k) => { out[k] = k === 'authorization' ? `${v.slice(0, 8)}…` : v; });
    return out;
  }

  /** The request as the page sends it on: `config.debug` on, `debug` traces let through. */
  function withDebug(body) {
    const config = { ...(body.config || {}) };
    config.debug = true;
    if (Array.isArray(config.excludeTypes)) config.excludeTypes = config.excludeTypes.filter((t) => t !== 'debug');
    else config.excludeTypes = ['block', 'flow', 'path', 'log'];
    return { ...body, config };
  }

  // The legacy stream's frames: `event: trace` (one trace), `event: state`, `event: end`.
  async function readStream(response, turn) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const traces = [];
    const started = turn.t0;
    for (let guard = 0; guard < 100000; guard += 1) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
        const event = (frame.match(/^event: ?(.*)$/m) || [])[1] || 'message';
        const data = frame.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        let parsed = data;
        try { parsed = data ? JSON.parse(data) : null; } catch { /* kept as text */ }
        turn.frames.push({ event, at: performance.now() - started, data: parsed });
        if (event === 'trace' && parsed && typeof parsed === 'object') traces.push(parsed);
        if (event === 'state') turn.state = parsed;
      }
      render();
    }
    return traces;
  }

  window.fetch = async function workbenchFetch(input, init) {
    const request = input instanceof Request ? input : new Request(input, init);
    const route = turnRoute(request.url);
    if (!route) return origFetch(input, init);
    let body = {};
    try { body = JSON.parse(await request.clone().text() || '{}'); } catch { body = {}; }
    const sent = withDebug(body);
    let url = request.url;
    const headers = new Headers(request.headers);
    const streaming = settings.flavour === 'streaming' && route !== 'stateless';
    if (streaming) {
      const user = request.url.match(/\/state\/user\/([^/?]+)\/interact/)[1];
      url = `${settings.url}/v2/project/${encodeURIComponent(settings.project)}/user/${user}/interact/stream${settings.key ? '?state=true' : ''}`;
      headers.set('accept', 'text/event-stream');
    }
    const turn = {
      n: turns.length + 1,
      flavour: settings.flavour,
      request: { method: request.method, url, headers: headersOf(headers), body: sent },
      action: sent.action || sent.request || { type: 'launch' },
      stateIn: sent.state,
      t0: performance.now(),
      frames: [],
      seen: [],
    };
    turns.push(turn);
    render();
    let response;
    try {
      response = await origFetch(new Request(url, {
        method: request.method, headers, body: JSON.stringify(sent), mode: 'cors', credentials: 'omit',
      }));
    } catch (e) {
      turn.failure = String(e.message || e);
      turn.done = performance.now() - turn.t0;
      render();
      throw e;
    }
    turn.ttfb = performance.now() - turn.t0;
    turn.status = response.status;
    turn.responseHeaders = headersOf(response.headers);
    let text;
    if (streaming && response.ok) {
      const traces = await readStream(response, turn);
      turn.answer = { trace: traces };
      text = JSON.stringify({ trace: traces });
    } else {
      text = await response.text();
      try { turn.answer = JSON.parse(text); } catch { turn.answer = text; }
    }
    turn.done = performance.now() - turn.t0;
    turn.bytes = text.length;
    turn.text = text;
    if (!response.ok && turn.answer && typeof turn.answer === 'object') turn.error = turn.answer;
    const a = turn.answer;
    // What another runtime sent may be anything: a trace that is no object is shown as one of
    // unknown type, not read as one (the panel must keep working whatever arrives).
    turn.traces = (Array.isArray(a) ? a : (a && Array.isArray(a.trace) ? a.trace : [])).map(asTrace);
    if (a && a.state && typeof a.state === 'object') turn.state = a.state;
    if (a && a.request && typeof a.request === 'object') turn.understood = a.request;
    render();
    const headersOut = new Headers(response.headers);
    if (streaming) headersOut.set('content-type', 'application/json');
    return new Response(text, { status: response.status, statusText: response.statusText, headers: headersOut });
  };

  /** A trace as the panel reads it: an object with a string `type`; anything else is kept
   * whole as the payload of a trace of no type. */
  function asTrace(t) {
    if (t && typeof t === 'object' && !Array.isArray(t) && typeof t.type === 'string') return t;
    return { type: '(not a trace)', payload: t };
  }
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

  // ---- what the widget made of each trace (its documented behaviour, confirmed by events) ----
  const RENDERED = ['text', 'speak', 'visual', 'cardV2', 'carousel', 'choice'];
  const DIAGNOSTIC = ['path', 'flow', 'block', 'debug', 'log', 'goto'];
  function madeOf(trace, turn) {
    const seen = turn.seen.some((s) => s === JSON.stringify(trace));
    const received = seen ? '' : ' (no parley:trace seen)';
    if (RENDERED.includes(trace.type)) return ['rendered', `rendered${received}`];
    if (trace.type === 'no-reply') return ['rendered', `no-reply timer set${received}`];
    if (trace.type === 'end') return ['rendered', `conversation ended${received}`];
    if (DIAGNOSTIC.includes(trace.type)) return ['hidden', `hidden diagnostic${received}`];
    if (turn.action_dispatched && turn.action_dispatched === JSON.stringify(trace)) return ['action', 'dispatched custom action (parley:action)'];
    if (Array.isArray(trace.paths)) return ['action', `custom action${received}`];
    return ['unknown', `unknown: not drawn${received}`];
  }

  addEventListener('parley:trace', (e) => {
    const turn = [...turns].reverse().find((t) => t.traces);
    if (turn) { turn.seen.push(JSON.stringify(e.detail)); render(); }
  });
  addEventListener('parley:action', (e) => {
    pending = e.detail;
    const turn = [...turns].reverse().find((t) => t.traces);
    if (turn) turn.action_dispatched = JSON.stringify(e.detail.trace);
    render();
  });
  addEventListener('parley:error', (e) => {
    const turn = turns[turns.length - 1];
    if (turn) turn.widgetError = e.detail && e.detail.message;
    render();
  });

  // ---- the panel ----
  function stateOf(turn) {
    return turn && turn.state && typeof turn.state === 'object' ? turn.state : null;
  }
  function previousState(i) {
    for (let j = i - 1; j >= 0; j -= 1) if (stateOf(turns[j])) return stateOf(turns[j]);
    return null;
  }
  const nluOf = (turn) => (turn.traces || []).find((t) => t.type === 'debug' && isObject(t.payload) && t.payload.type === 'nlu');

  /** One short line of what a trace says, for its summary. */
  function summaryOf(trace) {
    const line = String(trace.type === 'debug' && isObject(trace.payload) && trace.payload.message ? trace.payload.message : describe(trace).replace(/^[^:]*: ?/, ''));
    return line.length > 90 ? `${line.slice(0, 89)}…` : line;
  }

  function renderTurn(turn) {
    const failed = turn.failure || (turn.status && turn.status >= 400);
    const head = el('div', { class: 'wb-turn__head' },
      el('strong', { text: `#${turn.n} ${turn.action.type}` }),
      typeof turn.action.payload === 'string' ? el('span', { text: `“${turn.action.payload}”` }) : null,
      el('span', { class: 'wb-muted', text: `${turn.request.method} ${turn.request.url.replace(settings.url, '')}` }),
      el('span', { 'data-field': 'status', text: turn.failure ? 'network error' : (turn.status || 'pending') }),
      el('span', { class: 'wb-muted', 'data-field': 'timing', text: `first byte ${ms(turn.ttfb)}, done ${ms(turn.done)}` }));
    const parts = [head];
    if (turn.error || turn.failure || turn.widgetError) {
      parts.push(el('p', { class: 'wb-error', 'data-field': 'error', text: turn.error ? `${turn.error.code}: ${turn.error.message}` : (turn.failure || turn.widgetError) }));
    }
    parts.push(el('details', { class: 'wb-trace', 'data-key': `${turn.n}:request` }, el('summary', { text: 'request' }),
      el('pre', { 'data-field': 'request', text: pretty({ headers: turn.request.headers, body: turn.request.body }) })));
    if (turn.frames.length) {
      parts.push(el('details', { class: 'wb-trace', 'data-key': `${turn.n}:frames` }, el('summary', { text: `${turn.frames.length} stream frames` }),
        el('pre', { text: turn.frames.map((f) => `${ms(f.at)} ${f.event} ${JSON.stringify(f.data)}`).join('\n') })));
    }
    const list = el('ol', { class: 'wb-traces' });
    for (const [i, trace] of (turn.traces || []).entries()) {
      const [kind, label] = madeOf(trace, turn);
      list.append(el('li', { 'data-trace-type': trace.type },
        el('details', { class: 'wb-trace', 'data-key': `${turn.n}:trace:${i}` },
          el('summary', {}, el('code', { text: trace.type }), ' ', el('span', { class: `wb-tag wb-tag--${kind}`, 'data-made': kind, text: label }),
            ' ', el('span', { class: 'wb-muted', text: summaryOf(trace) })),
          el('pre', { text: pretty(trace) }))));
    }
    parts.push(list);
    return el('li', { class: `wb-turn${failed ? ' wb-turn--error' : ''}`, 'data-turn': turn.n }, ...parts,
      el('div', { class: 'wb-row' }, el('button', { type: 'button', 'data-replay': turn.n, text: `Replay up to #${turn.n}` })));
  }

  function renderState() {
    const box = $('wb-state');
    const i = turns.length - 1;
    const last = turns[i];
    if (!last) { box.replaceChildren(el('p', { class: 'wb-muted', text: 'No turn yet.' })); return; }
    const state = stateOf(last) || previousState(i);
    if (!state) {
      box.replaceChildren(el('p', { class: 'wb-muted', text: 'The runtime keeps this conversation\u2019s state (stateful); a secret key shows it (verbose).' }));
      return;
    }
    const before = previousState(turns.indexOf(turns.find((t) => stateOf(t) === state)));
    const vars = isObject(state.variables) ? state.variables : {};
    const old = (before && isObject(before.variables) && before.variables) || {};
    const rows = Object.keys(vars).sort().map((k) => {
      const changed = JSON.stringify(vars[k]) !== JSON.stringify(old[k]);
      return el('tr', { class: changed ? 'wb-changed' : null, 'data-var': k, 'data-changed': changed ? 'yes' : 'no' },
        el('th', { scope: 'row', text: k }), el('td', { class: 'wb-mono', text: JSON.stringify(vars[k]) }),
        el('td', { text: changed ? (k in old ? 'changed' : 'new') : '' }));
    });
    const stack = (Array.isArray(state.stack) ? state.stack.filter(isObject) : []).map((f, n) => el('li', { 'data-frame': n, text: `${f.diagramID || f.programID || '?'} › ${f.nodeID || '(start)'}` }));
    const parts = [el('h3', { text: 'Stack' }), el('ol', { id: 'wb-stack' }, stack.length ? stack : el('li', { class: 'wb-muted', text: 'empty (ended)' }))];
    if (last.flavour === 'stateless') {
      const size = new TextEncoder().encode(JSON.stringify(state)).length;
      const next = turns.find((t) => t.stateIn && JSON.stringify(t.stateIn) === JSON.stringify(state));
      const verified = !next ? 'not sent back yet' : next.status === 409 ? `refused: ${next.error && next.error.code}` : next.status ? 'verified by the runtime on the next turn' : 'checking…';
      const prior = last.stateIn ? (last.status === 409 ? `the state sent was refused (${last.error && last.error.code})` : last.status ? 'the state sent verified' : '') : 'no state sent (a new conversation)';
      parts.unshift(el('p', { id: 'wb-signed', text: `Signed state: ${size} bytes; ${prior}; this one: ${verified}.` }));
    }
    parts.push(el('h3', { text: 'Variables' }),
      el('table', { id: 'wb-vars' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'name' }), el('th', { scope: 'col', text: 'value' }), el('th', { scope: 'col', text: 'this turn' }))), el('tbody', {}, rows)));
    box.replaceChildren(...parts);
  }

  function renderNlu() {
    const box = $('wb-nlu');
    const turn = [...turns].reverse().find((t) => t.action.type === 'text' && t.traces);
    if (!turn) { box.replaceChildren(el('p', { class: 'wb-muted', text: 'No text turn yet.' })); return; }
    const nlu = nluOf(turn);
    const parts = [el('p', {}, 'Turn ', el('strong', { text: `#${turn.n}` }), `: “${turn.action.payload}”`)];
    if (!nlu) {
      parts.push(el('p', { class: 'wb-muted', id: 'wb-nlu-none', text: 'No debug trace: this runtime does not send them to this caller (a secret key gets them; so does the development version of a project without keys on a server started with --debug-traces).' }));
    } else {
      const p = nlu.payload;
      const intents = Array.isArray(p.intents) ? p.intents.filter(isObject) : [];
      if (!isObject(p.match)) p.match = null;
      parts.push(el('p', { id: 'wb-nlu-match', text: p.match ? `Matched ${p.match.intent} (${p.match.confidence}), threshold ${p.threshold}` : `No match: nothing reached the threshold ${p.threshold}` }));
      if (p.match && isObject(p.match.slots) && Object.keys(p.match.slots).length) {
        parts.push(el('p', { id: 'wb-nlu-slots', text: `Slots: ${Object.entries(p.match.slots).map(([k, v]) => `${k} = ${v}`).join(', ')}` }));
      }
      parts.push(el('table', { id: 'wb-intents' },
        el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'intent' }), el('th', { scope: 'col', text: 'score' }), el('th', { scope: 'col', text: 'bar' }))),
        el('tbody', {}, intents.slice(0, 10).map((i) => el('tr', { 'data-intent': i.name, class: p.match && p.match.intent === i.name ? 'wb-changed' : null },
          el('th', { scope: 'row', text: i.name }), el('td', { text: i.confidence }),
          el('td', { 'aria-hidden': 'true' }, el('span', { class: 'wb-bar', 'data-width': i.confidence })))))));
    }
    if (turn.understood) parts.push(el('p', { class: 'wb-muted', id: 'wb-understood', text: `Request as understood: ${JSON.stringify(turn.understood)}` }));
    box.replaceChildren(...parts);
    // Bar widths through the CSSOM (no style attribute: the page's CSP has no 'unsafe-inline').
    for (const bar of box.querySelectorAll('.wb-bar')) bar.style.width = `${Math.round(Number(bar.dataset.width) * 8)}rem`;
  }

  function renderPending() {
    const box = $('wb-pending');
    if (!pending) { box.replaceChildren(); return; }
    box.replaceChildren(el('p', { text: `The flow waits on the custom action “${pending.type}”: answer it by one of its paths.` }),
      el('div', { class: 'wb-row' }, (pending.paths || []).map((path) => el('button', {
        type: 'button', 'data-path': path, text: path,
        onclick: () => { pending = null; render(); window.parley.chat.interact({ type: path }); },
      }))));
  }

  let scheduled = false;
  function render() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      // Redrawn whole, keeping what the reader opened and where the keyboard was.
      const list = $('wb-turns');
      const open = new Set([...list.querySelectorAll('details[open]')].map((d) => d.dataset.key));
      const focused = list.contains(document.activeElement) ? document.activeElement : null;
      const focusKey = focused && (focused.dataset.replay || (focused.parentElement && focused.parentElement.dataset.key));
      list.replaceChildren(...turns.map((turn) => {
        try { return renderTurn(turn); } catch (e) {
          return el('li', { class: 'wb-turn wb-turn--error', 'data-turn': turn.n }, el('p', { class: 'wb-error', text: `#${turn.n}: cannot show this turn: ${e.message}` }));
        }
      }));
      for (const d of list.querySelectorAll('details[data-key]')) if (open.has(d.dataset.key)) d.open = true;
      if (focusKey) {
        const again = list.querySelector(`[data-replay="${focusKey}"]`) || list.querySelector(`details[data-key="${focusKey}"] > summary`);
        if (again) again.focus();
      }
      for (const [box, part] of [['wb-state', renderState], ['wb-nlu', renderNlu], ['wb-pending', renderPending]]) {
        try { part(); } catch (e) { $(box).replaceChildren(el('p', { class: 'wb-error', text: `Cannot show this: ${e.message}` })); }
      }
    });
  }

  // ---- controls ----
  function waitIdle(count, timeoutMs) {
    const until = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const tick = () => {
        const last = turns[turns.length - 1];
        if (turns.length >= count && last && last.done !== undefined) resolve();
        else if (Date.now() > until) reject(new Error('the runtime did not answer in time'));
        else setTimeout(tick, 50);
      };
      tick();
    });
  }

  /** Starts over and sends the conversation's requests again, up to turn `n` (its launch is
   * the widget's own). */
  async function replay(n) {
    const requests = turns.slice(0, n).map((t) => t.action).filter((a, i) => i > 0 || a.type !== 'launch');
    turns.length = 0;
    pending = null;
    render();
    window.parley.chat.reset();
    await waitIdle(1, 15000);
    for (const [i, request] of requests.entries()) {
      window.parley.chat.interact(request);
      await waitIdle(i + 2, 15000);
    }
  }

  $('wb-turns').addEventListener('click', (e) => {
    const button = e.target.closest('[data-replay]');
    if (button) replay(Number(button.dataset.replay)).catch((err) => { $('wb-raw-error').textContent = err.message; });
  });

  $('wb-send-raw').addEventListener('click', () => {
    const out = $('wb-raw-error');
    out.textContent = '';
    let request;
    try { request = JSON.parse($('wb-raw').value); } catch (e) { out.textContent = `Not JSON: ${e.message}`; return; }
    if (!request || typeof request !== 'object' || typeof request.type !== 'string') {
      out.textContent = 'A request is an object with a string "type" (and a "payload").';
      return;
    }
    pending = null;
    window.parley.chat.interact(request);
  });

  $('wb-reset').addEventListener('click', () => {
    turns.length = 0;
    pending = null;
    render();
    window.parley.chat.reset();
  });

  $('wb-settings').addEventListener('submit', (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    const url = $('wb-url').value.trim().replace(/\/+$/, '');
    if (url !== location.origin) next.set('url', url);
    next.set('project', $('wb-project').value.trim());
    next.set('version', $('wb-version').value);
    next.set('flavour', $('wb-flavour').value);
    sessionStorage.setItem(keyItem(url), $('wb-key').value.trim());
    location.search = next.toString();
  });

  // ---- exports ----
  // One line per trace, as the engine's transcript tests write them (crates/parley-engine/
  // tests/engine.rs `describe`); the runtime's own media URLs back to the paths the project
  // gives, since the server makes them absolute against its address.
  const list = (v) => (Array.isArray(v) ? v.filter(isObject) : []);
  const names = (buttons) => list(buttons).map((b) => b.name).join(' | ');
  const local = (u) => (typeof u === 'string' && u.startsWith(`${settings.url}/`) ? u.slice(settings.url.length) : (u || ''));
  function describe(t) {
    const p = isObject(t.payload) ? t.payload : {};
    switch (t.type) {
      case 'text': {
        // `source`: the text as the engine said it (markdown, its own delay), which the
        // runtime adds for a client that asks for debug traces.
        const { message, delay } = isObject(p.source) ? p.source : p;
        return `text: ${message || ''}${p.ai === true ? ' [ai]' : ''}${delay !== undefined && delay !== null ? ` (delay ${delay})` : ''}`;
      }
      case 'speak': return `speak: ${p.message || ''}${p.src ? ` [audio ${local(p.src)}]` : ''}`;
      case 'visual': return `image: ${local(p.image)}${p.dimensions ? ` ${p.dimensions.width}x${p.dimensions.height}` : ''}`;
      case 'cardV2': return `card: ${p.title || ''} / ${(p.description && p.description.text) || ''} / ${local(p.imageUrl)} [${names(p.buttons)}]`;
      case 'carousel': return `carousel: ${list(p.cards).map((c) => `${c.title || ''} [${names(c.buttons)}]`).join(', ')}`;
      case 'choice': return `choice: ${names(p.buttons)}`;
      case 'no-reply': return `no-reply: ${p.timeout}`;
      case 'end': return 'end';
      default:
        if (DIAGNOSTIC.includes(t.type) || t.type === '(not a trace)') return `${t.type}: ${t.payload === undefined ? '' : JSON.stringify(t.payload)}`;
        return `custom ${t.type}: ${t.payload === undefined ? '' : JSON.stringify(t.payload)} paths: ${(t.paths || []).map((x) => x.event && x.event.type).join(', ')} default: ${t.defaultPath === undefined ? '' : t.defaultPath}`;
    }
  }
  const ours = (t) => t.type === 'debug' && t.payload && ['nlu', 'api', 'api_result', 'llm', 'llm_result', 'seed'].includes(t.payload.type);
  const orDefault = (v) => (v === undefined || v === null ? 'default' : v);
  const buttonsOf = (traces) => traces.flatMap((t) => {
    const p = isObject(t.payload) ? t.payload : {};
    if (t.type === 'choice') return list(p.buttons);
    if (t.type === 'cardV2') return list(p.buttons);
    if (t.type === 'carousel') return list(p.cards).flatMap((c) => list(c.buttons));
    return [];
  });
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  /** The source text of each number among an answer's state variables (JSON.parse's reviver
   * context), or null where the browser does not give it. */
  function numberSources(text) {
    let supported = false;
    let parsed;
    try {
      parsed = JSON.parse(text, function reviver(key, value, context) {
        if (typeof value !== 'number') return value;
        if (context && typeof context.source === 'string') { supported = true; return context.source; }
        return value;
      });
    } catch { return null; }
    const vars = parsed && parsed.state && parsed.state.variables;
    return supported && vars ? Object.fromEntries(Object.entries(vars).filter(([, v]) => typeof v === 'string' && /^-?\d/.test(v))) : null;
  }

  function engineTest() {
    const out = { about: `Recorded in the workbench: project ${settings.project}, ${settings.version}, ${settings.flavour}.`, project: $('wb-project-path').value, version: settings.version, seed: 0, turns: [] };
    let seed = null;
    let previous = [];
    let stateBefore = null;
    const ok = turns.filter((t) => t.status && t.status < 400 && t.traces);
    for (const turn of ok) {
      const a = turn.action;
      const spec = {};
      if (a.type === 'launch') spec.launch = a.payload === undefined ? true : a.payload;
      else if (a.type === 'text' && typeof a.payload === 'string') spec.text = a.payload;
      else if (a.type === 'no-reply') spec.no_reply = true;
      else {
        const button = buttonsOf(previous).find((b) => same(b.request, a));
        const action = previous.find((t) => Array.isArray(t.paths) && t.paths.some((x) => x.event && x.event.type === a.type));
        if (button) spec.button = button.name;
        else if (action && a.payload === undefined) spec.action = a.type;
        else spec.request = a;
      }
      if (turn.flavour !== 'stateless') {
        const user = turn.request.url.match(/\/user\/([^/?]+)\//);
        if (user) spec.user_id = decodeURIComponent(user[1]);
        const time = (turn.traces.find((t) => typeof t.time === 'number') || {}).time;
        if (time !== undefined) spec.now = Math.floor(time / 1000);
      }
      // Split at each API call: the traces up to it and the call (`effect:`), then its result.
      let part = { ...spec, traces: [] };
      const parts = [part];
      for (const t of turn.traces) {
        if (ours(t)) {
          const p = t.payload;
          if (p.type === 'seed') seed = p.seed;
          if (p.type === 'api') {
            part.traces.push(`effect: ${p.method} ${p.url} [${(p.headers || []).map(([k, v]) => `${k}: ${v}`).join(', ')}] ${p.body || ''} ${p.timeoutMs}ms`);
          }
          if (p.type === 'api_result') {
            part = p.failed !== undefined ? { api: { failed: p.failed }, traces: [] } : { api: { status: p.status, body: p.body }, traces: [] };
            parts.push(part);
          }
          if (p.type === 'llm') {
            part.traces.push(`effect: llm ${orDefault(p.model)} t=${orDefault(p.temperature)} max=${orDefault(p.maxTokens)} ${p.timeoutMs}ms [${(p.messages || []).map((m) => `${m.role}: ${m.content}`).join(' | ')}]`);
          }
          if (p.type === 'llm_result') {
            part = { llm: p.failed !== undefined ? { failed: p.failed } : { answer: p.answer }, traces: [] };
            parts.push(part);
          }
          continue;
        }
        part.traces.push(describe(t));
      }
      if (a.type === 'text' && turn.understood) {
        const r = turn.understood;
        parts[0].understood = r.type === 'intent'
          ? `intent ${r.payload.intent.name} ${(r.payload.entities || []).map((e) => `${e.name}=${e.value}`).join(' ')}`.trim()
          : r.type;
      }
      const state = stateOf(turn);
      if (turn.flavour === 'stateless' && state) {
        const old = (stateBefore && stateBefore.variables) || {};
        const changed = {};
        const raw = numberSources(turn.text);
        for (const [k, v] of Object.entries(state.variables || {})) {
          if (same(v, old[k])) continue;
          if (typeof v !== 'number') changed[k] = v;
          // A number as the runtime wrote it (100.0 is not 100 to the harness), or left out
          // where this browser cannot say.
          else if (raw && raw[k] !== undefined) changed[k] = `\u0000${raw[k]}\u0000`;
        }
        if (Object.keys(changed).length) part.variables = changed;
        stateBefore = state;
      }
      out.turns.push(...parts);
      previous = turn.traces;
    }
    // The seed is a u64: written as its digits, not through a JavaScript number; so are the
    // numbers of variables, as the runtime wrote them.
    return JSON.stringify(out, null, 2).replace('"seed": 0', `"seed": ${seed === null ? 0 : seed}`)
      .replace(/"\\u0000([^"\\]*)\\u0000"/g, '$1') + '\n';
  }

  function asText() {
    const lines = [`Parley workbench: ${settings.project} (${settings.version}, ${settings.flavour}) at ${settings.url}`];
    for (const turn of turns) {
      const a = turn.action;
      lines.push('', `#${turn.n} > ${a.type}${a.payload !== undefined ? ` ${typeof a.payload === 'string' ? a.payload : JSON.stringify(a.payload)}` : ''}  [${turn.status || 'no answer'}, first byte ${ms(turn.ttfb)}, done ${ms(turn.done)}]`);
      if (turn.error) lines.push(`   error ${turn.error.code}: ${turn.error.message}`);
      for (const t of turn.traces || []) lines.push(`   < ${describe(t)}`);
    }
    return lines.join('\n') + '\n';
  }

  function asJson() {
    return pretty({
      settings: { url: settings.url, project: settings.project, version: settings.version, flavour: settings.flavour },
      turns: turns.map((t) => ({
        n: t.n, request: t.request, status: t.status, error: t.error, timing: { firstByteMs: t.ttfb, doneMs: t.done },
        frames: t.frames, traces: t.traces, state: t.state, understood: t.understood,
      })),
    }) + '\n';
  }

  let downloadUrl = null;
  document.querySelector('.wb-panel').addEventListener('click', (e) => {
    const button = e.target.closest('[data-export]');
    if (!button) return;
    const kind = button.dataset.export;
    const [text, name, type] = kind === 'test' ? [engineTest(), `${settings.project}_workbench.json`, 'application/json']
      : kind === 'json' ? [asJson(), `${settings.project}_conversation.json`, 'application/json']
        : [asText(), `${settings.project}_conversation.txt`, 'text/plain'];
    $('wb-export').value = text;
    $('wb-export').dataset.kind = kind;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([text], { type }));
    const link = $('wb-download');
    link.href = downloadUrl;
    link.download = name;
    link.textContent = `Download ${name}`;
    link.hidden = false;
  });

  // ---- start ----
  $('wb-url').value = settings.url;
  $('wb-project').value = settings.project;
  $('wb-version').value = settings.version;
  $('wb-flavour').value = settings.flavour;
  $('wb-key').value = settings.key;
  // The projects this server lists (those without keys), for the switcher and the title.
  const listed = origFetch(`${location.origin}/workbench/projects.json`).then((r) => (r.ok ? r.json() : { projects: [] })).catch(() => ({ projects: [] }));
  listed.then(({ projects }) => {
    $('wb-projects').replaceChildren(...projects.map((p) => el('option', { value: p.id, text: p.name })));
  });
  // Each page load is one conversation: `memory` persistence, so the panel and the widget
  // always start together.
  const title = (projects) => (projects.find((p) => p.id === settings.project) || {}).name || settings.project;
  listed.then(({ projects }) => window.parley.chat.load({
    assistant: { title: title(projects) },
    verify: { projectID: settings.project },
    url: settings.url,
    versionID: settings.version,
    mode: settings.flavour === 'stateless' ? 'stateless' : 'stateful',
    // The page observes `fetch`: the widget's own streamed turns (v4, over XMLHttpRequest)
    // would go past it, so the stateful flavours take the plain route, which the streaming
    // flavour streams itself (above).
    stream: false,
    ...(settings.key ? { apiKey: settings.key } : {}),
    render: { mode: 'embedded', target: '#wb-widget' },
    persistence: 'memory',
    autostart: true,
  }));
  window.parleyWorkbench = { turns, engineTest, asText, asJson, settings };
})();
