// The real centrifuge-js SDK against examples/auth-hs256.toml (a fixed
// name): the handshake token in the URL, the SDK's own token refresh
// (getToken) before expiry, and subscription tokens for `private:`
// channels. Every wait is on an event, bounded.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import { startServer, api, connect, subscribe, waitEvent } from './helpers.mjs';

const SECRET = 'change-me-hs256-secret-0123456789';
let server;
const clients = [];

before(async () => { server = await startServer({ config: 'examples/auth-hs256.toml' }); });
after(async () => {
  for (const c of clients) c.disconnect();
  if (server) await server.stop();
});

function hs256(claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  const sig = createHmac('sha256', SECRET).update(body).digest('base64url');
  return `${body}.${sig}`;
}

const now = () => Math.floor(Date.now() / 1000);
const tokenFor = (sub, ttl = 600, extra = {}) => hs256({ sub, exp: now() + ttl, ...extra });

/** A client whose handshake carries `handshakeToken` in the query. */
function client(handshakeToken, options = {}) {
  const c = new Centrifuge(`${server.url}?token=${handshakeToken}`, {
    websocket: WebSocket, minReconnectDelay: 100, maxReconnectDelay: 500, timeout: 5000, ...options,
  });
  clients.push(c);
  return c;
}

test('js auth: a handshake without a token gets 401 before the upgrade', async () => {
  const ws = new WebSocket(server.url);
  ws.on('error', () => {});
  const [, res] = await once(ws, 'unexpected-response');
  assert.equal(res.statusCode, 401);
  res.resume();
});

test('js auth: with ?token= the SDK connects as the token user', async () => {
  const c = client(tokenFor('alice'));
  const ctx = await connect(c);
  const { result } = await api(server, 'connections', {});
  const mine = result.connections.find((conn) => conn.id === ctx.client);
  assert.equal(mine?.user, 'alice', JSON.stringify(result));
});

test('js auth: the SDK refreshes an expiring token with getToken and stays connected past exp', async () => {
  let refreshed = 0;
  const c = client(tokenFor('bob'), {
    token: tokenFor('bob', 2),
    getToken: async () => { refreshed += 1; return tokenFor('bob', 600); },
  });
  const ctx = await connect(c);
  assert.equal(ctx.transport, 'websocket');
  const disconnected = [];
  c.on('disconnected', (d) => disconnected.push(d));
  // Past exp (2 s): the SDK asked for a new token and the server took it.
  await new Promise((r) => setTimeout(r, 4000));
  assert.ok(refreshed >= 1, 'getToken was called');
  assert.equal(c.state, 'connected', JSON.stringify(disconnected));
  assert.deepEqual(disconnected, []);
});

test('js auth: a private channel needs a subscription token from getToken', async () => {
  const c = client(tokenFor('carol'));
  await connect(c);
  // Without a token: error 103, which the SDK reports as unsubscribed.
  const refused = c.newSubscription('private:room');
  const unsubscribed = waitEvent(refused, 'unsubscribed');
  refused.subscribe();
  const ctx = await unsubscribed;
  assert.equal(ctx.code, 103, JSON.stringify(ctx));
  c.removeSubscription(refused);

  const { ctx: subscribed } = await subscribe(c, 'private:room', {
    getToken: async (sctx) => hs256({ sub: 'carol', channel: sctx.channel, exp: now() + 600 }),
  });
  assert.equal(subscribed.channel, 'private:room');
});
