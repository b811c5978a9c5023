// Chat: the `chat:<room>` channel with history, recovery, presence and
// join/leave. Messages are `{name, text, id}`; each is shown once, in
// publication order, whether it came from history, live or a recovery.
'use strict';

(function () {
  const { el, byTestId } = Demo;

  const room = Demo.param('room', 'lobby');
  const myName = Demo.param('name', Demo.randomName()).slice(0, 40);
  const channel = 'chat:' + room;

  const list = byTestId('messages');
  const presenceList = byTestId('presence');
  const presenceCount = byTestId('presence-count');
  const form = byTestId('composer');
  const input = byTestId('input');

  const shown = new Set();     // message ids already on the page
  const names = new Map();     // client id -> name, learned from publications
  let lastPresence = {};       // the latest presence result's clients
  let client = null;
  let sub = null;
  let epoch = null;            // the stream epoch the offsets on the page belong to
  let generation = 0;          // bumped when the epoch changes, so old offsets sort first

  byTestId('room').textContent = room;
  byTestId('me').textContent = myName;
  byTestId('another-tab').href = '/demo/chat.html?room=' + encodeURIComponent(room) + keepTransports();

  function keepTransports() {
    const t = Demo.param('transports', null);
    return t === null ? '' : '&transports=' + encodeURIComponent(t);
  }

  // ---- rendering -----------------------------------------------------------

  /** A system line (join, leave, recovery, errors) at the bottom of the list. */
  function systemLine(text, kind) {
    const stick = Demo.atBottom(list);
    list.append(el('div', {
      class: 'system' + (kind ? ' ' + kind : ''),
      'data-testid': kind === 'error' ? 'error-line' : 'system',
    }, el('span', { class: 'time' }, Demo.clock()), ' ', ...[].concat(text)));
    if (stick) list.scrollTop = list.scrollHeight;
  }

  /** Sort key of a message element: [generation, offset] (no offset sorts last). */
  function keyOf(node) {
    const offset = node.dataset.offset ? Number(node.dataset.offset) : Infinity;
    return [Number(node.dataset.gen), offset];
  }

  function before(a, b) {
    return a[0] !== b[0] ? a[0] < b[0] : a[1] < b[1];
  }

  /** Puts a message element in offset order among the messages already shown. */
  function place(node) {
    const key = keyOf(node);
    const later = Array.from(list.querySelectorAll('[data-testid="message"]'))
      .find((other) => before(key, keyOf(other)));
    if (later) list.insertBefore(node, later);
    else list.append(node);
  }

  /** Shows one publication (from history, live or recovered) unless already shown. */
  function addMessage(pub) {
    const data = pub.data;
    if (!data || typeof data !== 'object' || typeof data.text !== 'string') return;
    const offset = typeof pub.offset === 'number' && pub.offset > 0 ? pub.offset : null;
    const author = typeof data.name === 'string' && data.name ? data.name : Demo.clientName(pub.info, names);
    if (pub.info && pub.info.client && typeof data.name === 'string') learnName(pub.info.client, data.name);
    const id = typeof data.id === 'string' && data.id
      ? data.id
      : (offset !== null ? 'offset:' + epoch + ':' + offset : Demo.randomId());
    if (shown.has(id)) return;
    shown.add(id);

    const mine = author === myName;
    const color = Demo.colorFor(author);
    const node = el('div', {
      class: 'message' + (mine ? ' mine' : ''),
      'data-testid': 'message',
      'data-id': id,
      'data-offset': offset,
      'data-gen': generation,
    },
    el('div', { class: 'avatar', style: { background: color }, 'aria-hidden': 'true' }, author.slice(0, 1).toUpperCase()),
    el('div', { class: 'bubble' },
      el('div', { class: 'author', style: { color: color } }, author),
      el('div', { class: 'text', 'data-testid': 'message-text' }, data.text)));

    const stick = Demo.atBottom(list) || mine;
    place(node);
    if (stick) list.scrollTop = list.scrollHeight;
  }

  function learnName(clientId, name) {
    if (!name || names.get(clientId) === name) return;
    names.set(clientId, name);
    Demo.renameClient(clientId, name);
    renderPresence();
  }

  function renderPresence() {
    const entries = Object.values(lastPresence)
      .map((info) => ({ info, name: info.client === myClientId() ? myName : Demo.clientName(info, names) }))
      .sort((a, b) => a.name.localeCompare(b.name));
    presenceList.replaceChildren(...entries.map(({ info, name }) => el('li', {
      'data-testid': 'presence-item',
      'data-client': info.client,
      'data-name': name,
    },
    el('span', { class: 'dot', style: { background: Demo.colorFor(name) } }),
    el('span', { class: 'name' }, name),
    info.client === myClientId() ? el('span', { class: 'muted' }, ' (you)') : null)));
    presenceCount.textContent = String(entries.length);
  }

  function myClientId() {
    return client && client.clientId;
  }

  // ---- channel -------------------------------------------------------------

  let presenceTimer = null;

  /** Reloads presence (coalescing bursts of join/leave). */
  function refreshPresence() {
    clearTimeout(presenceTimer);
    presenceTimer = setTimeout(async () => {
      try {
        const result = await sub.presence();
        lastPresence = result.clients || {};
        renderPresence();
      } catch (err) {
        systemLine('Could not load presence: ' + err.message, 'error');
      }
    }, 50);
  }

  /** Sets the stream epoch; a new one means the server's history started over. */
  function noteEpoch(next) {
    if (!next) return;
    if (epoch !== null && next !== epoch) {
      generation += 1;
      systemLine('The room\'s history started over (new stream epoch).');
    }
    epoch = next;
  }

  /** Shows the last 50 messages (oldest first) among those already shown. */
  async function loadHistory() {
    try {
      const result = await sub.history({ limit: 50, reverse: true });
      noteEpoch(result.epoch);
      const pubs = result.publications.slice().sort((a, b) => (a.offset || 0) - (b.offset || 0));
      for (const pub of pubs) addMessage(pub);
      list.scrollTop = list.scrollHeight;
    } catch (err) {
      systemLine('Could not load history: ' + err.message, 'error');
    }
  }

  async function sendMessage() {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    try {
      await sub.publish({ name: myName, text: text, id: Demo.randomId() });
    } catch (err) {
      systemLine('Could not send “' + text.slice(0, 60) + '”: ' + err.message
        + (err.code ? ' (code ' + err.code + ')' : ''), 'error');
      if (!input.value) input.value = text;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sendMessage();
    input.focus();
  });

  Demo.start(async () => {
    const cfg = await Demo.loadConfig();
    client = Demo.channelsClient(cfg, myName);
    client.on('connected', (ctx) => names.set(ctx.client, myName));

    sub = client.newSubscription(channel);
    Demo.watchSubscription(sub);
    sub.on('subscribed', (ctx) => {
      if (ctx.wasRecovering) {
        systemLine(ctx.recovered
          ? 'Reconnected: missed messages recovered.'
          : 'Reconnected: could not recover every missed message, reloading history.');
      } else {
        systemLine('You joined #' + room + ' as ' + myName + '.');
      }
      noteEpoch(ctx.streamPosition && ctx.streamPosition.epoch);
      // After a successful recovery the missed publications follow this event
      // through the 'publication' handler; otherwise read the history.
      if (!(ctx.wasRecovering && ctx.recovered)) loadHistory();
      refreshPresence();
    });
    sub.on('publication', addMessage);
    sub.on('join', (ctx) => {
      if (ctx.info.client !== myClientId()) systemLine([Demo.nameTag(ctx.info, names), ' joined']);
      refreshPresence();
    });
    sub.on('leave', (ctx) => {
      if (ctx.info.client !== myClientId()) systemLine([Demo.nameTag(ctx.info, names), ' left']);
      refreshPresence();
    });

    sub.subscribe();
    client.connect();
    input.focus();
  });
})();
