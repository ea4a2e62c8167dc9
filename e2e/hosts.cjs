// The example host pages (examples/hosts/) as a site would serve them: from an origin of their
// own (a Node `http` server on a free loopback port, so the widget's files and the runtime are
// cross-origin), under a strict Content-Security-Policy. And the Vite example, built from a
// fresh copy of its folder with the packed npm tarball installed (not the source folder).
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const examples = path.join(__dirname, '..', 'examples', 'hosts');
// What the example pages name as the runtime (`cargo xtask demo`'s address).
const DEMO_ORIGIN = 'http://127.0.0.1:8080';

const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

// A policy with no 'unsafe-inline' and no 'unsafe-eval': scripts from this origin and from the
// runtime's server, which also answers the API and serves the agent's pictures; 'wasm-unsafe-eval'
// to compile the wasm. `default-src 'none'` refuses everything else (inline styles included).
function strictCsp(parleyOrigin) {
  return [
    "default-src 'none'",
    `script-src 'self' ${parleyOrigin} 'wasm-unsafe-eval'`,
    `connect-src 'self' ${parleyOrigin}`,
    `img-src 'self' ${parleyOrigin} data:`,
    "style-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

// Serves `dir` on a free loopback port with the strict CSP; text files have the demo's address
// replaced by the real server's (the port may differ from 8080).
async function startHost(dir, { parleyOrigin }) {
  const csp = strictCsp(parleyOrigin);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://host');
    // The browser asks every site for its icon; these pages have none, and that is no error.
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '');
    let file = path.join(dir, rel);
    if (!file.startsWith(dir)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const type = types[path.extname(file)] || 'application/octet-stream';
    let body = fs.readFileSync(file);
    if (/^text\//.test(type)) body = Buffer.from(String(body).split(DEMO_ORIGIN).join(parleyOrigin));
    res.writeHead(200, { 'content-type': type, 'content-security-policy': csp, 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// Copies examples/hosts/vite to a fresh folder, points its `parley-chat` dependency at the
// packed tarball, installs (the npm registry: vite, typescript; the tarball: parley-chat),
// type-checks the page's TypeScript against the package's types, and runs `vite build` with the
// runtime's address. Answers the built folder.
function buildViteExample(tarball, parleyOrigin) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-vite-'));
  // The example as committed: not a local install or build of it.
  const source = path.join(examples, 'vite');
  fs.cpSync(source, work, {
    recursive: true,
    filter: (from) => !['node_modules', 'dist'].includes(path.relative(source, from).split(path.sep)[0]),
  });
  const manifest = JSON.parse(fs.readFileSync(path.join(work, 'package.json'), 'utf8'));
  manifest.dependencies['parley-chat'] = `file:${path.resolve(tarball)}`;
  fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify(manifest, null, 2));
  // Runs a command; answers what it printed (stdout and stderr), or throws with it.
  const run = (cmd, args, env = {}) => {
    const r = spawnSync(cmd, args, { cwd: work, timeout: 300000, env: { ...process.env, ...env }, encoding: 'utf8' });
    const said = `${r.stdout || ''}${r.stderr || ''}`;
    if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args[0]} failed (${r.status ?? r.error}): ${said.slice(0, 800)}`);
    return said;
  };
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
  const installed = JSON.parse(fs.readFileSync(path.join(work, 'node_modules/parley-chat/package.json'), 'utf8'));
  if (fs.existsSync(path.join(work, 'node_modules/parley-chat/src'))) {
    throw new Error('parley-chat was installed with its source folder, not as the packed package');
  }
  // The package's types, as a TypeScript user meets them (strict, the declaration file checked).
  run(path.join(work, 'node_modules/.bin/tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  // Warnings count: an asset the bundler cannot resolve is only a warning to Vite.
  const built = run(path.join(work, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], { VITE_PARLEY_URL: parleyOrigin, NO_COLOR: '1' });
  if (built.trim()) throw new Error(`vite build said: ${built.trim().slice(0, 600)}`);
  return { dir: path.join(work, 'dist'), version: installed.version, cleanup: () => fs.rmSync(work, { recursive: true, force: true }) };
}

module.exports = { examples, startHost, buildViteExample };
