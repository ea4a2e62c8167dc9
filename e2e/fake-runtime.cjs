// A fake Dialog API runtime for the scenarios the real one cannot play: hostile traces, slow
// answers, errors and garbage. A Node `http` server on a free loopback port that answers the
// widget's stateless `POST /interact` with whatever the scenario's `answer` returns, after
// `delayMs` when given. CORS is open, so the widget on the real server's origin may call it;
// every other request (an image, say) gets a 404. Each interact call is recorded.
'use strict';
const http = require('node:http');

const cors = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, GET, OPTIONS',
  'access-control-allow-headers': 'content-type, versionid, authorization, x-parley-request-id',
  'access-control-max-age': '600',
};

// A state the widget keeps and sends back (it must be an object; the rest is opaque).
const state = (turn) => ({ stack: [], storage: {}, variables: { turn } });

// `answer(call)` gets `{ body, number }` (the parsed request body and the call's index) and
// returns `{ status?, body, delayMs? }`: a string body goes out as it is, anything else as JSON.
async function startFakeRuntime(answer) {
  const calls = [];
  const timers = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'OPTIONS') {
        res.writeHead(204, cors).end();
        return;
      }
      if (req.method !== 'POST' || req.url !== '/interact') {
        res.writeHead(404, cors).end();
        return;
      }
      let body = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        // Recorded as null: a scenario that cares checks it.
      }
      const call = { body, number: calls.length };
      calls.push(call);
      const reply = runtime.answer(call);
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      const send = () => {
        timers.delete(timer);
        res.writeHead(reply.status || 200, { ...cors, 'content-type': 'application/json' }).end(text);
      };
      const timer = setTimeout(send, reply.delayMs || 0);
      timers.add(timer);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const runtime = {
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    answer,
    // The requests (`{ type, payload }`) received so far.
    requests: () => calls.map((c) => c.body && c.body.request),
    close: () => new Promise((resolve) => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return runtime;
}

module.exports = { startFakeRuntime, state };
