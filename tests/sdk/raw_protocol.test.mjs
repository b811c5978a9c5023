// Client protocol v2 (JSON) spoken by hand with `ws`, for what the SDK
// cannot be made to send: a recovery from a wrong epoch, a duplicate
// subscribe, and malformed first frames. Same server setup as the SDK tests.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, RawClient } from './helpers.mjs';

let server;
let raws = [];

before(async () => { server = await startServer(); });
after(async () => { if (server) await server.stop(); });
afterEach(() => { for (const r of raws) r.close(); raws = []; });

async function raw() {
  const r = new RawClient(server.url);
  raws.push(r);
  await r.open();
  return r;
}

async function connected() {
  const r = await raw();
  r.send({ id: 1, connect: {} });
  const reply = await r.reply(1);
  assert.ok(reply.connect, `connect reply: ${JSON.stringify(reply)}`);
  return { r, reply };
}

test('raw: connect reply has a client id, ping 25 s and pong expected', async () => {
  const { reply } = await connected();
  assert.ok(reply.connect.client, JSON.stringify(reply));
  assert.equal(reply.connect.ping, 25, JSON.stringify(reply));
  assert.equal(reply.connect.pong, true, JSON.stringify(reply));
});

test('raw: subscribe with recover from a wrong epoch → was_recovering true, not recovered, the real epoch', async () => {
  const { r } = await connected();
  r.send({ id: 2, subscribe: { channel: 'chat:x', recover: true, offset: 5, epoch: 'wrong' } });
  const reply = await r.reply(2);
  assert.ok(reply.subscribe, JSON.stringify(reply));
  const s = reply.subscribe;
  assert.equal(s.was_recovering, true, JSON.stringify(reply));
  assert.notEqual(s.recovered, true, JSON.stringify(reply));
  assert.equal(s.recoverable, true, JSON.stringify(reply));
  assert.ok(s.epoch && s.epoch !== 'wrong', `epoch: ${JSON.stringify(reply)}`);
});

test('raw: subscribe with recover from the right epoch → recovered true with the missed publications', async () => {
  const { r } = await connected();
  r.send({ id: 2, subscribe: { channel: 'chat:raw-recover' } });
  const first = (await r.reply(2)).subscribe;
  assert.ok(first?.epoch, JSON.stringify(first));
  const start = first.offset ?? 0;
  for (let i = 0; i < 3; i++) {
    r.send({ id: 10 + i, publish: { channel: 'chat:raw-recover', data: { n: i } } });
    const rep = await r.reply(10 + i);
    assert.ok(!rep.error, JSON.stringify(rep));
  }
  r.send({ id: 20, unsubscribe: { channel: 'chat:raw-recover' } });
  await r.reply(20);
  r.send({ id: 21, subscribe: { channel: 'chat:raw-recover', recover: true, offset: start + 1, epoch: first.epoch } });
  const again = (await r.reply(21)).subscribe;
  assert.equal(again?.was_recovering, true, JSON.stringify(again));
  assert.equal(again.recovered, true, JSON.stringify(again));
  assert.deepEqual(again.publications.map((p) => p.offset), [start + 2, start + 3], JSON.stringify(again));
  assert.equal(again.offset, start + 3);
});

test('raw: subscribing twice to the same channel → error 105', async () => {
  const { r } = await connected();
  r.send({ id: 2, subscribe: { channel: 'chat:twice' } });
  assert.ok((await r.reply(2)).subscribe);
  r.send({ id: 3, subscribe: { channel: 'chat:twice' } });
  const reply = await r.reply(3);
  assert.equal(reply.error?.code, 105, JSON.stringify(reply));
});

test('raw: history on news (no history) → 108, presence → 108, unknown namespace → 102', async () => {
  const { r } = await connected();
  r.send({ id: 2, history: { channel: 'news', limit: -1 } });
  assert.equal((await r.reply(2)).error?.code, 108);
  r.send({ id: 3, presence: { channel: 'news' } });
  assert.equal((await r.reply(3)).error?.code, 108);
  r.send({ id: 4, subscribe: { channel: 'nope:x' } });
  assert.equal((await r.reply(4)).error?.code, 102);
});

test('raw: a first command that is not connect → close 3501', async () => {
  const r = await raw();
  r.send({ id: 1, subscribe: { channel: 'chat:x' } });
  const closed = await r.waitClose();
  assert.equal(closed.code, 3501, JSON.stringify(closed));
});

test('raw: garbage JSON → close 3501', async () => {
  const r = await raw();
  r.send('{this is not json');
  const closed = await r.waitClose();
  assert.equal(closed.code, 3501, JSON.stringify(closed));
});

test('raw: garbage JSON after connect → close 3501', async () => {
  const { r } = await connected();
  r.send('{"id": 2, "subscribe": ');
  const closed = await r.waitClose();
  assert.equal(closed.code, 3501, JSON.stringify(closed));
});

test('raw: a binary frame (protobuf) → close 3506', async () => {
  const r = await raw();
  r.ws.send(Buffer.from([0x0a, 0x02, 0x08, 0x01]), { binary: true });
  const closed = await r.waitClose();
  assert.equal(closed.code, 3506, JSON.stringify(closed));
});
