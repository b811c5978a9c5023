// Publications per second that one client receives over each channels
// transport (WebSocket, SSE, HTTP streaming), the server CPU each costs,
// and the memory an idle raw SSE stream holds.
//
// One centrifuge-js client subscribes to the channel `bench` (no history,
// no presence) of examples/channels.toml; the server API publishes
// `--publications` 100-byte publications in `batch` calls of 100, four
// calls in flight. The figure is first publish to last publication
// received. The Node client decodes every line, so on two cores it may be
// the limit rather than the server: compare the server's CPU per
// publication too.
//
// Usage: node bench/streams.mjs [--binary target/release/switchboard]
//          [--publications 50000] [--idle 2000]
// Needs tests/sdk `npm ci`ed. Targets 127.0.0.1 only; every run stops by itself.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const require = createRequire(path.join(root, 'tests/sdk/package.json'));
const { Centrifuge } = require('centrifuge');
const { EventSource } = require('eventsource');
const WebSocket = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
process.env.SB_TEST_BIN = path.resolve(arg('binary', path.join(root, 'target/release/switchboard')));
const { startServer, api } = await import(path.join(root, 'tests/sdk/helpers.mjs'));
const total = Number(arg('publications', '50000'));
const idle = Number(arg('idle', '2000'));
const BATCH = 100;
const IN_FLIGHT = 4;
const LIMIT_MS = 120_000;
const TICK = 100; // clock ticks per second in /proc/<pid>/stat (USER_HZ)

function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

function rssBytes(pid) {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]) * 1024;
}

function client(server, transport) {
  const endpoints = {
    websocket: server.url,
    sse: `${server.base}/connection/sse`,
    http_stream: `${server.base}/connection/http_stream`,
  };
  return new Centrifuge([{ transport, endpoint: endpoints[transport] }], {
    websocket: WebSocket,
    eventsource: EventSource,
    emulationEndpoint: `${server.base}/emulation`,
  });
}

async function throughput(server, transport) {
  const c = client(server, transport);
  const sub = c.newSubscription('bench');
  let received = 0;
  let done;
  const all = new Promise((resolve) => { done = resolve; });
  sub.on('publication', () => { received += 1; if (received === total) done(); });
  const subscribed = new Promise((resolve) => sub.once('subscribed', resolve));
  sub.subscribe();
  c.connect();
  await subscribed;
  const pad = 'x'.repeat(60);
  const cpu0 = cpuSeconds(server.pid);
  const t0 = performance.now();
  let next = 0;
  async function publisher() {
    while (next < total) {
      const from = next;
      next += BATCH;
      const commands = [];
      for (let i = from; i < Math.min(from + BATCH, total); i++) {
        commands.push({ publish: { channel: 'bench', data: { i, pad } } });
      }
      await api(server, 'batch', { commands });
    }
  }
  const timeout = setTimeout(() => done(), LIMIT_MS);
  await Promise.all(Array.from({ length: IN_FLIGHT }, publisher));
  await all;
  clearTimeout(timeout);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.pid) - cpu0;
  c.disconnect();
  return { transport, received, seconds, perSecond: received / seconds, cpuUsPerPub: (cpu * 1e6) / received };
}

/** RSS per idle raw SSE stream: `idle` plain GETs held open. */
async function idleStreams(server) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const before = rssBytes(server.pid);
  const requests = [];
  let open = 0;
  await new Promise((resolve, reject) => {
    for (let i = 0; i < idle; i++) {
      const req = http.get(`${server.base}/ws/sse`, { agent }, (res) => {
        res.once('data', () => { open += 1; if (open === idle) resolve(); });
      });
      req.on('error', reject);
      requests.push(req);
    }
    setTimeout(() => reject(new Error(`only ${open} of ${idle} streams opened`)), LIMIT_MS);
  });
  await new Promise((r) => setTimeout(r, 1000));
  const after = rssBytes(server.pid);
  for (const req of requests) req.destroy();
  agent.destroy();
  return { streams: idle, bytesEach: Math.round((after - before) / idle) };
}

const config = path.join(root, 'target', 'bench-streams.toml');
fs.mkdirSync(path.dirname(config), { recursive: true });
fs.writeFileSync(config, fs.readFileSync(path.join(root, 'examples/channels.toml'), 'utf8') + `
[[endpoints]]
path = "/ws"
mode = "raw"
sse_path = "/ws/sse"
max_connections = 100000
[sinks.stdout]
enabled = false
`);

const server = await startServer({ config });
try {
  console.log(`server ${process.env.SB_TEST_BIN}, ${total} publications of ~100 bytes, batch ${BATCH}, ${IN_FLIGHT} calls in flight`);
  console.log('| transport | publications/s | seconds | server CPU µs per publication |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const transport of ['websocket', 'sse', 'http_stream']) {
    const r = await throughput(server, transport);
    if (r.received !== total) throw new Error(`${transport}: received ${r.received} of ${total}`);
    console.log(`| ${transport} | ${Math.round(r.perSecond)} | ${r.seconds.toFixed(2)} | ${r.cpuUsPerPub.toFixed(1)} |`);
  }
  if (idle > 0) {
    const r = await idleStreams(server);
    console.log(`idle raw SSE streams: ${r.streams}, ${r.bytesEach} bytes of server RSS each`);
  }
} finally {
  await server.stop();
}
