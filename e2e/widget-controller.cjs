// The widget's conversation controller (issue 16, details 3, 5, 6 and 7), against the real
// server and its demo project: a conversation that cannot go on says so in a plain sentence and
// offers a new chat (the details go to the console and `parley:error`); a failed button click
// survives a reload as its request; `proactive.push` takes any number of traces; one
// conversation across two tabs of one browser, which never forks when both send at once.
'use strict';

const KEY = 'parley:2:pizza:development:anonymous';
const shadow = (page, f, arg) => page.evaluate(f, arg);
const logText = (page) => shadow(page, () => document.querySelector('.parley-host')
  .shadowRoot.querySelector('[role=log]').textContent);

module.exports = (scenario, { accessible, shot, send, WAIT }) => {
  scenario('a state the server refuses for good: a plain sentence and a new chat, the details in the console and parley:error', async ({ page, events }) => {
    const warnings = [];
    page.on('console', (m) => { if (m.type() === 'warning') warnings.push(m.text()); });
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    // The saved state, changed behind the widget's back: its signature no longer matches.
    await page.evaluate((key) => {
      const saved = JSON.parse(localStorage.getItem(key));
      saved.state.variables = { ...saved.state.variables, size: 'forged' };
      localStorage.setItem(key, JSON.stringify(saved));
    }, KEY);
    await page.reload();
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    await send(page, "I'd like a large pizza please");
    await page.waitForSelector(".parley-ended >> text=This conversation can't continue.", WAIT);
    const widget = await shadow(page, () => document.querySelector('.parley-host').shadowRoot
      .querySelector('.parley-conversation').textContent);
    for (const jargon of ['state_', '409', 'signature', 'refused']) {
      if (widget.includes(jargon)) throw new Error(`the visitor reads "${jargon}": ${widget}`);
    }
    if (await page.locator('.parley-bubble__retry').count()) throw new Error('a retry that can never work');
    if (await page.locator('.parley-composer').isVisible()) throw new Error('the composer is still open');
    const error = (await events()).find((e) => e.startsWith('parley:error'));
    if (!error || !error.includes('409 state_forged')) throw new Error(`parley:error: ${await events()}`);
    if (!warnings.some((w) => w.includes('409 state_forged'))) throw new Error(`console: ${warnings}`);
    await accessible(page, 'a conversation that cannot go on');
    await shot(page, 'w1-cannot-continue');
    await page.click('.parley-ended >> text=Start a new chat');
    await page.waitForSelector('.parley-choices button', WAIT);
    await send(page, "I'd like a large pizza please");
    await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
    await accessible(page, 'the new chat');
  });

  scenario('a button click that failed is retried after a reload as its request, not as its label typed', async ({ page }) => {
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    const bodies = [];
    const down = (route) => { bodies.push(route.request().postDataJSON()); return route.abort(); };
    await page.route('**/interact*', down);
    const label = (await page.locator('.parley-choices button').first().textContent()).trim();
    await page.locator('.parley-choices button').first().click();
    await page.waitForSelector('.parley-bubble--failed', WAIT);
    const clicked = bodies[0].request;
    if (!clicked || clicked.type === 'text') throw new Error(`the click sent ${JSON.stringify(clicked)}`);
    await page.reload();
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-bubble--failed', WAIT);
    await accessible(page, 'a failed click after a reload');
    await shot(page, 'w1-failed-click-reloaded');
    await page.unroute('**/interact*', down);
    const retried = page.waitForRequest((r) => r.url().includes('/interact'), WAIT);
    await page.click('.parley-bubble__retry');
    const again = (await retried).postDataJSON().request;
    if (JSON.stringify(again) !== JSON.stringify(clicked)) {
      throw new Error(`the retry sent ${JSON.stringify(again)}, the click ${JSON.stringify(clicked)}`);
    }
    await page.waitForFunction(() => !document.querySelector('.parley-host').shadowRoot
      .querySelector('.parley-bubble--failed'), null, WAIT);
    const said = await page.locator('.parley-bubble--user').last().textContent();
    if (!said.includes(label)) throw new Error(`the message shows "${said}", not "${label}"`);
    return `retried ${again.type}`;
  });

  scenario('proactive.push takes any number of traces', async ({ page }) => {
    await page.evaluate(() => window.parley.chat.proactive.push(
      ...['Hi there!', 'Hungry?', 'Pizza in 30 minutes', 'Or it is free'].map((message) => ({ type: 'text', payload: { message } }))));
    await page.waitForSelector('.parley-proactive', WAIT);
    const shown = await page.locator('.parley-proactive__message').allTextContents();
    if (shown.length !== 4 || shown[3] !== 'Or it is free') throw new Error(`shown: ${JSON.stringify(shown)}`);
    await accessible(page, 'four proactive messages');
    await shot(page, 'w1-proactive-four');
  });

  scenario('two tabs: one conversation, a message sent in one shows in the other, and both sending at once never forks it', async ({ page, context, parley }) => {
    await page.click('.parley-launcher');
    await page.waitForSelector('.parley-choices button', WAIT);
    const other = await context.newPage();
    await other.goto(`${parley}/`);
    await other.click('.parley-launcher');
    await other.waitForSelector('.parley-choices button', WAIT);
    await send(page, "I'd like a large pizza please");
    await other.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
    await other.waitForSelector(".parley-bubble--user >> text=I'd like a large pizza please", WAIT);
    await send(other, 'veggie');
    await page.waitForSelector('text=How many large veggie pizzas would you like?', WAIT);
    // Both at once: each tab sends before it hears of the other's message.
    await Promise.all([send(page, '2'), send(other, '3')]);
    const settled = async (p) => p.waitForFunction(() => {
      const root = document.querySelector('.parley-host').shadowRoot;
      return !root.querySelector('.parley-typing') && !root.querySelector('.parley-bubble--sending');
    }, null, WAIT);
    await Promise.all([settled(page), settled(other)]);
    const end = Date.now() + WAIT.timeout;
    let a = await logText(page);
    let b = await logText(other);
    while (a !== b && Date.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      [a, b] = [await logText(page), await logText(other)];
    }
    if (a !== b) throw new Error(`the tabs forked:\n  A: ${a}\n  B: ${b}`);
    const saved = await page.evaluate((key) => JSON.parse(localStorage.getItem(key)), KEY);
    if (saved.busy) throw new Error('the copy still claims a request in flight');
    const failed = await page.locator('.parley-bubble--failed').count();
    for (const p of [page, other]) await accessible(p, 'two tabs after both sent');
    await shot(page, 'w1-tab-a');
    await shot(other, 'w1-tab-b');
    // One of the two went through; the other, if it raced, shows failed in both tabs, for a
    // retry from the one state.
    if (failed > 1) throw new Error(`${failed} failed messages`);
    if (failed === 1) {
      await page.click('.parley-bubble__retry');
      await Promise.all([settled(page), settled(other)]);
    }
    await other.close();
    return failed ? 'the race was run: one message failed, then was retried' : 'one tab waited for the other';
  });
};
