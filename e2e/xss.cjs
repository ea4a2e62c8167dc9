// The XSS scenario's parts: the traces that carry every vector through every rendered field, what
// each field should show, the URL allow-list the widget promises (to tell a dropped safe URL from
// a dropped unsafe one), and the audit of the page's DOM run in the browser after each turn.
'use strict';

// A marker names a vector and a field, `{md07:card.title}`, and is put in front of the vector:
// finding it proves the field was rendered. Braces mean nothing to markdown, SSML or HTML.
// (`rendered` below, which runs in the page, reads markers with its own copy of this shape.)
const marker = (id, field) => `{${id}:${field}}`;

// Fields whose text the widget shows as it came: the marker and the vector must appear verbatim.
const VERBATIM = new Set(['slate.text', 'slate.link', 'card.title', 'card.button', 'carousel.title',
  'carousel.button', 'carousel.slate', 'carousel.slateLink', 'choice.button', 'assistant.title']);
// Markdown fields show a vector verbatim when it holds no markdown (raw HTML is text there); the
// rest, and SSML, are transformed, so only their marker is looked for.
const MARKDOWN = new Set(['text.message', 'card.description', 'carousel.description']);
const neutral = (v) => {
  const s = v.replace(/__xss/g, 'xss');
  return !/[[\]*_`~\\\n\r\u0085\u2028\u2029]/.test(s) && !/^\s*(#|[-+*]\s|\d+[.)]\s)/.test(s) && s.trim() === s;
};

// The allow-list of src/safety.rs, restated: what a browser ignores around and inside a scheme
// (surrounding whitespace and controls; tabs and newlines within it) does not count.
const WHITESPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const EDGES = new RegExp(`^[${WHITESPACE}\\p{Cc}]+|[${WHITESPACE}\\p{Cc}]+$`, 'gu');
function normalised(url) {
  const trimmed = url.replace(EDGES, '');
  const colon = trimmed.indexOf(':');
  if (colon < 0) return null;
  const scheme = trimmed.slice(0, colon).replace(/[\t\n\r]/g, '');
  if (!/^[A-Za-z0-9+.-]+$/.test(scheme)) return null;
  return (scheme + trimmed.slice(colon)).replace(/[A-Z]/g, (c) => c.toLowerCase());
}
const allowed = {
  link: (u) => /^(https?:\/\/|mailto:|tel:)/.test(normalised(u) || ''),
  image: (u) => /^(https?:\/\/|data:image\/(?!svg))/.test(normalised(u) || ''),
  audio: (u) => /^https?:\/\//.test(normalised(u) || ''),
};

// One vector's traces (and the instances, vector × field, they should render).
function tracesOf({ id, payload: v }) {
  const m = (field) => marker(id, field);
  const request = (field) => ({ type: 'xss-next', payload: { label: v, id, field } });
  const slate = (text, link) => [
    { type: 'paragraph', children: [{ text: m(text) + v, bold: true }] },
    { type: 'paragraph', children: [{ text: 'see ' }, { type: 'link', url: v, children: [{ text: m(link) + v }] }] },
  ];
  const traces = [
    { type: 'text', payload: { message: `${m('text.message')}\n\n${v}` } },
    { type: 'text', payload: { message: `[${m('text.link')}](${v})\n\n![${m('text.image')}](${v})` } },
    { type: 'text', payload: { message: 'fallback', slate: { id: `s-${id}`, content: slate('slate.text', 'slate.link') } } },
    { type: 'speak', payload: { type: 'message', message: `${m('speak.message')} ${v}`, src: v } },
    // The marker in the line before a visual names it: the image itself holds no text.
    { type: 'text', payload: { message: m('visual.image') } },
    { type: 'visual', payload: { visualType: 'image', image: v } },
    { type: 'cardV2', payload: {
      title: m('card.title') + v,
      description: { text: `${m('card.description')}\n\n${v}` },
      imageUrl: v,
      buttons: [{ name: m('card.button') + v, request: request('card') }],
    } },
    { type: 'carousel', payload: { layout: 'Carousel', cards: [
      { id: `c1-${id}`, title: m('carousel.title') + v, description: { text: `${m('carousel.description')}\n\n${v}` },
        imageUrl: v, buttons: [{ name: m('carousel.button') + v, request: request('carousel') }] },
      { id: `c2-${id}`, title: 'slate', description: { text: '', slate: slate('carousel.slate', 'carousel.slateLink') } },
    ] } },
    // Never rendered: a custom action (for the host page) and unknown types.
    { type: 'xss-action', payload: { message: m('hidden') + v, url: v }, paths: [{ event: { type: 'done' } }], defaultPath: 0 },
    { type: 'xss-unknown', payload: { message: m('hidden') + v, image: v, slate: v } },
    { type: v, payload: { message: m('hidden') + v } },
  ];
  // What the transcript must hold for it: its marker, and the vector when it shows verbatim.
  // A URL field is found by the marker of the text next to it.
  const instance = (field, { marker: at = m(field), ...extra } = {}) => ({ id, field, marker: at, ...extra,
    expect: VERBATIM.has(field) || (MARKDOWN.has(field) && neutral(v)) ? at + v : at });
  const instances = [
    instance('text.message'), instance('text.link'), instance('text.image'),
    instance('slate.text'), instance('slate.link', { sink: 'links', allow: allowed.link(v) }),
    instance('speak.message'), instance('speak.src', { sink: 'audio', allow: allowed.audio(v), marker: m('speak.message') }),
    instance('visual.image', { sink: 'visual', allow: allowed.image(v) }),
    instance('card.title'), instance('card.description'),
    instance('card.imageUrl', { sink: 'cardImages', allow: allowed.image(v), marker: m('card.title') }),
    instance('card.button'),
    instance('carousel.title'), instance('carousel.description'),
    instance('carousel.imageUrl', { sink: 'cardImages', allow: allowed.image(v), marker: m('carousel.title') }),
    instance('carousel.button'), instance('carousel.slate'),
    instance('carousel.slateLink', { sink: 'links', allow: allowed.link(v) }),
  ];
  return { traces, instances };
}

// The turns: each answer carries a batch of vectors in every field, one `choice` with a button
// per vector (a turn keeps its last choice only), and an end marker to wait for.
function plan(vectors, size) {
  const batches = [];
  for (let i = 0; i < vectors.length; i += size) {
    const batch = vectors.slice(i, i + size);
    const each = batch.map(tracesOf);
    const choices = batch.map(({ id, payload }) => ({
      id,
      name: marker(id, 'choice.button') + payload,
      request: { type: 'xss-next', payload: { label: payload, id, field: 'choice' } },
    }));
    const end = `{end of batch ${batches.length}}`;
    batches.push({
      vectors: batch,
      end,
      instances: each.flatMap((e) => e.instances),
      choices,
      traces: [
        ...each.flatMap((e) => e.traces),
        { type: 'choice', payload: { buttons: choices.map(({ name, request }) => ({ name, request })) } },
        { type: 'text', payload: { message: end } },
      ],
    });
  }
  return batches;
}

// Runs in the page: walks the document and every open shadow root and lists what must not be
// there. The page's own elements (in `window.__initial`, marked before the test) are not judged
// by tag.
function audit() {
  const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href', 'srcdoc', 'poster',
    'data', 'background', 'ping', 'lowsrc', 'dynsrc', 'codebase', 'cite', 'longdesc', 'manifest',
    'icon', 'srcset']);
  // What src/components/transcript.rs creates in the log (some tags only with its classes), and
  // the attributes it sets.
  const LOG = { div: '*', p: '*', strong: '*', em: '*', u: '*', s: '*', code: '*', br: '*', ul: '*',
    ol: '*', li: '*', pre: '*', a: '.parley-rich__link', article: '.parley-card', h3: '.parley-card__title',
    // A slate colour (its only attribute a `style` of `color`), and a response extension's element.
    span: 'span[style], .parley-bubble--extension > span',
    img: '.parley-bubble__image, .parley-card__image, .parley-bubble__avatar', audio: '.parley-bubble__audio',
    button: '.parley-button, .parley-bubble__retry, .parley-carousel__step',
    // Each line's time.
    time: '.parley-time' };
  const LOG_ATTRS = new Set(['class', 'href', 'target', 'rel', 'src', 'alt', 'loading', 'width',
    'height', 'type', 'data-button', 'data-retry', 'data-scroll', 'aria-label', 'role',
    'aria-roledescription', 'tabindex', 'controls', 'preload', 'style',
    // A message's words take their own direction; a line's time; an image bubble whose picture
    // did not load is hidden.
    'dir', 'datetime', 'hidden']);
  // The widget's chrome around the log, some tags only as the widget uses them.
  const CHROME = { div: '*', section: '*', header: '*', h2: '*', button: '*', p: '*', span: '*',
    img: '.parley-header__avatar', form: '.parley-composer', input: '.parley-composer__input',
    // The page's `assistant.stylesheet` (its href goes through the URL check).
    link: 'link[rel=stylesheet]',
    svg: '.parley-launcher__icon', path: '.parley-launcher__icon > path' };
  const problems = [];
  const describe = (el) => `<${el.localName}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ')[0]}` : ''}>`;
  const safe = (value) => {
    const v = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, '').trim().toLowerCase();
    const scheme = /^([a-z][a-z0-9+.-]*):/.exec(v);
    if (!scheme) return true;
    return ['http', 'https', 'mailto', 'tel'].includes(scheme[1])
      || (v.startsWith('data:image/') && !v.startsWith('data:image/svg'));
  };
  const walk = (root, inShadow) => {
    for (const el of root.querySelectorAll('*')) {
      for (const { name, value } of el.attributes) {
        const n = name.toLowerCase();
        if (n.startsWith('on')) problems.push(`${describe(el)} has ${n}=${JSON.stringify(value)}`);
        if (n === 'srcdoc' || (URL_ATTRS.has(n) && !safe(value))) {
          problems.push(`${describe(el)} has ${n}=${JSON.stringify(value)}`);
        }
      }
      const inLog = inShadow && el.closest('[role=log]') && el.getAttribute('role') !== 'log';
      const allowedAs = (rule) => rule && (rule === '*' || el.matches(rule));
      // Inside a response extension's element: the page's own code drew it.
      const byPage = inShadow && el.parentElement && el.parentElement.closest('.parley-bubble--extension > span');
      if (inLog && byPage) {
        // Not the widget's: only the event-handler and URL checks above apply.
      } else if (inLog) {
        if (!allowedAs(LOG[el.localName])) problems.push(`${describe(el)} in the transcript`);
        const style = el.getAttribute('style');
        if (style !== null && !/^color: rgba?\([\d., %]+\);$/.test(style)) problems.push(`${describe(el)} has style=${JSON.stringify(style)}`);
        for (const { name } of el.attributes) {
          if (!LOG_ATTRS.has(name)) problems.push(`${describe(el)} in the transcript has the attribute ${name}`);
        }
      } else if (inShadow) {
        if (!allowedAs(CHROME[el.localName])) problems.push(`${describe(el)} in the widget`);
      } else if (!window.__initial.has(el) && !el.matches('div.parley-host')) {
        problems.push(`${describe(el)} added to the page`);
      }
      if (el.shadowRoot) walk(el.shadowRoot, true);
    }
  };
  walk(document, false);
  return problems;
}

// Runs in the page: the widget's and the transcript's text, and where each marked URL field
// ended up (the attribute's value, or null when dropped), keyed by marker.
function rendered() {
  const root = document.querySelector('.parley-host').shadowRoot;
  const log = root.querySelector('[role=log]');
  const MARK = /^\{[a-z]{2}\d\d:[a-zA-Z.]+\}/;
  const mark = (el) => (MARK.exec(el.textContent.trim()) || [])[0];
  const sinks = { links: {}, audio: {}, visual: {}, cardImages: {} };
  for (const a of log.querySelectorAll('a')) {
    const m = mark(a);
    if (m) sinks.links[m] = a.getAttribute('href');
  }
  // A link whose URL was dropped leaves its text: the marker then starts a text node.
  for (const p of log.querySelectorAll('p')) {
    for (const node of p.childNodes) {
      const m = node.nodeType === 3 && (MARK.exec(node.textContent) || [])[0];
      if (m && !(m in sinks.links)) sinks.links[m] = null;
    }
  }
  for (const line of log.children) {
    const m = mark(line);
    if (!m) continue;
    if (m.endsWith(':speak.message}')) sinks.audio[m] = line.querySelector('audio')?.getAttribute('src') ?? null;
    // The line's words, without its time.
    const words = [...line.childNodes].filter((n) => n.localName !== 'time').map((n) => n.textContent).join('').trim();
    if (m.endsWith(':visual.image}') && words === m) {
      const next = line.nextElementSibling;
      sinks.visual[m] = next && next.matches('.parley-bubble--image') ? next.querySelector('img').getAttribute('src') : null;
    }
  }
  for (const card of log.querySelectorAll('article')) {
    const m = mark(card.querySelector('h3'));
    if (m) sinks.cardImages[m] = card.querySelector('img')?.getAttribute('src') ?? null;
  }
  return { widget: [...root.children].map((e) => e.textContent).join(''), log: log.textContent, sinks };
}

module.exports = { marker, allowed, plan, audit, rendered };
