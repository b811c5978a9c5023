// Shared helpers of the Switchboard demo pages (a classic script: it defines
// the global `Demo`). Each page loads, in order: centrifuge.js (when it uses
// channels), common.js, then its own script.
'use strict';

(function () {
  const params = new URLSearchParams(location.search);

  // The transports a channels page may use, in the default order of preference.
  const TRANSPORTS = ['websocket', 'http_stream', 'sse'];

  /** The query parameter `name`, or `fallback` when it is missing or empty. */
  function param(name, fallback) {
    const value = params.get(name);
    return value === null || value.trim() === '' ? fallback : value.trim();
  }

  /** A random, practically unique id such as `k3v9x2a1-5f0c2b`. */
  function randomId() {
    if (globalThis.crypto && typeof crypto.randomUUID === 'function') {
      return crypto.randomUUID();
    }
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  /** A guest name like `guest-1234`. */
  function randomName() {
    return 'guest-' + String(Math.floor(1000 + Math.random() * 9000));
  }

  // Distinct, readable colors for names (white text on them stays legible).
  const PALETTE = ['#e11d48', '#ea580c', '#ca8a04', '#16a34a', '#0d9488', '#0284c7', '#4f46e5', '#9333ea', '#c026d3', '#be123c', '#15803d', '#1d4ed8'];

  /** A stable color for a name (the same name gets the same color everywhere). */
  function colorFor(name) {
    let hash = 0;
    for (const ch of String(name)) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
    return PALETTE[hash % PALETTE.length];
  }

  /** An absolute http(s) URL for a path of this page's origin. */
  function httpUrl(path) {
    return new URL(path, location.href).href;
  }

  /** An absolute ws(s) URL for a path of this page's origin. */
  function wsUrl(path) {
    const url = new URL(path, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  /** The server's /demo/config.json. */
  async function loadConfig() {
    const response = await fetch('/demo/config.json', { cache: 'no-store' });
    if (!response.ok) throw new Error('GET /demo/config.json: HTTP ' + response.status);
    return response.json();
  }

  /**
   * The SDK's transport list: `?transports=a,b` (in that order) or the default
   * order, leaving out transports the server does not offer. Throws when
   * nothing is left.
   */
  function transportList(cfg) {
    const channels = cfg && cfg.channels;
    if (!channels) throw new Error('The server has no channels endpoint (config.json: channels is null).');
    const asked = param('transports', null);
    const wanted = asked === null
      ? TRANSPORTS
      : asked.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const list = [];
    for (const name of wanted) {
      const path = channels[name];
      if (!TRANSPORTS.includes(name) || !path || list.some((t) => t.transport === name)) continue;
      list.push({ transport: name, endpoint: name === 'websocket' ? wsUrl(path) : httpUrl(path) });
    }
    if (list.length === 0) {
      throw new Error('None of the transports ' + wanted.join(', ') + ' is offered by this server.');
    }
    return list;
  }

  /** The element with `data-testid` = id (optionally inside `root`). */
  function byTestId(id, root) {
    return (root || document).querySelector('[data-testid="' + id + '"]');
  }

  /**
   * Creates an element: `el('li', {class: 'x', dataset: {id: 1}}, 'text', child)`.
   * Attribute values of null or undefined are skipped; `on` maps events to handlers.
   */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
      else if (key === 'style' && typeof value === 'object') Object.assign(node.style, value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  /** `12:03:45` for a Date or a timestamp. */
  function clock(when) {
    const d = when instanceof Date ? when : new Date(when === undefined ? Date.now() : when);
    return d.toLocaleTimeString([], { hour12: false });
  }

  /** Whether a scrollable element is (nearly) scrolled to its bottom. */
  function atBottom(node) {
    return node.scrollHeight - node.scrollTop - node.clientHeight < 40;
  }

  /** Shows a problem in the page's banner (`data-testid="error"`). */
  function showError(message) {
    const banner = byTestId('error');
    if (!banner) return;
    banner.textContent = String(message);
    banner.hidden = false;
  }

  /**
   * A display name for a client: its connection info's name, its user id, a
   * name learned from its publications (`known`: client id -> name), or a
   * short form of its client id.
   */
  function clientName(info, known) {
    if (!info) return 'someone';
    const connInfo = info.connInfo;
    if (connInfo && typeof connInfo === 'object' && typeof connInfo.name === 'string' && connInfo.name) {
      return connInfo.name;
    }
    if (known && known.has(info.client)) return known.get(info.client);
    if (info.user) return info.user;
    return 'guest ' + String(info.client || '').slice(0, 6);
  }

  /**
   * A span showing a client's name, which `renameClient` updates once the
   * name is learned (an anonymous client's join arrives before its name).
   */
  function nameTag(info, known) {
    return el('span', { class: 'who', 'data-client': info && info.client }, clientName(info, known));
  }

  /** Updates the name tags of a client (see `nameTag`). */
  function renameClient(clientId, name) {
    for (const tag of document.querySelectorAll('span.who[data-client]')) {
      if (tag.dataset.client === clientId) tag.textContent = name;
    }
  }

  /**
   * Connects to the channels endpoint with the SDK and keeps the page's
   * `state` and `transport` elements up to date. Returns the client (not
   * yet connected: subscribe first, then call `client.connect()`).
   */
  function channelsClient(cfg, name) {
    if (typeof Centrifuge !== 'function') {
      throw new Error('The centrifuge SDK did not load: run `npm ci --prefix demo` and restart the server.');
    }
    const client = new Centrifuge(transportList(cfg), {
      debug: false,
      emulationEndpoint: httpUrl(cfg.channels.emulation || '/emulation'),
      data: { name: name },
      name: 'switchboard-demo',
    });
    const stateEl = byTestId('state');
    const transportEl = byTestId('transport');
    const showState = (state) => {
      if (!stateEl) return;
      stateEl.textContent = state;
      stateEl.dataset.state = state;
    };
    showState(client.state);
    client.on('state', (ctx) => showState(ctx.newState));
    client.on('connected', (ctx) => {
      client.clientId = ctx.client;
      if (transportEl) transportEl.textContent = ctx.transport;
    });
    client.on('disconnected', (ctx) => {
      // Code 0 is our own disconnect(); anything else is final and worth showing.
      if (ctx.code !== 0) showError('Disconnected: ' + ctx.reason + ' (code ' + ctx.code + ')');
    });
    return client;
  }

  /** Shows subscription failures in the error banner, and clears it once subscribed. */
  function watchSubscription(sub) {
    sub.on('error', (ctx) => {
      showError('Subscription to ' + ctx.channel + ': ' + ctx.error.message + ' (code ' + ctx.error.code + ')');
    });
    sub.on('unsubscribed', (ctx) => {
      if (ctx.code !== 0) showError('Unsubscribed from ' + ctx.channel + ': ' + ctx.reason + ' (code ' + ctx.code + ')');
    });
    sub.on('subscribed', () => clearError());
  }

  /** Hides the error banner. */
  function clearError() {
    const banner = byTestId('error');
    if (banner) banner.hidden = true;
  }

  /** Runs `main`, showing anything it throws in the page's error banner. */
  function start(main) {
    const run = () => Promise.resolve().then(main).catch((err) => {
      console.error(err);
      showError(err && err.message ? err.message : err);
    });
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
    else run();
  }

  globalThis.Demo = {
    param, randomId, randomName, colorFor, httpUrl, wsUrl, loadConfig, transportList,
    byTestId, el, clock, atBottom, showError, clearError, clientName, nameTag, renameClient, channelsClient,
    watchSubscription, start,
  };
})();
