// Raw console. Left: a plain client of the raw endpoint, over WebSocket or
// (with ?transport=sse, or without WebSocket) over Server-Sent Events with
// commands POSTed to the emulation path. Right: every event the sinks
// receive, from /demo/events.
'use strict';

(function () {
  const { el, byTestId } = Demo;

  const SINK_EVENTS_KEPT = 200;
  const RAW_LINES_KEPT = 500;

  const rawLog = byTestId('raw-log');
  const rawInput = byTestId('raw-input');
  const rawStatus = byTestId('raw-status');
  const sinkLog = byTestId('sink-log');
  const sinkCount = byTestId('sink-count');
  const sinkStatus = byTestId('sink-status');

  // The first message each connection sends, as in the README's example.
  const FIRST_MESSAGE = { type: 'user_action', action: 'button_click', data: { buttonId: 'submit', userId: '12345' } };

  const mode = Demo.param('transport', '') === 'sse' || typeof WebSocket === 'undefined' ? 'sse' : 'websocket';
  byTestId('raw-mode').textContent = mode;

  let cfg = null;
  let ws = null;          // websocket mode: the socket
  let es = null;          // sse mode: the EventSource
  let session = null;     // sse mode: the `session` event's data

  // ---- the raw log -----------------------------------------------------------

  function setStatus(text) {
    rawStatus.textContent = text;
    rawStatus.dataset.state = text === 'open' ? 'connected' : text === 'closed' ? 'disconnected' : 'connecting';
  }

  function pretty(value) {
    return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  }

  /** Parses JSON text, or returns the text itself when it is not JSON. */
  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (_) {
      return text;
    }
  }

  function appendRaw(node) {
    const stick = Demo.atBottom(rawLog);
    rawLog.append(node);
    while (rawLog.children.length > RAW_LINES_KEPT) rawLog.firstElementChild.remove();
    if (stick) rawLog.scrollTop = rawLog.scrollHeight;
  }

  function infoLine(text, kind) {
    appendRaw(el('div', { class: 'line ' + (kind || 'info'), 'data-testid': 'raw-info' },
      el('span', { class: 'time' }, Demo.clock()), ' ', text));
  }

  function sentLine(text) {
    appendRaw(el('div', { class: 'entry sent', 'data-testid': 'raw-sent' },
      el('div', { class: 'entry-head' }, el('span', { class: 'badge sent' }, 'sent'), el('span', { class: 'time' }, Demo.clock())),
      el('pre', {}, pretty(parse(text)))));
  }

  function receivedLine(message) {
    appendRaw(el('div', { class: 'entry received', 'data-testid': 'raw-received' },
      el('div', { class: 'entry-head' },
        el('span', { class: 'badge received' }, 'received'),
        message && typeof message === 'object' && typeof message.type === 'string' ? el('code', {}, message.type) : null,
        el('span', { class: 'time' }, Demo.clock())),
      el('pre', {}, pretty(message))));
  }

  // ---- WebSocket mode --------------------------------------------------------

  function connectWebSocket(url) {
    setStatus('connecting');
    ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    const socket = ws;

    ws.onopen = function () {
      setStatus('open');
      infoLine('Connected to ' + url);
      const text = JSON.stringify(FIRST_MESSAGE);
      socket.send(text);
      sentLine(text);
    };

    ws.onmessage = function (event) {
      const message = typeof event.data === 'string'
        ? parse(event.data)
        : '(binary message, ' + event.data.byteLength + ' bytes)';
      console.log('Received:', message);
      receivedLine(message);
    };

    ws.onclose = function (event) {
      console.log('Connection closed:', event.code, event.reason);
      if (socket !== ws) return; // replaced by a reconnect
      setStatus('closed');
      infoLine('Connection closed: ' + event.code + (event.reason ? ' ' + event.reason : ''));
    };

    ws.onerror = function (error) {
      console.error('WebSocket error:', error);
      if (socket === ws) infoLine('WebSocket error (see the close code below)', 'error');
    };
  }

  // ---- SSE mode --------------------------------------------------------------

  function connectSse(url) {
    setStatus('connecting');
    session = null;
    es = new EventSource(url);
    const source = es;

    // First event: who we are, and where to POST what we send.
    es.addEventListener('session', (event) => {
      session = parse(event.data);
      setStatus('open');
      infoLine('Session ' + session.session + ' on node ' + session.node
        + ' (connection ' + session.connection_id + ')');
      sendText(JSON.stringify(FIRST_MESSAGE));
    });

    // Unnamed events: what the server sends, one message each.
    es.onmessage = (event) => {
      const message = parse(event.data);
      console.log('Received:', message);
      receivedLine(message);
    };

    // The server closes the connection: stop EventSource from reconnecting.
    es.addEventListener('close', (event) => {
      const close = parse(event.data) || {};
      source.close();
      setStatus('closed');
      infoLine('Connection closed: ' + close.code + (close.reason ? ' ' + close.reason : ''));
    });

    es.onerror = () => {
      if (source !== es) return;
      if (source.readyState === EventSource.CLOSED) {
        setStatus('closed');
        infoLine('Event stream failed', 'error');
      } else {
        session = null;
        setStatus('connecting');
        infoLine('Event stream interrupted, reconnecting…', 'error');
      }
    };
  }

  async function postText(text) {
    const emulation = session.emulation || (cfg.channels && cfg.channels.emulation) || '/emulation';
    try {
      const response = await fetch(emulation, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ session: session.session, node: session.node, data: text }),
      });
      if (!response.ok) {
        const body = (await response.text()).slice(0, 200);
        infoLine('POST ' + emulation + ': HTTP ' + response.status + (body ? ' ' + body : ''), 'error');
      }
    } catch (err) {
      infoLine('POST ' + emulation + ' failed: ' + err.message, 'error');
    }
  }

  // ---- sending ----------------------------------------------------------------

  function sendText(text) {
    if (mode === 'websocket') {
      if (!ws || ws.readyState !== WebSocket.OPEN) {
        infoLine('Not connected: nothing sent', 'error');
        return;
      }
      ws.send(text);
      sentLine(text);
    } else {
      if (!session) {
        infoLine('No session yet: nothing sent', 'error');
        return;
      }
      sentLine(text);
      postText(text);
    }
  }

  function connect() {
    if (ws) {
      const old = ws;
      ws = null;
      old.close(1000, 'reconnect');
    }
    if (es) {
      es.close();
      es = null;
    }
    if (mode === 'websocket') connectWebSocket(Demo.wsUrl(cfg.raw.websocket));
    else connectSse(Demo.httpUrl(cfg.raw.sse));
  }

  byTestId('raw-form').addEventListener('submit', (event) => {
    event.preventDefault();
    if (rawInput.value.trim() === '') return;
    sendText(rawInput.value);
  });
  rawInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      byTestId('raw-form').requestSubmit();
    }
  });
  byTestId('raw-reconnect').addEventListener('click', () => {
    if (cfg && cfg.raw) connect();
  });

  // ---- sink events --------------------------------------------------------------

  let sinkTotal = 0;

  /** The parts of a sink event shown in its header (docs/EVENTS.md: `event`, `connection.id`). */
  function describe(data) {
    if (!data || typeof data !== 'object') return { type: 'unknown' };
    const connection = data.connection && typeof data.connection === 'object' ? data.connection : {};
    return {
      type: String(data.event || data.type || 'unknown'),
      connectionId: connection.id || data.connection_id || null,
      endpoint: connection.endpoint || data.endpoint || null,
      timestamp: data.timestamp || null,
    };
  }

  function showSinkEvent(event) {
    const data = parse(event.data);
    const info = describe(data);
    const stick = Demo.atBottom(sinkLog);
    sinkLog.append(el('div', { class: 'entry sink', 'data-testid': 'sink-event', 'data-type': info.type },
      el('div', { class: 'entry-head' },
        el('span', { class: 'badge type-' + info.type }, info.type),
        info.connectionId ? el('code', { title: 'connection id', 'data-testid': 'sink-connection' }, info.connectionId) : null,
        info.endpoint ? el('span', { class: 'muted' }, info.endpoint) : null,
        el('span', { class: 'time' }, info.timestamp ? Demo.clock(new Date(info.timestamp)) : Demo.clock())),
      el('pre', {}, pretty(data))));
    while (sinkLog.children.length > SINK_EVENTS_KEPT) sinkLog.firstElementChild.remove();
    if (stick) sinkLog.scrollTop = sinkLog.scrollHeight;
    sinkTotal += 1;
    sinkCount.textContent = String(sinkTotal);
  }

  function watchSinks(url) {
    const source = new EventSource(url);
    source.onopen = () => { sinkStatus.textContent = 'live'; };
    source.onmessage = showSinkEvent;
    source.onerror = () => {
      sinkStatus.textContent = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…';
    };
  }

  byTestId('sink-clear').addEventListener('click', () => {
    sinkLog.replaceChildren();
    sinkTotal = 0;
    sinkCount.textContent = '0';
  });

  // ---- start ------------------------------------------------------------------------

  Demo.start(async () => {
    cfg = await Demo.loadConfig();
    watchSinks(cfg.events || '/demo/events');

    const switcher = byTestId('raw-switch');
    if (cfg.raw && cfg.raw.sse && typeof WebSocket !== 'undefined') {
      switcher.textContent = mode === 'sse' ? 'Use WebSocket' : 'Use SSE';
      switcher.href = mode === 'sse' ? '/demo/console.html' : '/demo/console.html?transport=sse';
    } else {
      switcher.hidden = true;
    }

    if (!cfg.raw) throw new Error('The server has no raw endpoint (config.json: raw is null).');
    const path = mode === 'websocket' ? cfg.raw.websocket : cfg.raw.sse;
    if (!path) throw new Error('The raw endpoint does not offer ' + mode + ' (config.json: raw.' + mode + ' is null).');
    byTestId('raw-url').textContent = path;
    connect();
  });
})();
