// Events per second from raw WebSocket clients through Switchboard's
// webhook sink to a local HTTP target, one event per request and batched.
// The target answers 200 with an empty body (no answers to carry out), so
// the figure is the sink's own throughput: intake, backlog, signing, HTTP.
//
// Usage: node bench/webhooks.mjs [--binary target/release/switchboard]
//          [--events 20000] [--clients 10] [--batches 1,10,100]
// Needs the `ws` package: run from a checkout where tests/sdk has been
// `npm ci`ed. Targets 127.0.0.1 only; every run stops by itself.

import { spawn } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(root, 'tests/sdk/package.json'));
const WebSocket = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const binary = path.resolve(arg('binary', path.join(root, 'target/release/switchboard')));
const total = Number(arg('events', '20000'));
const clients = Number(arg('clients', '10'));
const batches = arg('batches', '1,10,100').split(',').map(Number);
const LIMIT_MS = 120_000;

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function run(batch) {
  let received = 0;
  let requests = 0;
  let done;
  const finished = new Promise((r) => { done = r; });
  const target = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks));
      received += Array.isArray(body) ? body.length : 1;
      requests += 1;
      res.writeHead(200).end();
      if (received >= total) done();
    });
  });
  target.keepAliveTimeout = 60_000;
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-webhook-bench-'));
  const port = await freePort();
  const config = path.join(dir, 'switchboard.toml');
  fs.writeFileSync(config, `
[server]
bind = "127.0.0.1:${port}"
[[endpoints]]
path = "/ws"
welcome = false
max_connections = 1000
[sinks]
store_path = "${path.join(dir, 'sinks.redb')}"
[sinks.stdout]
enabled = false
[[sinks.webhooks]]
name = "bench"
url = "http://127.0.0.1:${target.address().port}/hook"
secret = "bench-secret"
events = ["message"]
[sinks.webhooks.delivery]
batch_size = ${batch}
linger_ms = ${batch > 1 ? 5 : 0}
memory_events = ${total * 2}
`);
  const server = spawn(binary, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += d; });
  try {
    for (let i = 0; ; i++) {
      const ok = await new Promise((r) => {
        const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); });
        s.on('error', () => r(false));
      });
      if (ok) break;
      if (i > 200) throw new Error(`switchboard did not start:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const sockets = await Promise.all(Array.from({ length: clients }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })));
    const payload = JSON.stringify({ type: 'sensor', value: 23.5, pad: 'x'.repeat(40) });
    const started = process.hrtime.bigint();
    for (let n = 0; n < total; n++) sockets[n % clients].send(payload);
    const limit = setTimeout(() => done(), LIMIT_MS);
    await finished;
    clearTimeout(limit);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const ws of sockets) ws.close();
    return { batch, received, requests, seconds, rate: received / seconds };
  } finally {
    server.kill('SIGTERM');
    await once(server, 'exit');
    target.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`webhook sink throughput: ${total} events from ${clients} clients, ${os.cpus().length} cores`);
console.log('| batch_size | events delivered | requests | seconds | events/s |');
console.log('| ---: | ---: | ---: | ---: | ---: |');
for (const batch of batches) {
  const r = await run(batch);
  console.log(`| ${r.batch} | ${r.received} | ${r.requests} | ${r.seconds.toFixed(2)} | ${Math.round(r.rate)} |`);
}
