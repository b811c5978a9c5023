// Shared helpers of the SDK tests: start the real switchboard binary on a
// free port with examples/channels.toml, wait for events with bounded
// timeouts, call the server API, and speak the JSON protocol by hand.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const API_KEY = 'change-me-api-key';
export const TIMEOUT_MS = 10_000;

export function binaryPath() {
  return process.env.SB_TEST_BIN
    ? path.resolve(process.env.SB_TEST_BIN)
    : path.resolve(here, '../../target/release/switchboard');
}

/**
 * The environment for the server, without SWITCHBOARD_* variables: the server
 * reads every SWITCHBOARD_<KEY> as a config key, and the tests run on
 * examples/channels.toml exactly, whatever the shell has set.
 */
function serverEnv() {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith('SWITCHBOARD_')) delete env[name];
  return env;
}

/** A free TCP port on 127.0.0.1 (bound, then released). */
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

function portAccepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => { sock.destroy(); resolve(false); });
  });
}

/**
 * Starts switchboard on `config` (default examples/channels.toml), on `port`
 * (default: a free one), with extra `env` (e.g. SWITCHBOARD_BROKER__KIND);
 * returns {port, pid, url, base, apiUrl, stop(), stderr()}.
 */
export async function startServer({ config = 'examples/channels.toml', port, env = {} } = {}) {
  port ??= await freePort();
  const child = spawn(binaryPath(), [
    '--config', path.resolve(repoRoot, config),
    '--bind', `127.0.0.1:${port}`,
  ], { cwd: repoRoot, env: { ...serverEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  let exited = false;
  child.once('exit', () => { exited = true; });
  const stop = async () => {
    if (exited) return;
    const done = once(child, 'exit');
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(t);
  };
  try {
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      if (exited) throw new Error(`switchboard exited before listening:\n${stderr}`);
      if (await portAccepts(port)) break;
      if (Date.now() > deadline) throw new Error(`switchboard did not listen on ${port}:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    port,
    pid: child.pid,
    url: `ws://127.0.0.1:${port}/connection/websocket`,
    base: `http://127.0.0.1:${port}`,
    apiUrl: `http://127.0.0.1:${port}/api`,
    stop,
    stderr: () => stderr,
  };
}

/** POSTs a server API call and returns the parsed JSON answer. */
export async function api(server, method, body) {
  const res = await fetch(`${server.apiUrl}/${method}`, {
    method: 'POST',
    headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`api ${method}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** Resolves with the first `event` emitted by `emitter` that passes `filter`. */
export function waitEvent(emitter, event, filter = () => true, ms = TIMEOUT_MS) {
  return new Promise((resolve, reject) => {
    const handler = (ctx) => {
      if (!filter(ctx)) return;
      clearTimeout(timer);
      emitter.removeListener(event, handler);
      resolve(ctx);
    };
    const timer = setTimeout(() => {
      emitter.removeListener(event, handler);
      reject(new Error(`timed out after ${ms} ms waiting for '${event}'`));
    }, ms);
    emitter.on(event, handler);
  });
}

/** Resolves when `cond()` is true, checked each time `emitter` emits `event`. */
export function waitUntil(emitter, event, cond, what, ms = TIMEOUT_MS) {
  if (cond()) return Promise.resolve();
  return waitEvent(emitter, event, () => cond(), ms).catch((e) => {
    throw new Error(`${e.message} (${what})`);
  });
}

/** A Centrifuge client with the `ws` WebSocket; tracked so `closeAll` ends it. */
export function newClient(server, options = {}) {
  return new Centrifuge(server.url, {
    websocket: WebSocket,
    minReconnectDelay: 100,
    maxReconnectDelay: 500,
    timeout: 5000,
    ...options,
  });
}

/** Connects a client and resolves with the `connected` context. */
export async function connect(client) {
  const connected = waitEvent(client, 'connected');
  client.connect();
  return connected;
}

/** Creates, subscribes and waits for `subscribed`; returns {sub, ctx}. */
export async function subscribe(client, channel, options = {}) {
  const sub = client.newSubscription(channel, options);
  const subscribed = waitEvent(sub, 'subscribed');
  sub.subscribe();
  return { sub, ctx: await subscribed };
}

/** A raw WebSocket client speaking the JSON protocol by hand. */
export class RawClient {
  constructor(url) {
    this.ws = new WebSocket(url);
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    this.closeWaiters = [];
    this.ws.on('message', (data, isBinary) => {
      // One frame may carry several newline-separated replies.
      for (const line of data.toString().split('\n')) {
        if (!line.trim()) continue;
        const msg = JSON.parse(line);
        this.frames.push(msg);
        this._wake();
      }
      void isBinary;
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters) w();
      this._wake();
    });
    this.ws.on('error', () => {});
  }

  async open() {
    if (this.ws.readyState === WebSocket.OPEN) return;
    await withTimeout(once(this.ws, 'open'), 'raw websocket open');
  }

  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  _wake() { for (const w of this.waiters.splice(0)) w(); }

  /** Resolves with the first received message passing `pred` (consumed). */
  async next(pred, what = 'reply', ms = TIMEOUT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.closed) throw new Error(`connection closed (${JSON.stringify(this.closed)}) before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; received ${JSON.stringify(this.frames)}`);
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  reply(id) { return this.next((m) => m.id === id, `reply to command ${id}`); }

  /** Resolves with {code, reason} of the close frame the server sent. */
  async waitClose(ms = TIMEOUT_MS) {
    if (this.closed) return this.closed;
    await withTimeout(new Promise((r) => this.closeWaiters.push(r)), 'close', ms);
    return this.closed;
  }

  close() { try { this.ws.terminate(); } catch { /* already closed */ } }
}

export async function withTimeout(promise, what, ms = TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A real redis-server on a free port, without persistence; returns
 * {url, stop()}.
 */
export async function startRedis() {
  const port = await freePort();
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
  ], { stdio: 'ignore' });
  let failed = null;
  child.once('error', (e) => { failed = e; });
  const deadline = Date.now() + TIMEOUT_MS;
  while (!(await portAccepts(port))) {
    if (failed) throw new Error(`redis-server could not start (apt-get install redis-server): ${failed.message}`);
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      const done = once(child, 'exit');
      child.kill('SIGKILL');
      await done;
    },
  };
}
