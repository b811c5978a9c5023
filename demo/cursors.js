// Cursors: the `cursors:<board>` channel (presence and join/leave, no
// history). Each page publishes `{type: 'cursorMoved', name, color, x, y}`
// (x, y from 0 to 1) at most every 40 ms and draws everyone else's cursor.
'use strict';

(function () {
  const { el, byTestId } = Demo;

  const THROTTLE_MS = 40;
  const LOG_LINES = 50;

  const boardName = Demo.param('board', 'main');
  const myName = Demo.param('name', Demo.randomName()).slice(0, 40);
  const myColor = Demo.colorFor(myName);
  const channel = 'cursors:' + boardName;

  const board = byTestId('board');
  const log = byTestId('log');
  const count = byTestId('count');

  const cursors = new Map();   // client id (or name, without client info) -> element
  const names = new Map();     // client id -> name, learned from publications
  let client = null;
  let sub = null;

  byTestId('me').textContent = myName;
  byTestId('board-name').textContent = boardName;
  byTestId('my-color').style.background = myColor;
  const keep = Demo.param('transports', null);
  byTestId('another-tab').href = '/demo/cursors.html?board=' + encodeURIComponent(boardName)
    + (keep === null ? '' : '&transports=' + encodeURIComponent(keep));

  // ---- publishing ----------------------------------------------------------

  function clamp01(v) {
    const n = Number(v);
    return Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
  }

  /** Publishes a cursorMoved now (x, y from 0 to 1). */
  function publishMove(x, y) {
    const message = { type: 'cursorMoved', name: myName, color: myColor, x: clamp01(x), y: clamp01(y) };
    return sub.publish(message).catch((err) => {
      logLine('error: ' + err.message, 'error');
      throw err;
    });
  }

  // At most one publication per THROTTLE_MS; the latest position is sent
  // when the window ends, so the last move is never lost.
  let lastSent = 0;
  let pending = null;
  let timer = null;

  function flush() {
    timer = null;
    if (!pending) return;
    const { x, y } = pending;
    pending = null;
    lastSent = Date.now();
    publishMove(x, y).catch(() => {});
  }

  board.addEventListener('pointermove', (event) => {
    if (!sub || sub.state !== 'subscribed') return; // moves made while offline are not worth queueing
    const rect = board.getBoundingClientRect();
    pending = { x: (event.clientX - rect.left) / rect.width, y: (event.clientY - rect.top) / rect.height };
    const wait = THROTTLE_MS - (Date.now() - lastSent);
    if (wait <= 0) flush();
    else if (!timer) timer = setTimeout(flush, wait);
  });

  // ---- rendering -----------------------------------------------------------

  function logLine(text, kind) {
    log.append(el('li', { class: kind || '', 'data-testid': 'log-line' },
      el('span', { class: 'time' }, Demo.clock()), ' ', ...[].concat(text)));
    while (log.children.length > LOG_LINES) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  function cursorElement(name, color) {
    const arrow = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    arrow.setAttribute('viewBox', '0 0 16 20');
    arrow.setAttribute('width', '16');
    arrow.setAttribute('height', '20');
    const path = document.createElementNS('http://www.w3.org/2000/svg', 'path');
    path.setAttribute('d', 'M1 1 L1 16 L5 12 L8 19 L11 17.6 L8 11 L14 11 Z');
    path.setAttribute('fill', color);
    path.setAttribute('stroke', '#fff');
    path.setAttribute('stroke-width', '1.5');
    path.setAttribute('stroke-linejoin', 'round');
    arrow.append(path);
    return el('div', { class: 'cursor', 'data-testid': 'cursor', 'data-name': name },
      arrow, el('span', { class: 'cursor-label', style: { background: color } }, name));
  }

  function onPublication(ctx) {
    const data = ctx.data;
    if (!data || data.type !== 'cursorMoved') return;
    const clientId = ctx.info && ctx.info.client;
    if (clientId && clientId === (client && client.clientId)) return; // our own echo
    if (!clientId && data.name === myName) return;
    const name = typeof data.name === 'string' && data.name ? data.name : Demo.clientName(ctx.info, names);
    const color = typeof data.color === 'string' ? data.color : Demo.colorFor(name);
    if (clientId && names.get(clientId) !== name) {
      names.set(clientId, name);
      Demo.renameClient(clientId, name);
    }

    const key = clientId || 'name:' + name;
    let node = cursors.get(key);
    if (!node || node.dataset.name !== name) {
      if (node) node.remove();
      node = cursorElement(name, color);
      cursors.set(key, node);
      board.append(node);
    }
    node.style.left = (clamp01(data.x) * 100) + '%';
    node.style.top = (clamp01(data.y) * 100) + '%';
  }

  function removeCursor(clientId) {
    const node = cursors.get(clientId);
    if (node) node.remove();
    cursors.delete(clientId);
  }

  let presenceTimer = null;

  /** Reloads the presence count (coalescing bursts of join/leave). */
  function refreshPresence() {
    clearTimeout(presenceTimer);
    presenceTimer = setTimeout(async () => {
      try {
        const result = await sub.presence();
        const clients = result.clients || {};
        count.textContent = String(Object.keys(clients).length);
        // Cursors of clients that are no longer present go too.
        for (const key of Array.from(cursors.keys())) {
          if (!key.startsWith('name:') && !(key in clients)) removeCursor(key);
        }
      } catch (err) {
        logLine('presence failed: ' + err.message, 'error');
      }
    }, 50);
  }

  // For tests and scripts: publish a move without a pointer (waits until
  // the subscription exists; the SDK then waits until it is subscribed).
  let markStarted;
  const started = new Promise((resolve) => { markStarted = resolve; });
  globalThis.demo = {
    moveTo(x, y) {
      return started.then(() => {
        lastSent = Date.now();
        return publishMove(x, y);
      });
    },
  };

  Demo.start(async () => {
    const cfg = await Demo.loadConfig();
    client = Demo.channelsClient(cfg, myName);
    sub = client.newSubscription(channel);
    Demo.watchSubscription(sub);
    sub.on('subscribed', refreshPresence);
    sub.on('publication', onPublication);
    sub.on('join', (ctx) => {
      const who = ctx.info.client === client.clientId ? myName + ' (you)' : Demo.nameTag(ctx.info, names);
      logLine(['userJoined ', who], 'join');
      refreshPresence();
    });
    sub.on('leave', (ctx) => {
      logLine(['userLeft ', Demo.nameTag(ctx.info, names)], 'leave');
      removeCursor(ctx.info.client);
      refreshPresence();
    });
    sub.subscribe();
    client.connect();
    markStarted();
  });
})();
