// The widget's look and feel (issue 16, details 1, 2 and 8), in Chromium against the real server
// and the demo project, or a fake runtime (fake-runtime.cjs) for what the demo does not send:
// the view kept at the latest message while images load, and not moved while the visitor reads
// further up; broken pictures in bubbles, cards and carousels; the unread count on the
// launcher; the header menu's transcript download; each line's time; dark mode (the system's
// and `assistant.theme`); the locale table and right-to-left layout (Arabic), and the page's
// `lang` as the fallback (German). axe-core in every state; a screenshot of each.
'use strict';
const fs = require('node:fs');
const { startFakeRuntime, state } = require('./fake-runtime.cjs');

module.exports = function widgetLook(scenario, { accessible, shot, send, WAIT }) {
  const fail = (what) => { throw new Error(what); };
  const inShadow = (page, f, arg) => page.evaluate(f, arg);
  // The widget against a runtime of the scenario's own (as run.cjs's loadWidget).
  const load = (page, options) => page.evaluate((o) => {
    window.parley.chat.destroy();
    window.parley.chat.load(o);
  }, options);
  // Two frames: what a resize observer and the layout did by then is on screen.
  const settle = (page) => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const transcriptBox = (page) => inShadow(page, () => {
    const root = document.querySelector('.parley-host').shadowRoot;
    const scroll = root.querySelector('.parley-transcript');
    const last = root.querySelector('[role=log]').lastElementChild;
    const button = root.querySelector('.parley-transcript__new');
    return {
      top: scroll.scrollTop,
      max: scroll.scrollHeight - scroll.clientHeight,
      viewBottom: scroll.getBoundingClientRect().bottom,
      lastBottom: last ? last.getBoundingClientRect().bottom : 0,
      button: Boolean(button && !button.hidden && button.getBoundingClientRect().height > 0),
    };
  });

  scenario('look: the view stays at the latest message while the menu\'s pictures load; scrolled up, a new message shows a button and does not move the view', async ({ page }) => {
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    await send(page, 'show me the menu');
    await page.waitForSelector('.parley-carousel', WAIT);
    await page.waitForSelector('.parley-choices button:has-text("Order now")', WAIT);
    // Every picture of the carousel in view has loaded (lazy ones later, as a visitor scrolls).
    await page.waitForFunction(() => {
      const imgs = [...document.querySelector('.parley-host').shadowRoot.querySelectorAll('.parley-carousel img')];
      return imgs.length > 0 && imgs.slice(0, 1).every((i) => i.complete && i.naturalHeight > 0);
    }, null, WAIT);
    await settle(page);
    const pinned = await transcriptBox(page);
    // The last line (the carousel, its arrows included) ends inside the view, above the quick
    // replies: before, 137 px of it stayed hidden under them.
    if (pinned.lastBottom > pinned.viewBottom + 1) fail(`the carousel ends ${Math.round(pinned.lastBottom - pinned.viewBottom)} px below the view`);
    if (pinned.max - pinned.top > 16) fail(`not at the bottom: ${JSON.stringify(pinned)}`);
    if (pinned.button) fail('the new-messages button shows at the bottom');
    await shot(page, 'look-1-pinned');
    // The visitor scrolls up; the page sends a message meanwhile.
    await inShadow(page, () => { document.querySelector('.parley-host').shadowRoot.querySelector('.parley-transcript').scrollTop = 0; });
    await settle(page);
    const count = await page.locator('[role=log] > *').count();
    await page.evaluate(() => window.parley.chat.interact({ type: 'intent', payload: { intent: { name: 'hours' }, query: '', entities: [] } }));
    await page.waitForFunction((n) => document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] > *').length > n, count, WAIT);
    await settle(page);
    const up = await transcriptBox(page);
    if (up.top !== 0) fail(`the view moved to ${up.top} while the visitor read further up`);
    if (!up.button) fail('no new-messages button');
    await accessible(page, 'scrolled up, a new message');
    await shot(page, 'look-1-new-messages');
    await page.click('.parley-transcript__new');
    await settle(page);
    const down = await transcriptBox(page);
    if (down.max - down.top > 16 || down.button) fail(`the button did not bring the latest message: ${JSON.stringify(down)}`);
  });

  scenario('look: a picture that fails to load collapses, in a bubble, a card and a carousel', async ({ page }) => {
    const fake = await startFakeRuntime(({ number }) => ({
      body: {
        state: state(number),
        trace: [
          // Stamped as a Voiceflow runtime stamps its traces: the line shows that time.
          { type: 'text', time: 1700000000000, payload: { message: 'Pictures ahead.' } },
          // The fake runtime answers 404 to anything but /interact.
          { type: 'visual', payload: { visualType: 'image', image: `${fake.url}/missing.png`, dimensions: { width: 320, height: 200 } } },
          { type: 'cardV2', payload: { title: 'A card', description: { text: 'Its picture is gone.' }, imageUrl: `${fake.url}/gone.png`, buttons: [{ name: 'Pick', request: { type: 'path-a' } }] } },
          { type: 'carousel', payload: { layout: 'Carousel', cards: ['One', 'Two'].map((title) => ({ title, description: { text: 'No picture.' }, imageUrl: `${fake.url}/${title}.png`, buttons: [] })) } },
          { type: 'text', payload: { message: 'After the pictures.' } },
        ],
      },
    }));
    try {
      await load(page, { verify: { projectID: 'broken' }, url: fake.url, persistence: 'memory', autostart: true });
      await page.waitForSelector('text=After the pictures.', WAIT);
      // Four pictures, none of which loads: each hidden (no broken-image icon, no empty box).
      await page.waitForFunction(() => {
        const imgs = [...document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] img')];
        return imgs.length === 4 && imgs.every((i) => i.getBoundingClientRect().height === 0);
      }, null, WAIT).catch(() => fail('a broken picture still shows in the transcript'));
      const image = await inShadow(page, () => {
        const b = document.querySelector('.parley-host').shadowRoot.querySelector('.parley-bubble--image');
        return b.getBoundingClientRect().height;
      });
      if (image !== 0) fail(`the image bubble still takes ${image} px`);
      for (const title of ['A card', 'One', 'Two']) await page.waitForSelector(`.parley-card__title:has-text("${title}")`, WAIT);
      const stamped = await page.getAttribute('[role=log] > :first-child > time', 'datetime');
      if (stamped !== new Date(1700000000000).toISOString()) fail(`the stamped line's time: ${stamped}`);
      await accessible(page, 'broken pictures');
      await shot(page, 'look-2-broken-image');
    } finally {
      await fake.close();
    }
  });

  scenario('look: a message that arrives while the chat is closed counts on the launcher, until it opens', async ({ page }) => {
    const fake = await startFakeRuntime(({ body, number }) => ({
      // The answer to the typed message comes after the visitor has closed the chat.
      delayMs: body && body.request && body.request.type === 'text' ? 1500 : 0,
      body: {
        state: state(number),
        trace: number === 0
          ? [{ type: 'text', payload: { message: 'Hello.' } }]
          : [{ type: 'text', payload: { message: 'One.' } }, { type: 'text', payload: { message: 'Two.' } }],
      },
    }));
    try {
      await load(page, { verify: { projectID: 'unread' }, url: fake.url, persistence: 'memory', autostart: true });
      await page.waitForSelector('text=Hello.', WAIT);
      await send(page, 'tell me');
      await page.click('.parley-header__close');
      await page.waitForSelector('.parley-launcher__badge', WAIT);
      await page.waitForFunction(() => document.querySelector('.parley-host').shadowRoot.querySelector('.parley-launcher__badge')?.textContent === '2', null, WAIT)
        .catch(async () => fail(`badge: ${await page.textContent('.parley-launcher__badge')}`));
      const label = await page.getAttribute('.parley-launcher', 'aria-label');
      if (!/2 unread/.test(label)) fail(`the launcher's name does not say it: ${label}`);
      await accessible(page, 'closed, with unread messages');
      await shot(page, 'look-8-unread');
      await page.click('.parley-launcher');
      await page.waitForSelector('text=Two.', WAIT);
      if (await page.locator('.parley-launcher__badge').count()) fail('the badge stayed once opened');
      await settle(page);
      const view = await transcriptBox(page);
      if (view.max - view.top > 16) fail(`reopened away from the latest message: ${JSON.stringify(view)}`);
    } finally {
      await fake.close();
    }
  });

  scenario('look: the header menu downloads the transcript as text; each line has its time, read out and shown on hover', async ({ page }) => {
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    await send(page, 'what are your hours');
    await page.waitForFunction(() => document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] > *').length >= 3, null, WAIT);
    const times = await inShadow(page, () => [...document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] > *')]
      .map((l) => { const t = l.querySelector(':scope > time'); return t && { datetime: t.getAttribute('datetime'), text: t.textContent, width: t.getBoundingClientRect().width }; }));
    if (times.some((t) => !t || !/^\d{4}-\d\d-\d\dT/.test(t.datetime) || !/\d/.test(t.text))) fail(`a line without its time: ${JSON.stringify(times)}`);
    if (times.some((t) => t.width > 1)) fail('the times show without a hover');
    await page.hover('[role=log] > :first-child');
    const hovered = await page.locator('[role=log] > :first-child > time').boundingBox();
    if (!hovered || hovered.width <= 1) fail('the time does not show on hover');
    const menu = page.locator('.parley-header [aria-haspopup=menu]');
    await menu.click();
    await page.waitForSelector('[role=menu] [role=menuitem]', WAIT);
    if ((await menu.getAttribute('aria-expanded')) !== 'true') fail('the menu button does not say it is open');
    await accessible(page, 'the header menu open');
    await shot(page, 'look-8-menu');
    await page.keyboard.press('Escape');
    if (await page.locator('[role=menu]').isVisible()) fail('Escape did not close the menu');
    await menu.click();
    const [download] = await Promise.all([page.waitForEvent('download', WAIT), page.click('[role=menuitem]')]);
    const text = fs.readFileSync(await download.path(), 'utf8');
    if (download.suggestedFilename() !== 'transcript.txt') fail(`file name ${download.suggestedFilename()}`);
    for (const said of ['Pizza Palace: ', 'You: what are your hours', 'What would you like to do?']) {
      if (!text.includes(said)) fail(`the transcript lacks "${said}": ${text.slice(0, 400)}`);
    }
    if (!/^\[\d{1,2}:\d\d[^\]]*\] /m.test(text)) fail(`no time in the transcript: ${text.slice(0, 200)}`);
    // After a reload each line keeps its own time (saved with it), not the reload's.
    await page.waitForTimeout(50);
    await page.reload();
    await page.click('.parley-launcher');
    await page.waitForFunction((n) => document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] > *').length >= n, times.length, WAIT);
    const restored = await inShadow(page, () => [...document.querySelector('.parley-host').shadowRoot.querySelectorAll('[role=log] > * > time')]
      .map((t) => t.getAttribute('datetime')));
    const before = times.map((t) => t.datetime);
    if (JSON.stringify(restored.slice(0, before.length)) !== JSON.stringify(before)) {
      fail(`the times after a reload: ${JSON.stringify(restored)}, before: ${JSON.stringify(before)}`);
    }
  });

  scenario('look: dark mode, by the system\'s preference and by assistant.theme', async ({ page }) => {
    const surface = () => inShadow(page, () => getComputedStyle(document.querySelector('.parley-host').shadowRoot.querySelector('.parley-panel')).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    if ((await surface()) !== 'rgb(27, 29, 33)') fail(`the panel is ${await surface()} under a dark system`);
    await accessible(page, 'dark mode');
    await shot(page, 'look-8-dark');
    await load(page, { verify: { projectID: 'pizza' }, assistant: { title: 'Pizza Palace', theme: 'light' }, persistence: 'memory', autostart: true });
    await page.waitForSelector('.parley-choices button', WAIT);
    if ((await surface()) !== 'rgb(255, 255, 255)') fail(`theme light: ${await surface()}`);
    await page.emulateMedia({ colorScheme: 'light' });
    await load(page, { verify: { projectID: 'pizza' }, assistant: { title: 'Pizza Palace', theme: 'dark' }, persistence: 'memory', autostart: true });
    await page.waitForSelector('.parley-choices button', WAIT);
    if ((await surface()) !== 'rgb(27, 29, 33)') fail(`theme dark: ${await surface()}`);
    await accessible(page, 'theme dark on a light system');
  });

  scenario('look: Arabic, right to left, from the locale option; German from the page\'s lang', async ({ page }) => {
    // The loader's own launcher, painted before the app (held back here), already in the page's
    // locale: the same name and corner as the app's, nothing jumps when the app takes over.
    let release;
    const gate = new Promise((resolve) => { release = resolve; });
    await page.route('**/*_bg.wasm', async (route) => { await gate; await route.continue(); });
    await page.route((url) => url.pathname === '/', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, body: (await response.text()).replace('<html lang="en"', '<html lang="ar"') });
    });
    await page.reload();
    const painted = page.locator('.parley-host[data-parley-loader] .parley-launcher');
    await painted.waitFor(WAIT);
    if ((await painted.getAttribute('aria-label')) !== 'فتح المحادثة') fail(`the loader's launcher: ${await painted.getAttribute('aria-label')}`);
    if ((await painted.boundingBox()).x > 200) fail('the loader\'s launcher is on the right');
    await accessible(page, 'the loader\'s launcher in Arabic');
    release();
    await page.waitForSelector('.parley-host[data-parley] .parley-launcher', WAIT);
    await load(page, { verify: { projectID: 'pizza' }, locale: 'ar', persistence: 'memory' });
    await page.waitForSelector('.parley-launcher[aria-label="فتح المحادثة"]', WAIT);
    const root = page.locator('.parley').first();
    if ((await root.getAttribute('dir')) !== 'rtl' || (await root.getAttribute('lang')) !== 'ar') fail('the root is not lang=ar dir=rtl');
    const launcher = await page.locator('.parley-launcher').boundingBox();
    if (launcher.x > 200) fail(`the launcher is on the right (x ${launcher.x}) in a right-to-left layout`);
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    await send(page, 'what are your hours');
    await page.waitForFunction(() => document.querySelector('.parley-host').shadowRoot.querySelector('.parley-bubble--user'), null, WAIT);
    const user = await inShadow(page, () => {
      const r = document.querySelector('.parley-host').shadowRoot;
      const b = r.querySelector('.parley-bubble--user');
      const log = r.querySelector('[role=log]');
      return { dir: b.querySelector('p').getAttribute('dir'), left: b.getBoundingClientRect().left - log.getBoundingClientRect().left,
        placeholder: r.querySelector('.parley-composer__input').placeholder, title: r.querySelector('.parley-header__title').textContent };
    });
    if (user.dir !== 'auto') fail('a bubble\'s words without dir=auto');
    // The user's messages sit at the start of the line, which is the left in right to left.
    if (user.left > 8) fail(`the user's bubble is ${user.left} px from the left`);
    if (user.placeholder !== 'اكتب رسالة…') fail(`placeholder ${user.placeholder}`);
    if (user.title !== 'محادثة') fail(`title ${user.title}`);
    await accessible(page, 'Arabic, right to left');
    await shot(page, 'look-8-rtl');
    await page.evaluate(() => { document.documentElement.lang = 'de-AT'; });
    await load(page, { verify: { projectID: 'pizza' }, persistence: 'memory' });
    await page.waitForSelector('.parley-launcher[aria-label="Chat öffnen"]', WAIT);
    if ((await page.locator('.parley').first().getAttribute('dir')) !== 'ltr') fail('German is not left to right');
  });
};
