// examples/node-red end to end: real Node-RED (examples/node-red, its
// flows.json and settings.js) as the webhook backend of the real switchboard
// binary on a temp copy of examples/node-red/switchboard.toml. A raw client
// on /ws sends messages; the webhook sink POSTs them, signed, to the flow,
// whose `reply` comes back to the client and whose server API publish reaches
// a centrifuge-js client subscribed to `workflow`. Every wait is bounded;
// both processes are stopped at the end.
//
// Needs examples/node-red/node_modules: `npm ci` in examples/node-red.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import {
  repoRoot, API_KEY, startServer, api, newClient, connect, subscribe, waitUntil, RawClient, freePort,
} from './helpers.mjs';

const exampleDir = path.join(repoRoot, 'examples', 'node-red');
const redJs = path.join(exampleDir, 'node_modules', 'node-red', 'red.js');
const SECRET = 'change-me-webhook-secret';
const NODE_RED_START_MS = 60_000;

let tmp;
let nodeRed;
let server;
const clients = [];
const raws = [];

/** Starts Node-RED on `port`; resolves once GET /health answers 200. */
async function startNodeRed(port, apiUrl) {
  const env = {
    ...process.env,
    NODE_RED_PORT: String(port),
    NODE_RED_USER_DIR: path.join(tmp, 'node-red'),
    SWITCHBOARD_API: apiUrl,
    SWITCHBOARD_API_KEY: API_KEY,
    SWITCHBOARD_WEBHOOK_SECRET: SECRET,
  };
  const child = spawn(process.execPath, [redJs, '--settings', 'settings.js'], {
    cwd: exampleDir, env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  let exited = null;
  child.once('exit', (code, signal) => { exited = { code, signal }; });
  const stop = async () => {
    if (exited) return;
    const done = once(child, 'exit');
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + NODE_RED_START_MS;
  for (;;) {
    if (exited) throw new Error(`Node-RED exited (${JSON.stringify(exited)}) before answering:\n${log}`);
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Node-RED did not answer GET ${base}/health within ${NODE_RED_START_MS} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { base, stop, log: () => log };
}

/** examples/node-red/switchboard.toml with the webhook at `port` and the store in tmp. */
function writeConfig(port) {
  let toml = fs.readFileSync(path.join(exampleDir, 'switchboard.toml'), 'utf8');
  const edit = (from, to) => {
    assert.ok(toml.includes(from), `examples/node-red/switchboard.toml no longer contains ${from}`);
    toml = toml.replace(from, to);
  };
  edit('"http://127.0.0.1:1880/switchboard"', JSON.stringify(`http://127.0.0.1:${port}/switchboard`));
  edit('"target/node-red-demo/sinks.redb"', JSON.stringify(path.join(tmp, 'sinks.redb')));
  const file = path.join(tmp, 'switchboard.toml');
  fs.writeFileSync(file, toml);
  // startServer joins the path to the repository root.
  return path.relative(repoRoot, file);
}

/** POSTs `body` to the flow as Switchboard would, signed with `secret`. */
async function postEvent(body, { secret = SECRET, timestamp = Math.floor(Date.now() / 1000), signature } = {}) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const sig = signature ?? `sha256=${createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex')}`;
  const res = await fetch(`${nodeRed.base}/switchboard`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Switchboard-Timestamp': String(timestamp),
      'X-Switchboard-Signature': sig,
    },
    body: raw,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

before(async () => {
  if (!fs.existsSync(redJs)) {
    throw new Error(`Node-RED is not installed: ${redJs} is missing; run \`npm ci\` in examples/node-red`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-node-red-'));
  const nodeRedPort = await freePort();
  server = await startServer({ config: writeConfig(nodeRedPort) });
  nodeRed = await startNodeRed(nodeRedPort, server.apiUrl);
});

after(async () => {
  for (const c of clients) c.disconnect();
  for (const r of raws) r.close();
  if (server) await server.stop();
  if (nodeRed) await nodeRed.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** On failure, what both processes logged. */
function logs() {
  return `\n--- switchboard stderr:\n${server?.stderr() ?? ''}\n--- node-red:\n${nodeRed?.log() ?? ''}`;
}

async function rawClient() {
  const r = new RawClient(server.url.replace('/connection/websocket', '/ws'));
  raws.push(r);
  await r.open();
  return r;
}

async function workflowSubscriber() {
  const c = newClient(server);
  clients.push(c);
  await connect(c);
  const { sub } = await subscribe(c, 'workflow');
  const got = [];
  sub.on('publication', (ctx) => { got.push(ctx.data); sub.emit('collected', got.length); });
  return { sub, got };
}

const sample = (message) => ({
  id: `test-${Math.random().toString(16).slice(2)}`,
  event: 'message',
  connection: { id: 'not-a-connection', endpoint: '/ws', remote_addr: '127.0.0.1:1', connected_at: new Date().toISOString() },
  message,
  message_type: 'json',
  reply_to: 'not-a-handle',
  timestamp: new Date().toISOString(),
});

test('node-red: a signed event is answered with the reply; wrong, missing or stale signatures get 401', async () => {
  const ok = await postEvent(sample({ text: 'direct ünïcödé  ' }));
  assert.equal(ok.status, 200, ok.text);
  assert.deepEqual(ok.json, { reply: { echo: { text: 'direct ünïcödé  ' }, from: 'node-red' } });

  const wrong = await postEvent(sample({ text: 'x' }), { secret: 'not-the-secret' });
  assert.equal(wrong.status, 401, wrong.text);
  const garbage = await postEvent(sample({ text: 'x' }), { signature: 'sha256=00' });
  assert.equal(garbage.status, 401, garbage.text);
  const stale = await postEvent(sample({ text: 'x' }), { timestamp: Math.floor(Date.now() / 1000) - 3600 });
  assert.equal(stale.status, 401, stale.text);
  const unsigned = await fetch(`${nodeRed.base}/switchboard`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(sample('x')),
    signal: AbortSignal.timeout(10_000),
  });
  assert.equal(unsigned.status, 401);

  const other = await postEvent({ ...sample(undefined), event: 'connect' });
  assert.equal(other.status, 200, other.text);
  assert.deepEqual(other.json, {});
});

test('node-red: a raw client gets the flow\'s reply and a channels client gets the publication on workflow', { timeout: 60_000 }, async () => {
  const { sub, got } = await workflowSubscriber();
  const r = await rawClient();
  r.send({ text: 'hello' });
  const reply = await r.next(() => true, 'the flow\'s reply to {"text":"hello"}').catch((e) => {
    throw new Error(e.message + logs());
  });
  assert.deepEqual(reply, { echo: { text: 'hello' }, from: 'node-red' });

  const hello = () => got.find((d) => d.message?.text === 'hello');
  await waitUntil(sub, 'collected', () => hello(), 'the publication of "hello" on workflow').catch((e) => {
    throw new Error(`${e.message}; got ${JSON.stringify(got)}${logs()}`);
  });
  const { result } = await api(server, 'connections', { endpoint: '/ws' });
  assert.deepEqual(result.connections.map((c) => c.id), [hello().from], 'from is the raw connection\'s id');
  r.close();
});

test('node-red: 20 messages from one connection are answered in order, and all 20 are published', { timeout: 90_000 }, async () => {
  const { sub, got } = await workflowSubscriber();
  const r = await rawClient();
  const N = 20;
  for (let i = 1; i <= N; i++) r.send({ text: `m${i}`, n: i });
  const replies = [];
  for (let i = 1; i <= N; i++) {
    replies.push(await r.next(() => true, `reply ${i} of ${N}`).catch((e) => {
      throw new Error(`${e.message}; got ${JSON.stringify(replies)}${logs()}`);
    }));
  }
  assert.deepEqual(replies, Array.from({ length: N }, (_, i) => ({ echo: { text: `m${i + 1}`, n: i + 1 }, from: 'node-red' })));

  const mine = () => got.filter((d) => typeof d.message?.n === 'number');
  await waitUntil(sub, 'collected', () => mine().length >= N, `${N} publications on workflow`).catch((e) => {
    throw new Error(`${e.message}; got ${JSON.stringify(got)}${logs()}`);
  });
  // The flow's publish calls run concurrently, so only the set is checked.
  assert.deepEqual(mine().map((d) => d.message.n).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i + 1));
  assert.equal(new Set(mine().map((d) => d.from)).size, 1, 'one sender');
  r.close();
});
