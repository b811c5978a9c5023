// The real centrifuge-js SDK (npm `centrifuge`, with `ws`) against the real
// switchboard binary on examples/channels.toml. One server for this file;
// each test uses its own channels. Every wait is on an event, bounded.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
import {
  startServer, api, newClient, connect, subscribe, waitEvent, waitUntil,
} from './helpers.mjs';

let server;
let clients = [];

before(async () => { server = await startServer(); });
after(async () => { if (server) await server.stop(); });
afterEach(() => {
  for (const c of clients) c.disconnect();
  clients = [];
});

function client(options) {
  const c = newClient(server, options);
  clients.push(c);
  return c;
}

/** Collects publications of `sub` into an array, emitting 'collected'. */
function collect(sub) {
  const got = [];
  sub.on('publication', (ctx) => { got.push(ctx); sub.emit('collected', got.length); });
  return got;
}


/** An HS256 token signed with examples/channels.toml's secret. */
function hs256(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const sig = createHmac('sha256', 'change-me-hs256-secret-0123456789').update(body).digest('base64url');
  return `${body}.${sig}`;
}

test('js: connect, subscribe, publish 20 on chat:room, the other client receives all in order with offsets 1..20', async () => {
  const a = client();
  const b = client();
  const ca = await connect(a);
  const cb = await connect(b);
  assert.ok(ca.client && cb.client && ca.client !== cb.client, 'distinct client ids');
  const { sub: subA } = await subscribe(a, 'chat:room');
  const { sub: subB } = await subscribe(b, 'chat:room');
  const got = collect(subA);
  const N = 20;
  for (let i = 1; i <= N; i++) await subB.publish({ n: i, text: `message ${i}` });
  await waitUntil(subA, 'collected', () => got.length >= N, `${N} publications`);
  assert.deepEqual(got.map((p) => p.data.n), Array.from({ length: N }, (_, i) => i + 1));
  assert.deepEqual(got.map((p) => p.offset), Array.from({ length: N }, (_, i) => i + 1));
  for (const p of got) {
    assert.equal(p.channel, 'chat:room');
    assert.equal(p.info?.client, cb.client, 'publication info names the publisher');
  }
});

test('js: join/leave on chat:lobby: B sees A join and leave (unsubscribe, then disconnect)', async () => {
  const a = client();
  const b = client();
  const ca = await connect(a);
  await connect(b);
  const { sub: subB } = await subscribe(b, 'chat:lobby', { joinLeave: true });
  const joined = waitEvent(subB, 'join', (ctx) => ctx.info.client === ca.client);
  const { sub: subA } = await subscribe(a, 'chat:lobby');
  const join = await joined;
  assert.equal(join.channel, 'chat:lobby');
  assert.equal(join.info.user, '');

  const left = waitEvent(subB, 'leave', (ctx) => ctx.info.client === ca.client);
  subA.unsubscribe();
  const leave = await left;
  assert.equal(leave.channel, 'chat:lobby');

  // Again, leaving by closing the whole connection this time.
  const joined2 = waitEvent(subB, 'join', (ctx) => ctx.info.client === ca.client);
  subA.subscribe();
  await joined2;
  const left2 = waitEvent(subB, 'leave', (ctx) => ctx.info.client === ca.client);
  a.disconnect();
  await left2;
});

test('js: presence and presence stats with three connections on chat:presence', async () => {
  const cs = [client(), client(), client()];
  const ids = [];
  for (const c of cs) ids.push((await connect(c)).client);
  const subs = [];
  subs.push((await subscribe(cs[0], 'chat:presence', { joinLeave: true })).sub);
  for (const c of cs.slice(1)) subs.push((await subscribe(c, 'chat:presence')).sub);

  const presence = await subs[0].presence();
  assert.deepEqual(Object.keys(presence.clients).sort(), [...ids].sort());
  for (const [id, info] of Object.entries(presence.clients)) {
    assert.equal(info.client, id);
    assert.equal(info.user, '', 'anonymous user');
  }
  const stats = await subs[1].presenceStats();
  assert.deepEqual(stats, { numClients: 3, numUsers: 1 });

  // The third one leaves: once its leave is announced, presence no longer has it.
  const left = waitEvent(subs[0], 'leave', (ctx) => ctx.info.client === ids[2]);
  cs[2].disconnect();
  await left;
  const after = await subs[0].presence();
  assert.deepEqual(Object.keys(after.clients).sort(), [ids[0], ids[1]].sort());
  assert.deepEqual(await subs[0].presenceStats(), { numClients: 2, numUsers: 1 });
});

test('js: history on chat:history: all, limit 2, reverse, since a position, limit 0', async () => {
  const c = client();
  await connect(c);
  const { sub, ctx } = await subscribe(c, 'chat:history');
  assert.equal(ctx.recoverable, true, 'chat is recoverable');
  for (let i = 1; i <= 5; i++) await sub.publish({ n: i });

  const all = await sub.history({ limit: -1 });
  assert.deepEqual(all.publications.map((p) => p.data.n), [1, 2, 3, 4, 5]);
  assert.deepEqual(all.publications.map((p) => p.offset), [1, 2, 3, 4, 5]);
  assert.equal(all.offset, 5);
  assert.ok(all.epoch, 'history has an epoch');

  const two = await sub.history({ limit: 2 });
  assert.deepEqual(two.publications.map((p) => p.data.n), [1, 2]);
  assert.equal(two.offset, 5);

  const rev = await sub.history({ limit: -1, reverse: true });
  assert.deepEqual(rev.publications.map((p) => p.data.n), [5, 4, 3, 2, 1]);
  const rev2 = await sub.history({ limit: 2, reverse: true });
  assert.deepEqual(rev2.publications.map((p) => p.data.n), [5, 4]);

  const since = await sub.history({ limit: -1, since: { offset: 2, epoch: all.epoch } });
  assert.deepEqual(since.publications.map((p) => p.offset), [3, 4, 5]);
  const since1 = await sub.history({ limit: 1, since: { offset: 2, epoch: all.epoch } });
  assert.deepEqual(since1.publications.map((p) => p.offset), [3]);

  const position = await sub.history({ limit: 0 });
  assert.deepEqual(position.publications, [], 'limit 0 asks for the position only');
  assert.equal(position.offset, 5);
  assert.equal(position.epoch, all.epoch);
});

/**
 * A `ws` WebSocket whose new connections go to a path that does not exist
 * while `gate.open` is false: the SDK's reconnect attempts then fail as
 * transport errors, and it goes on retrying by itself until the gate opens.
 * This keeps a client away for as long as a test needs, without sleeps.
 */
function gatedWebSocket(gate) {
  return class GatedWebSocket extends WebSocket {
    constructor(url, protocols, options) {
      super(gate.open ? url : url.replace('/connection/websocket', '/gated-away'), protocols, options);
    }
  };
}

test('js: recovery after a forced disconnect (3011): exactly the 50 missed publications, then live ones', async () => {
  const gate = { open: true };
  const a = client({ websocket: gatedWebSocket(gate), minReconnectDelay: 50, maxReconnectDelay: 200 });
  const b = client();
  const ca = await connect(a);
  await connect(b);
  const { sub: subA, ctx: first } = await subscribe(a, 'chat:recover');
  assert.equal(first.recoverable, true);
  assert.equal(first.wasRecovering, false);
  const { sub: subB } = await subscribe(b, 'chat:recover');
  const got = collect(subA);

  for (let i = 1; i <= 3; i++) await subB.publish({ n: i });
  await waitUntil(subA, 'collected', () => got.length >= 3, '3 live publications');
  const noted = got[got.length - 1].offset;
  assert.equal(noted, 3);

  const subscribedEvents = [];
  subA.on('subscribed', (ctx) => subscribedEvents.push(ctx));
  gate.open = false;
  const connecting = waitEvent(a, 'connecting');
  const res = await api(server, 'disconnect', {
    client: ca.client, disconnect: { code: 3011, reason: 'force reconnect' },
  });
  assert.ok(!res.error, `disconnect api: ${JSON.stringify(res)}`);
  const away = await connecting;
  assert.equal(away.code, 3011, `connecting after force reconnect: ${JSON.stringify(away)}`);

  // A is away: B publishes 50.
  for (let i = 4; i <= 53; i++) await subB.publish({ n: i });
  assert.equal(got.length, 3, 'nothing reached A while it was away');

  const resubscribed = waitEvent(subA, 'subscribed');
  const reconnected = waitEvent(a, 'connected');
  gate.open = true;
  const ra = await reconnected;
  assert.notEqual(ra.client, ca.client, 'a new connection');
  const sctx = await resubscribed;
  assert.equal(sctx.wasRecovering, true, `subscribed: ${JSON.stringify(sctx)}`);
  assert.equal(sctx.recovered, true, `subscribed: ${JSON.stringify(sctx)}`);

  await waitUntil(subA, 'collected', () => got.length >= 53, '50 recovered publications');
  const recovered = got.slice(3);
  assert.deepEqual(recovered.map((p) => p.offset), Array.from({ length: 50 }, (_, i) => noted + 1 + i));
  assert.deepEqual(recovered.map((p) => p.data.n), Array.from({ length: 50 }, (_, i) => i + 4));

  // Live publications continue after the recovered ones.
  await subB.publish({ n: 54 });
  await subB.publish({ n: 55 });
  await waitUntil(subA, 'collected', () => got.length >= 55, 'live publications after recovery');
  assert.deepEqual(got.map((p) => p.offset), Array.from({ length: 55 }, (_, i) => i + 1), 'no duplicates, no gaps');
  assert.equal(subscribedEvents.length, 1, 'one resubscribe');
});

test('js: subscribe to an unknown namespace (nope:x) → 102: the SDK moves the subscription to unsubscribed with code 102', async () => {
  const c = client();
  await connect(c);
  const sub = c.newSubscription('nope:x');
  const unsubscribed = waitEvent(sub, 'unsubscribed');
  sub.subscribe();
  const u = await unsubscribed;
  assert.equal(u.code, 102, JSON.stringify(u));
  assert.equal(sub.state, 'unsubscribed');
});

test('js: publish where clients may not publish: news (default) and prices → 103', async () => {
  const c = client();
  await connect(c);
  await assert.rejects(c.publish('news', { x: 1 }), (e) => e.code === 103 || assert.fail(JSON.stringify(e)));
  const { sub } = await subscribe(c, 'prices:btc');
  await assert.rejects(sub.publish({ price: 1 }), (e) => e.code === 103 || assert.fail(JSON.stringify(e)));
});

test('js: history and presence on news (no history, no presence) → 108', async () => {
  const c = client();
  await connect(c);
  const { sub } = await subscribe(c, 'news');
  await assert.rejects(sub.history({ limit: -1 }), (e) => e.code === 108 || assert.fail(JSON.stringify(e)));
  await assert.rejects(sub.presence(), (e) => e.code === 108 || assert.fail(JSON.stringify(e)));
  await assert.rejects(sub.presenceStats(), (e) => e.code === 108 || assert.fail(JSON.stringify(e)));
});

test('js: the SDK refuses a second subscription to the same channel client-side', async () => {
  const c = client();
  await connect(c);
  c.newSubscription('chat:twice');
  assert.throws(() => c.newSubscription('chat:twice'), /already/i);
});

test('js: a forged token → close 3500 "invalid token": the SDK ends disconnected and does not reconnect', async () => {
  const c = client({ token: 'not-a-valid-token' });
  const states = [];
  c.on('state', (ctx) => states.push(ctx.newState));
  const disconnected = waitEvent(c, 'disconnected');
  c.connect();
  const d = await disconnected;
  // 3500-3999 is Centrifugo's "do not reconnect" range.
  assert.deepEqual([d.code, d.reason], [3500, 'invalid token'], JSON.stringify(d));
  assert.equal(c.state, 'disconnected');
  assert.deepEqual(states, ['connecting', 'disconnected'], 'no reconnect attempt');
});

test('js: an HS256 token (examples/channels.toml secret) names the user; presence shows it and its info', async () => {
  const token = hs256({ sub: 'alice', info: { name: 'Alice' }, exp: Math.floor(Date.now() / 1000) + 3600 });
  const c = client({ token });
  await connect(c);
  const sub = c.newSubscription('chat:users');
  const subscribed = waitEvent(sub, 'subscribed');
  sub.subscribe();
  await subscribed;
  const p = await sub.presence();
  const me = Object.values(p.clients);
  assert.equal(me.length, 1);
  assert.equal(me[0].user, 'alice');
  assert.deepEqual(me[0].connInfo, { name: 'Alice' });
});
