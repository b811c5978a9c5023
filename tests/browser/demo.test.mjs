// The demo pages and the fallback transports in a real browser: Debian's
// headless Chromium driven by playwright-core, against the real binary on
// examples/demo.toml (the raw endpoint moved to `/`, where seed 000's client
// connects). Every test writes a screenshot of its page to target/screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, startRedis, api, repoRoot, TIMEOUT_MS } from '../sdk/helpers.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
];
const SHOTS = path.join(repoRoot, 'target', 'screenshots');

let browser;
let server;
let config;
const redisToClean = [];

/** examples/demo.toml with the raw endpoint at `/` (seed 000's URL). */
function writeConfig(extra = '') {
  const text = fs.readFileSync(path.join(repoRoot, 'examples/demo.toml'), 'utf8')
    .replace('path = "/ws"\n', 'path = "/"\n');
  assert.match(text, /path = "\/"\n/, 'the raw endpoint moved to /');
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sb-browser-')), 'demo.toml');
  fs.writeFileSync(file, text + extra);
  return file;
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  config = writeConfig();
  server = await startServer({ config });
  // playwright-core starts Chromium with --headless and a new, empty profile
  // directory of its own (it refuses --user-data-dir in args).
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  for (const r of redisToClean) await r.stop();
});

/** A page of a fresh browser context; `noWebSocket` removes WebSocket first. */
async function open(srv, url, { noWebSocket = false } = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  if (noWebSocket) {
    await context.addInitScript(() => {
      delete window.WebSocket;
      window.WebSocket = undefined;
    });
  }
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT_MS);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  await page.goto(`${srv.base}${url}`);
  return page;
}

async function connected(page, transport) {
  await page.getByTestId('state').filter({ hasText: /^connected$/ }).waitFor();
  if (transport) {
    await page.getByTestId('transport').filter({ hasText: transport }).waitFor();
  }
}

async function say(page, text) {
  await page.getByTestId('input').fill(text);
  await page.getByTestId('send').click();
}

async function messages(page) {
  return page.getByTestId('message-text').allTextContents();
}

/** Waits until the page shows `count` messages; returns their texts. */
async function waitMessages(page, count) {
  await page.waitForFunction(
    (n) => document.querySelectorAll('[data-testid="message"]').length >= n,
    count,
  );
  return messages(page);
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

test('chat: two pages talk through the server and see each other in presence', async () => {
  const alice = await open(server, '/demo/chat.html?room=two&name=alice');
  const bob = await open(server, '/demo/chat.html?room=two&name=bob');
  await connected(alice, 'websocket');
  await connected(bob, 'websocket');
  await say(alice, 'hello bob');
  assert.deepEqual(await waitMessages(bob, 1), ['hello bob']);
  await say(bob, 'hi alice');
  assert.deepEqual(await waitMessages(alice, 2), ['hello bob', 'hi alice']);
  await alice.getByTestId('presence-count').filter({ hasText: /^2$/ }).waitFor();
  await shot(alice, 'chat');
  assert.deepEqual([...alice.errors, ...bob.errors], []);
  await alice.context().close();
  await bob.context().close();
});

for (const transport of ['sse', 'http_stream']) {
  test(`chat with WebSocket disabled: falls back to ${transport}, publishing included`, async () => {
    // WebSocket is listed first: the SDK finds it unavailable and falls back.
    const fallback = await open(server, `/demo/chat.html?room=fb-${transport}&name=blocked&transports=websocket,${transport}`, { noWebSocket: true });
    const ws = await open(server, `/demo/chat.html?room=fb-${transport}&name=open`);
    await connected(fallback, transport);
    await connected(ws, 'websocket');
    await say(fallback, `sent over ${transport}`);
    assert.deepEqual(await waitMessages(ws, 1), [`sent over ${transport}`]);
    await say(ws, 'back over websocket');
    assert.deepEqual(await waitMessages(fallback, 2), [`sent over ${transport}`, 'back over websocket']);
    await fallback.getByTestId('presence-count').filter({ hasText: /^2$/ }).waitFor();
    await shot(fallback, `chat-${transport}`);
    assert.deepEqual(fallback.errors, []);
    await fallback.context().close();
    await ws.context().close();
  });
}

test('chat: a page shows what it missed while its server restarted, in order, once', async () => {
  const redis = await startRedis();
  redisToClean.push(redis);
  const env = { SWITCHBOARD_BROKER__KIND: 'redis', SWITCHBOARD_BROKER__URL: redis.url };
  let nodeA = await startServer({ config, env });
  const nodeB = await startServer({ config, env });
  try {
    const page = await open(nodeA, '/demo/chat.html?room=restart&name=reader');
    await connected(page, 'websocket');
    await api(nodeB, 'publish', { channel: 'chat:restart', data: { name: 'api', text: 'before', id: 'm0' } });
    await waitMessages(page, 1);

    const port = nodeA.port;
    await nodeA.stop();
    await page.getByTestId('state').filter({ hasText: /^connecting$/ }).waitFor();
    for (let i = 1; i <= 3; i++) {
      await api(nodeB, 'publish', { channel: 'chat:restart', data: { name: 'api', text: `missed ${i}`, id: `m${i}` } });
    }
    nodeA = await startServer({ config, env, port });
    await connected(page, 'websocket');
    const shown = await waitMessages(page, 4);
    assert.deepEqual(shown, ['before', 'missed 1', 'missed 2', 'missed 3']);
    // Nothing arrives twice later either (a live publication after recovery).
    await api(nodeB, 'publish', { channel: 'chat:restart', data: { name: 'api', text: 'after', id: 'm4' } });
    assert.deepEqual(await waitMessages(page, 5), ['before', 'missed 1', 'missed 2', 'missed 3', 'after']);
    await shot(page, 'chat-recovered');
    await page.context().close();
  } finally {
    await nodeA.stop();
    await nodeB.stop();
  }
});

test('cursors: a cursor moved on one page appears on the other', async () => {
  const ann = await open(server, '/demo/cursors.html?board=t&name=ann');
  const ben = await open(server, '/demo/cursors.html?board=t&name=ben');
  await connected(ann);
  await connected(ben);
  await ben.getByTestId('count').filter({ hasText: /^2$/ }).waitFor();
  await ann.evaluate(() => window.demo.moveTo(0.5, 0.25));
  const cursor = ben.locator('[data-testid="cursor"][data-name="ann"]');
  await cursor.waitFor();
  const board = await ben.getByTestId('board').boundingBox();
  const box = await cursor.boundingBox();
  assert.ok(Math.abs(box.x - (board.x + board.width * 0.5)) < 30, `x ${box.x} in ${JSON.stringify(board)}`);
  assert.ok(Math.abs(box.y - (board.y + board.height * 0.25)) < 30, `y ${box.y} in ${JSON.stringify(board)}`);
  await ben.getByTestId('log-line').filter({ hasText: /userJoined/ }).first().waitFor();
  await ann.evaluate(() => window.demo.moveTo(0.2, 0.7));
  await ben.waitForFunction(() => {
    const c = document.querySelector('[data-testid="cursor"][data-name="ann"]');
    const b = document.querySelector('[data-testid="board"]').getBoundingClientRect();
    return c && Math.abs(c.getBoundingClientRect().x - (b.x + b.width * 0.2)) < 30;
  });
  await shot(ben, 'cursors');
  await ann.context().close();
  await ben.getByTestId('log-line').filter({ hasText: /userLeft/ }).first().waitFor();
  await cursor.waitFor({ state: 'detached' });
  await ben.context().close();
});

test('ticker: a page that opens later shows the last price at once', async () => {
  const feeder = await open(server, '/demo/ticker.html?symbol=TST');
  await connected(feeder);
  await feeder.evaluate(() => window.demo.publish(123.45));
  await feeder.getByTestId('price').filter({ hasText: '123.45' }).waitFor();
  const late = await open(server, '/demo/ticker.html?symbol=TST');
  await connected(late);
  await late.getByTestId('price').filter({ hasText: '123.45' }).waitFor();
  await feeder.evaluate(() => window.demo.publish(124));
  await late.getByTestId('price').filter({ hasText: '124.00' }).waitFor();
  await shot(late, 'ticker');
  await feeder.context().close();
  await late.context().close();
});

test("console: seed 000's client works as written, and the console shows what the sinks receive", async () => {
  const consolePage = await open(server, '/demo/console.html');
  await consolePage.getByTestId('sink-status').filter({ hasText: 'live' }).waitFor();

  // Seed 000's example, verbatim but for the port, in a page of its own.
  const seed = await open(server, '/demo/');
  const opened = seed.waitForEvent('console', (m) => m.text() === 'Connected to n8n WebSocket server');
  const received = seed.waitForEvent('console', (m) => m.text().startsWith('Received:'));
  await seed.evaluate((url) => {
    const ws = new WebSocket(url);

    ws.onopen = function() {
      console.log('Connected to n8n WebSocket server');

      // Send a message
      ws.send(JSON.stringify({
        type: 'user_action',
        action: 'button_click',
        data: { buttonId: 'submit', userId: '12345' }
      }));
    };

    ws.onmessage = function(event) {
      const message = JSON.parse(event.data);
      console.log('Received:', message);
    };

    ws.onclose = function(event) {
      console.log('Connection closed:', event.code, event.reason);
    };

    ws.onerror = function(error) {
      console.error('WebSocket error:', error);
    };
  }, `ws://127.0.0.1:${server.port}/`);
  await consolePage.locator('[data-testid="sink-event"][data-type="message"]')
    .filter({ hasText: 'button_click' }).first().waitFor();
  await opened;
  // The welcome message was parsed as JSON and logged as an object.
  const welcome = await received;
  assert.equal((await welcome.args()[1].jsonValue()).type, 'welcome');

  // The console's own raw client, over WebSocket.
  await consolePage.getByTestId('raw-mode').filter({ hasText: 'websocket' }).waitFor();
  await consolePage.getByTestId('raw-input').fill('{"type":"chat","text":"from the console"}');
  await consolePage.getByTestId('raw-send').click();
  await consolePage.locator('[data-testid="sink-event"][data-type="message"]')
    .filter({ hasText: 'from the console' }).first().waitFor();
  await shot(consolePage, 'console');
  await seed.context().close();
  await consolePage.context().close();
});

test('console with WebSocket disabled: raw SSE both ways, and the close event', async () => {
  const page = await open(server, '/demo/console.html', { noWebSocket: true });
  await page.getByTestId('raw-mode').filter({ hasText: 'sse' }).waitFor();
  await page.getByTestId('raw-status').filter({ hasText: 'open' }).waitFor();
  // The welcome message arrives down the stream.
  await page.getByTestId('raw-received').filter({ hasText: 'welcome' }).first().waitFor();
  await page.getByTestId('raw-input').fill('{"type":"chat","text":"posted over sse"}');
  await page.getByTestId('raw-send').click();
  const event = page.locator('[data-testid="sink-event"][data-type="message"]').filter({ hasText: 'posted over sse' }).first();
  await event.waitFor();
  // The server API reaches the SSE client by its connection id.
  const connection = (await event.getByTestId('sink-connection').textContent()).trim();
  assert.ok(connection, 'the sink event names the connection');
  await api(server, 'send', { connection, data: { type: 'note', text: 'sent by the server API' } });
  await page.getByTestId('raw-received').filter({ hasText: 'sent by the server API' }).waitFor();
  await api(server, 'disconnect', { connection, disconnect: { code: 4000, reason: 'bye' } });
  await page.getByTestId('raw-log').filter({ hasText: '4000' }).waitFor();
  await shot(page, 'console-sse');
  await page.context().close();
});
