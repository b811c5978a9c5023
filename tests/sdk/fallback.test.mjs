// The centrifuge SDK's fallback transports (`http_stream`, `sse`) against the
// real binary: the same hub semantics as WebSocket (publish, presence,
// history, recovery), the emulation endpoint's answers, and a POST that
// reaches the session through another node (Redis control bus).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { Centrifuge } from 'centrifuge';
import { EventSource } from 'eventsource';
import {
  startServer, startRedis, newClient, connect, subscribe, waitEvent, waitUntil,
  api, withTimeout, TIMEOUT_MS,
} from './helpers.mjs';

let server;
const clients = [];

before(async () => {
  server = await startServer();
});

after(async () => {
  for (const c of clients) c.disconnect();
  await server?.stop();
});

/** A client on one fallback transport; `emulation` defaults to the server's. */
function fallbackClient(srv, transport, { emulation, ...options } = {}) {
  const paths = { http_stream: '/connection/http_stream', sse: '/connection/sse' };
  const client = new Centrifuge([{ transport, endpoint: `${srv.base}${paths[transport]}` }], {
    eventsource: EventSource,
    emulationEndpoint: emulation ?? `${srv.base}/emulation`,
    minReconnectDelay: 100,
    maxReconnectDelay: 500,
    timeout: 5000,
    ...options,
  });
  clients.push(client);
  return client;
}

for (const transport of ['http_stream', 'sse']) {
  test(`${transport}: connect, publish both ways with a WebSocket client, presence and history`, async () => {
    const channel = `chat:${transport}-basics`;
    const fallback = fallbackClient(server, transport);
    const ctx = await connect(fallback);
    assert.equal(ctx.transport, transport);

    const ws = newClient(server);
    clients.push(ws);
    await connect(ws);
    const { sub: wsSub } = await subscribe(ws, channel);
    const { sub } = await subscribe(fallback, channel);

    // From the fallback client (its publish goes by POST) to the WebSocket one.
    const atWs = waitEvent(wsSub, 'publication', (p) => p.data.from === transport);
    await sub.publish({ from: transport, n: 1 });
    assert.deepEqual((await atWs).data, { from: transport, n: 1 });

    // From the WebSocket client down the stream.
    const atFallback = waitEvent(sub, 'publication', (p) => p.data.from === 'ws');
    await wsSub.publish({ from: 'ws' });
    assert.deepEqual((await atFallback).data, { from: 'ws' });

    const presence = await sub.presence();
    assert.equal(Object.keys(presence.clients).length, 2);
    assert.ok(presence.clients[ctx.client], 'the fallback client is present');

    const history = await sub.history({ limit: 10 });
    assert.deepEqual(history.publications.map((p) => p.data.from), [transport, 'ws']);

    // Server API send reaches it as a message push.
    const message = waitEvent(fallback, 'message');
    const sent = await api(server, 'send', { connection: ctx.client, data: { hi: 1 } });
    assert.equal(sent.result.delivered, 1);
    assert.deepEqual((await message).data, { hi: 1 });
    fallback.disconnect();
    ws.disconnect();
  });

  test(`${transport}: an API disconnect reaches the client as a disconnect push with its code`, async () => {
    const fallback = fallbackClient(server, transport);
    const ctx = await connect(fallback);
    const disconnected = waitEvent(fallback, 'disconnected');
    await api(server, 'disconnect', { client: ctx.client, disconnect: { code: 4501, reason: 'go away' } });
    const reason = await disconnected;
    assert.equal(reason.code, 4501, 'a 45xx code tells the SDK not to reconnect');
    assert.equal(reason.reason, 'go away');
  });

  test(`${transport}: 200 publications arrive in order on one stream`, async () => {
    const channel = `chat:${transport}-order`;
    const fallback = fallbackClient(server, transport);
    await connect(fallback);
    const { sub } = await subscribe(fallback, channel);
    const got = [];
    sub.on('publication', (p) => got.push(p.data.i));
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      await api(server, 'publish', { channel, data: { i } });
    }
    await waitUntil(sub, 'publication', () => got.length === 200, 'all 200 publications');
    assert.deepEqual(got, [...Array(200).keys()]);
    const ms = performance.now() - started;
    console.log(`# ${transport}: 200 publications (one API call each) delivered in ${ms.toFixed(0)} ms`);
    fallback.disconnect();
  });
}

/** An HS256 connection token signed with examples/channels.toml's secret. */
function tokenFor(sub, secret = 'change-me-hs256-secret-0123456789') {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub, exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

test('sse: a connection token names the user; a forged one ends the session for good', async () => {
  const alice = fallbackClient(server, 'sse', { token: tokenFor('alice') });
  await connect(alice);
  const { sub } = await subscribe(alice, 'chat:tokens');
  const presence = await sub.presence();
  assert.deepEqual(Object.values(presence.clients).map((c) => c.user), ['alice']);

  const forged = fallbackClient(server, 'http_stream', { token: tokenFor('mallory', 'not-the-secret-0123456789abcdef') });
  const disconnected = waitEvent(forged, 'disconnected');
  forged.connect();
  assert.equal((await disconnected).code, 3500, 'invalid token: the SDK does not reconnect');
  alice.disconnect();
});

test('pings go down the stream and pongs come back by POST: a session outlives several pings', async () => {
  const env = { SWITCHBOARD_CHANNELS__PING_INTERVAL_MS: '1000', SWITCHBOARD_CHANNELS__PONG_TIMEOUT_MS: '500' };
  const pinged = await startServer({ env });
  try {
    for (const transport of ['sse', 'http_stream']) {
      const c = fallbackClient(pinged, transport);
      const first = await connect(c);
      let left = null;
      c.on('connecting', (ctx) => { left ??= ctx; });
      // Three pings; without the pongs the server would close with 3012 "no pong".
      await new Promise((r) => setTimeout(r, 3500));
      assert.equal(left, null, `${transport}: the session was never dropped`);
      assert.equal(c.state, 'connected');
      const presence = await subscribe(c, 'chat:pings').then(({ sub }) => sub.presence());
      assert.ok(presence.clients[first.client], `${transport}: still the first connection`);
      c.disconnect();
    }
  } finally {
    await pinged.stop();
  }
});

test('emulation endpoint: bad requests get clear statuses, and a too large command only that command', async () => {
  const post = (body, headers = { 'Content-Type': 'application/json' }) =>
    fetch(`${server.base}/emulation`, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });

  let res = await post('not json');
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /session/);

  res = await post(JSON.stringify({ session: 'nope', node: '', data: '{}' }));
  assert.equal(res.status, 404);
  assert.match((await res.json()).error.message, /no such session/);

  res = await post('x', { 'Content-Type': 'application/octet-stream' });
  assert.equal(res.status, 415);

  res = await fetch(`${server.base}/emulation`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(res.status, 405);

  // A real session: an oversized command is refused with 413; the session lives on.
  const fallback = fallbackClient(server, 'http_stream');
  const ctx = await connect(fallback);
  const big = 'x'.repeat(1024 * 1024 + 1);
  const session = fallback._session;
  const node = fallback._node;
  assert.ok(session && node, 'the connect reply named the session and node');
  res = await post(JSON.stringify({ session, node, data: big }));
  assert.equal(res.status, 413);
  const { sub } = await subscribe(fallback, 'chat:after-413');
  assert.equal(sub.state, 'subscribed');
  void ctx;
  fallback.disconnect();
});

test('http_stream: a connect request without a valid command ends with a bad-request disconnect', async () => {
  const res = await fetch(`${server.base}/connection/http_stream`, {
    method: 'POST', body: 'garbage', signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  assert.equal(res.status, 200);
  const text = await withTimeout(res.text(), 'the stream to end');
  assert.deepEqual(JSON.parse(text.trim()), { push: { disconnect: { code: 3501, reason: 'bad request' } } });

  const sse = await fetch(`${server.base}/connection/sse`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  assert.equal(sse.status, 400, 'SSE without cf_connect');
});

test('redis: a POST to another node reaches the session, and a stream recovers what it missed while its node restarted', async () => {
  const redis = await startRedis();
  const env = { SWITCHBOARD_BROKER__KIND: 'redis', SWITCHBOARD_BROKER__URL: redis.url };
  let a = await startServer({ env });
  const b = await startServer({ env });
  try {
    const channel = 'chat:across-nodes';
    // The stream is on node A; every command is posted to node B.
    const fallback = fallbackClient(a, 'sse', { emulation: `${b.base}/emulation` });
    await connect(fallback);
    const got = [];
    const { sub } = await subscribe(fallback, channel, { recoverable: true });
    sub.on('publication', (p) => got.push(p.data.n));
    await sub.publish({ n: 0 });
    await waitUntil(sub, 'publication', () => got.length === 1, 'own publication through node B');
    const presence = await sub.presence();
    assert.equal(Object.keys(presence.clients).length, 1);
    // A session of the right node but the wrong id, and a node nobody runs.
    for (const node of [fallback._node, 'no-such-node']) {
      const res = await fetch(`${b.base}/emulation`, {
        method: 'POST', body: JSON.stringify({ session: 'nope', node, data: '{}' }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      assert.equal(res.status, 404, node);
    }

    // Node A restarts; meanwhile node B publishes what the client misses.
    const port = a.port;
    const disconnected = waitEvent(fallback, 'connecting');
    await a.stop();
    await disconnected;
    for (let n = 1; n <= 5; n++) await api(b, 'publish', { channel, data: { n } });
    a = await startServer({ env, port });
    await withTimeout(waitUntil(sub, 'publication', () => got.length === 6, 'recovered publications', TIMEOUT_MS * 2), 'recovery');
    assert.deepEqual(got, [0, 1, 2, 3, 4, 5], 'missed publications in order, none twice');
  } finally {
    await a.stop();
    await b.stop();
    await redis.stop();
  }
});
