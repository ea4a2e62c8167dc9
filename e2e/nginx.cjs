// Scale-out (issue 20): Debian's nginx, round-robin, in front of three `parley serve` sharing one
// PostgreSQL database (a fresh one per scenario, on the throwaway server `cargo xtask test`
// starts) and one state secret. Through it, in Chromium: the whole demo conversation, stateless
// and stateful, with one backend killed mid-conversation (the next turns go to the others:
// nothing lost, no error shown); and the conformance clients of e2e/voiceflow.cjs.
//
// Runs when PARLEY_NGINX (the nginx binary), PARLEY_PSQL (psql) and PARLEY_E2E_DATABASE_URL
// (the PostgreSQL server) are set, as `cargo xtask test`'s scale-out step sets them; otherwise
// it registers nothing and says so. Every scenario's name starts with "through nginx".
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const nginxBin = process.env.PARLEY_NGINX;
const psql = process.env.PARLEY_PSQL;
const databaseUrl = process.env.PARLEY_E2E_DATABASE_URL;
const SECRET = 'c0ffee'.repeat(10) + 'c0ff';
const fail = (what) => { throw new Error(what); };

// The databases made, dropped when the run ends (the server may be a developer's own).
const made = [];
process.on('exit', () => {
  for (const name of made) {
    const dropped = spawnSync(psql, [databaseUrl, '-q', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`],
      { encoding: 'utf8', timeout: 10000 });
    if (dropped.status !== 0) console.error(`note: could not drop the database ${name}: ${dropped.stderr || dropped.error}`);
  }
});

// A new, empty database on the server: the URL naming it.
function freshDatabase() {
  const name = `parley_e2e_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  made.push(name);
  const created = spawnSync(psql, [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE ${name}`],
    { encoding: 'utf8', timeout: 15000 });
  if (created.status !== 0) fail(`psql could not create a database (${created.status}): ${created.stderr}`);
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function waitForLine(child, needle, what) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${seen.slice(-500)}`)), 20000);
    child.stderr.on('data', (chunk) => {
      seen += chunk;
      if (seen.includes(needle)) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited (${code}): ${seen.slice(-500)}`)); });
  });
}

async function until(what, f, ms = 15000) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await f()) return; } catch { /* not yet */ }
    if (Date.now() > end) fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// nginx's master stops its workers on SIGTERM (a SIGKILL would leave them running).
function stopped(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.removeAllListeners('exit');
    child.on('exit', () => { clearTimeout(timer); resolve(); });
    child.kill('SIGTERM');
  });
}

function killed(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

// Three servers on `db` and nginx on `port` (a free one when not given).
async function cluster(h, db, port) {
  const dirs = [];
  const servers = [];
  let nginx = null;
  const close = async () => {
    if (nginx) await stopped(nginx);
    for (const s of servers) await killed(s.child);
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i += 1) {
      const backend = await h.freePort();
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-nginx-'));
      dirs.push(dataDir);
      const child = spawn(h.parleyBin, ['serve', '--addr', `127.0.0.1:${backend}`, '--database-url', db,
        '--state-secret', SECRET, '--data-dir', dataDir, '--widget-dir', h.distDir],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
      servers.push({ child, port: backend });
    }
    // All three at once on the fresh database (the migrations race, under their lock).
    await Promise.all(servers.map((s, i) => waitForLine(s.child, 'http://', `parley serve ${i}`)));
    for (const s of servers) s.child.stderr.resume();
    const front = port || await h.freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-nginx-front-'));
    dirs.push(dir);
    // Round-robin (nginx's default); a refused connection goes to the next server, which nginx
    // does for any method when nothing was sent yet. No keep-alive to the servers: every request
    // is a new connection, so a killed server is seen on the next request it is given.
    const conf = `
${process.getuid && process.getuid() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream parley {
${servers.map((s) => `    server 127.0.0.1:${s.port} max_fails=1 fail_timeout=30s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${front};
    location / {
      proxy_pass http://parley;
      proxy_set_header Host $http_host;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
      proxy_buffering off;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`;
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    nginx = spawn(nginxBin, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'error.log')],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr.on('data', (chunk) => process.stderr.write(`[nginx] ${chunk}`));
    const url = `http://127.0.0.1:${front}`;
    await until('nginx', async () => (await fetch(`${url}/ready`)).ok);
    return {
      url,
      ports: servers.map((s) => s.port),
      kill: async (port) => killed(servers.find((s) => s.port === port).child),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

// Every turn's answer through nginx: its status and the servers nginx tried (`X-Upstream`).
function watchTurns(page) {
  const turns = [];
  page.on('response', (r) => {
    if (/\/interact(\/stream)?(\?|$)/.test(r.url())) turns.push({ status: r.status(), upstream: r.headers()['x-upstream'] || '' });
  });
  return turns;
}

// The demo order, as e2e/run.cjs's whole conversation goes, with a backend killed after
// `killAfter` turns: the one that answered the last turn.
async function demoOrder(page, c, h, turns) {
  const { send, WAIT } = h;
  let killedPort = null;
  let killedAt = 0;
  const killLast = async () => {
    const last = turns[turns.length - 1];
    killedPort = Number(last.upstream.split(', ').pop().split(':').pop());
    killedAt = turns.length;
    await c.kill(killedPort);
  };
  await page.waitForSelector('.parley-choices button', WAIT);
  await send(page, "I'd like a large pizza please");
  await page.waitForSelector('text=Great, a large pizza. Which one?', WAIT);
  await page.click('.parley-carousel button:has-text("Pepperoni")');
  await page.waitForSelector('text=How many large pepperoni pizzas would you like?', WAIT);
  // Mid-conversation: the server that answered the last turn dies.
  await killLast();
  await send(page, '2');
  await page.waitForSelector('.parley-card__title:has-text("Your order")', WAIT);
  await page.click('.parley-card button:has-text("Confirm")');
  await page.waitForSelector('text=What name should we put on the order?', WAIT);
  await send(page, 'Dana');
  await page.waitForSelector('text=Thanks, Dana!', WAIT);
  await send(page, 'dana@example.com');
  await page.waitForFunction(() => window.__events.some((e) => e.startsWith('parley:action')), null, WAIT);
  await page.evaluate(() => window.parley.chat.interact({ type: 'success' }));
  await page.waitForSelector('text=Enjoy your meal, Dana!', WAIT);
  await page.waitForSelector('text=The conversation has ended.', WAIT);
  if (await page.locator('.parley-bubble--failed').count()) fail('a message is marked failed');
  if (await page.locator('.parley-banner').count()) fail('an error banner shows');
  const errors = (await page.evaluate(() => window.__events)).filter((e) => e.startsWith('parley:error'));
  if (errors.length) fail(`parley:error: ${errors}`);
  const bad = turns.filter((t) => t.status !== 200);
  if (bad.length) fail(`turns through nginx answered ${JSON.stringify(bad)}`);
  // Before the kill the servers took turns (round-robin); after it, the killed one answered
  // none: nginx found its port closed and gave the turn to the next.
  const served = (t) => t.upstream.split(', ').pop();
  const before = new Set(turns.slice(0, killedAt).map(served));
  if (before.size < 2) fail(`round-robin did not spread the first turns: ${turns.map((t) => t.upstream)}`);
  const after = turns.slice(killedAt);
  if (after.length < 3) fail(`only ${after.length} turns after the kill`);
  if (after.some((t) => served(t) === `127.0.0.1:${killedPort}`)) fail(`the killed server answered: ${turns.map((t) => t.upstream)}`);
  const moved = after.filter((t) => t.upstream.includes(', '));
  return `${turns.length} turns, all 200, over ${new Set(turns.map(served)).size} servers; server :${killedPort} killed `
    + `after turn ${killedAt}, ${after.length} turns after it${moved.length ? `, nginx moved ${moved.length} on (${moved[0].upstream})` : ''}`;
}

module.exports = function register(scenario, h) {
  if (!nginxBin || !psql || !databaseUrl) {
    console.error('note: the nginx scale-out scenarios need PARLEY_NGINX, PARLEY_PSQL and PARLEY_E2E_DATABASE_URL (cargo xtask test sets them in its scale-out step)');
    return;
  }

  scenario('through nginx: the whole demo conversation, stateless, over three servers on PostgreSQL; one killed mid-conversation, nothing lost, no error shown', async ({ page }) => {
    const c = await cluster(h, freshDatabase());
    try {
      const turns = watchTurns(page);
      await page.goto(`${c.url}/`);
      await page.waitForSelector('.parley-launcher', h.WAIT);
      await page.click('.parley-launcher');
      const note = await demoOrder(page, c, h, turns);
      await h.shot(page, 'nginx-stateless');
      return note;
    } finally {
      await c.close();
    }
  });

  // The stateful flavour, on the plain route (`stream: false`) and streamed (the widget's
  // default: a v4 session, its key signed with the servers' one secret, its conversation in
  // PostgreSQL); `routed` checks what the page called.
  const stateful = (name, stream, shotName, routed) => scenario(`through nginx: the whole demo conversation, ${name}, over three servers on PostgreSQL; one killed mid-conversation, nothing lost, no error shown`, async ({ page }) => {
    const c = await cluster(h, freshDatabase());
    try {
      const turns = watchTurns(page);
      await page.goto(`${c.url}/`);
      await page.waitForSelector('.parley-launcher', h.WAIT);
      await page.evaluate((s) => {
        window.parley.chat.destroy();
        window.parley.chat.load({ verify: { projectID: 'pizza' }, mode: 'stateful', persistence: 'memory', autostart: true, stream: s });
      }, stream);
      const note = await demoOrder(page, c, h, turns);
      routed(await page.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname)));
      await h.shot(page, shotName);
      return note;
    } finally {
      await c.close();
    }
  });
  stateful('stateful', false, 'nginx-stateful', (paths) => {
    if (!paths.some((u) => /\/state\/user\/[^/]+\/interact$/.test(u))) fail(`no stateful call: ${paths}`);
  });
  stateful('streamed (v4 session)', true, 'nginx-streamed', (paths) => {
    if (paths.some((u) => /\/state\/user\//.test(u)) || !paths.includes('/v4/interact/stream')) fail(`not streamed: ${paths}`);
  });

  // Voiceflow's clients (e2e/voiceflow.cjs) through nginx: each scenario gets a cluster on a fresh
  // database, and so does each server it starts itself (the keyed ones, whose key
  // `parley keys create` writes into that database through PARLEY_DATABASE_URL).
  const through = (name, f) => scenario(`through nginx: ${name}`, async (ctx) => {
    const db = freshDatabase();
    process.env.PARLEY_DATABASE_URL = db;
    const c = await cluster(h, db);
    try {
      return await f({ ...ctx, parley: c.url });
    } finally {
      delete process.env.PARLEY_DATABASE_URL;
      await c.close();
    }
  });
  require('./voiceflow.cjs')(through, {
    ...h,
    startServer: async (port) => cluster(h, process.env.PARLEY_DATABASE_URL, port),
    stopServer: async (c) => c.close(),
  });
};
