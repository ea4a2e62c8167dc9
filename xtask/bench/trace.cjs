// Where a launcher click's time goes: a Chromium performance trace (CDP `Tracing`, the
// devtools.timeline categories and V8's sampling profiler) of one click on the launcher, to the
// first frame after the first bot message, summed by what the renderer's main thread did.
// Usage: NODE_PATH=target/tools/playwright/node_modules node xtask/bench/trace.cjs URL CHROMIUM
//   [MODE] [RUNS]
// MODE `cold` clicks as soon as the launcher is painted (as `cargo xtask bench widget` does:
// the app may still be on its way), `warm` once `parley:ready` has come (the idle preload done).
// Prints, per run, the click's time and the main thread's busy time by event (self time: what
// an event did beyond the events it holds), then the median of each over the runs, and the
// JavaScript and wasm functions the profiler sampled most.
'use strict';
const { chromium } = require('playwright-core');

const [url, executablePath, mode = 'cold', runsArg = '5'] = process.argv.slice(2);
const runs = Number(runsArg);
const args = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage',
  // More flags for an experiment, e.g. PARLEY_TRACE_FLAGS='--js-flags=--no-wasm-lazy-compilation'.
  ...(process.env.PARLEY_TRACE_FLAGS || '').split(' ').filter(Boolean)];
const categories = ['toplevel', 'devtools.timeline', 'disabled-by-default-devtools.timeline',
  'disabled-by-default-devtools.timeline.frame', 'v8.execute', 'blink.user_timing', 'loading',
  'disabled-by-default-v8.cpu_profiler', 'v8'];

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };

// Self time by event name on one thread, between `from` and `to` (microseconds, trace clock).
function selfTimes(events, from, to) {
  const complete = events.filter((e) => e.ph === 'X' && e.dur !== undefined && e.ts + e.dur > from && e.ts < to)
    .sort((a, b) => a.ts - b.ts || b.dur - a.dur);
  const self = new Map();
  const stack = [];
  const add = (name, us) => self.set(name, (self.get(name) || 0) + us);
  for (const e of complete) {
    while (stack.length && stack[stack.length - 1].end <= e.ts) stack.pop();
    const start = Math.max(e.ts, from);
    const end = Math.min(e.ts + e.dur, to);
    const parent = stack[stack.length - 1];
    if (parent) add(parent.name, -(end - start));
    add(nameOf(e), end - start);
    stack.push({ name: nameOf(e), end: e.ts + e.dur });
  }
  return self;
}

function nameOf(e) {
  if (e.name === 'FunctionCall' && e.args && e.args.data) {
    const d = e.args.data;
    return `FunctionCall ${d.functionName || '(anon)'} ${String(d.url || '').split('/').pop()}`;
  }
  if (e.name === 'EventDispatch' && e.args && e.args.data) return `EventDispatch ${e.args.data.type}`;
  if (e.name === 'TimerFire' || e.name === 'FireAnimationFrame') return e.name;
  return e.name;
}

// The sampled functions (self time) of the V8 profiles in the trace (of the main thread's
// isolate), between from and to.
function samples(all, pid, tid, from, to) {
  const self = new Map();
  for (const profile of all.filter((e) => e.name === 'Profile' && e.pid === pid && e.tid === tid)) {
    const nodes = new Map();
    let time = profile.args.data.startTime;
    for (const e of all) {
      if (e.name !== 'ProfileChunk' || e.id !== profile.id || e.pid !== pid) continue;
      const data = e.args.data;
      for (const n of (data.cpuProfile && data.cpuProfile.nodes) || []) nodes.set(n.id, n);
      const ids = (data.cpuProfile && data.cpuProfile.samples) || [];
      const deltas = data.timeDeltas || [];
      ids.forEach((id, i) => {
        time += deltas[i] || 0;
        const next = deltas[i + 1] || 0;
        if (time < from || time > to) return;
        const n = nodes.get(id);
        if (!n) return;
        const f = n.callFrame;
        const k = `${f.functionName || '(anon)'} ${String(f.url || '').split('/').pop()}`;
        self.set(k, (self.get(k) || 0) + next);
      });
    }
  }
  return self;
}

(async () => {
  const browser = await chromium.launch({ executablePath, args });
  const totals = new Map();
  const sampled = new Map();
  const clicks = [];
  for (let run = 0; run < runs; run++) {
    const context = await browser.newContext({ reducedMotion: 'reduce' });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__ready = new Promise((resolve) => addEventListener('parley:ready', () => resolve(performance.now())));
    });
    const cdp = await context.newCDPSession(page);
    const events = [];
    cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
    const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
    await page.goto(url);
    await page.waitForFunction(() => {
      const host = document.querySelector('.parley-host');
      return host && host.shadowRoot && host.shadowRoot.querySelector('.parley-launcher');
    });
    if (mode === 'warm') {
      await page.evaluate(() => window.__ready);
      await page.waitForTimeout(500);
    }
    // An experiment's script, run in the page before the trace (PARLEY_TRACE_BEFORE=file.js).
    if (process.env.PARLEY_TRACE_BEFORE) {
      await page.evaluate(require('fs').readFileSync(process.env.PARLEY_TRACE_BEFORE, 'utf8'));
    }
    await cdp.send('Tracing.start', { traceConfig: { includedCategories: categories }, transferMode: 'ReportEvents' });
    await page.waitForTimeout(100);
    const marks = await page.evaluate(() => new Promise((resolve) => {
      const root = () => document.querySelector('.parley-host').shadowRoot;
      performance.mark('click');
      const t = performance.now();
      root().querySelector('.parley-launcher').click();
      const poll = () => {
        if (root().querySelector('.parley-bubble--bot')) {
          const found = performance.now();
          requestAnimationFrame(() => requestAnimationFrame(() => {
            performance.mark('painted');
            resolve({ click: t, found, painted: performance.now() });
          }));
        } else requestAnimationFrame(poll);
      };
      poll();
    }));
    await page.waitForTimeout(100);
    await cdp.send('Tracing.end');
    await done;
    const click = events.find((e) => e.name === 'click' && e.cat.includes('blink.user_timing'));
    const painted = events.find((e) => e.name === 'painted' && e.cat.includes('blink.user_timing'));
    const from = click.ts;
    const to = painted.ts;
    // The renderer's main thread of the page: the one that ran the marks.
    const main = events.filter((e) => e.pid === click.pid && e.tid === click.tid);
    const self = selfTimes(main, from, to);
    // Busy: the wall time of the main thread's tasks; cpu: the thread's own time in them (what
    // a busy machine, which takes the core away now and then, does not inflate).
    let busy = 0;
    let cpu = 0;
    let end = 0;
    const tasks = main.filter((e) => e.ph === 'X' && /RunTask$/.test(e.name)).sort((a, b) => a.ts - b.ts);
    for (const e of tasks) {
      // Only the outermost task (the task runner's and the scheduler's events nest).
      if (e.ts < end) continue;
      end = e.ts + e.dur;
      if (e.ts + e.dur > from && e.ts < to) {
        busy += Math.min(e.ts + e.dur, to) - Math.max(e.ts, from);
        cpu += (e.tdur || 0) * ((Math.min(e.ts + e.dur, to) - Math.max(e.ts, from)) / (e.dur || 1));
      }
    }
    clicks.push(marks.painted - marks.click);
    console.log(`run ${run + 1}: click to painted ${(marks.painted - marks.click).toFixed(1)} ms (bubble in the DOM at ${(marks.found - marks.click).toFixed(1)}), main thread busy ${(busy / 1000).toFixed(1)} ms, of its CPU ${(cpu / 1000).toFixed(1)} ms`);
    for (const [k, v] of self) {
      if (!totals.has(k)) totals.set(k, []);
      totals.get(k)[run] = v / 1000;
    }
    for (const [k, v] of samples(events, click.pid, click.tid, from, to)) {
      if (!sampled.has(k)) sampled.set(k, []);
      sampled.get(k)[run] = v / 1000;
    }
    if (!totals.has('(busy)')) totals.set('(busy)', []);
    totals.get('(busy)')[run] = busy / 1000;
    if (!totals.has('(cpu)')) totals.set('(cpu)', []);
    totals.get('(cpu)')[run] = cpu / 1000;
    await context.close();
  }
  await browser.close();
  const fill = (v) => Array.from({ length: runs }, (_, i) => v[i] || 0);
  console.log(`\nmedian click to painted: ${median(clicks).toFixed(1)} ms over ${runs} runs (${mode})`);
  console.log('\nmain thread, self time by event (median over runs, ms; sum of means in brackets):');
  [...totals.entries()].map(([k, v]) => [k, median(fill(v)), fill(v).reduce((a, b) => a + b, 0) / runs])
    .sort((a, b) => b[2] - a[2]).slice(0, 30)
    .forEach(([k, m, mean]) => console.log(`${m.toFixed(1).padStart(8)} ${('(' + mean.toFixed(1) + ')').padStart(8)}  ${k}`));
  console.log('\nsampled functions, self time (mean over runs, ms):');
  [...sampled.entries()].map(([k, v]) => [k, fill(v).reduce((a, b) => a + b, 0) / runs])
    .sort((a, b) => b[1] - a[1]).slice(0, 30)
    .forEach(([k, mean]) => console.log(`${mean.toFixed(1).padStart(8)}  ${k}`));
})().catch((e) => { console.error(e); process.exit(1); });
