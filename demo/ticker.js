// Ticker: the `ticker:<symbol>` channel, whose namespace keeps the last
// value (a new subscriber gets the newest price at once). Publications are
// `{price, ts}`; this page can also publish a random walk.
'use strict';

(function () {
  const { el, byTestId } = Demo;

  const FEED_MS = 250;
  const SPARK_POINTS = 80;
  const LIST_ITEMS = 15;

  const symbol = Demo.param('symbol', 'DEMO');
  const channel = 'ticker:' + symbol;

  const priceEl = byTestId('price');
  const changeEl = byTestId('change');
  const updatedEl = byTestId('updated');
  const ticksEl = byTestId('ticks');
  const tickCount = byTestId('tick-count');
  const feedBox = byTestId('feed');
  const spark = byTestId('spark');

  const history = [];          // recent prices, oldest first, for the sparkline
  let received = 0;
  let lastPrice = null;
  let lastOffset = 0;
  let epoch = null;
  let sub = null;

  byTestId('symbol').textContent = symbol;
  byTestId('channel').textContent = channel;

  function format(price) {
    return price.toFixed(2);
  }

  // ---- rendering -----------------------------------------------------------

  function onPublication(ctx) {
    const data = ctx.data;
    if (!data || typeof data.price !== 'number' || !Number.isFinite(data.price)) return;
    if (ctx.offset && ctx.offset <= lastOffset) return; // already shown (same epoch)
    if (ctx.offset) lastOffset = ctx.offset;

    const price = data.price;
    const previous = lastPrice;
    lastPrice = price;
    received += 1;

    priceEl.textContent = format(price);
    priceEl.dataset.price = String(price);
    const direction = previous === null || price === previous ? 'flat' : price > previous ? 'up' : 'down';
    priceEl.dataset.direction = direction;
    if (previous !== null) {
      const diff = price - previous;
      const pct = previous !== 0 ? (diff / previous) * 100 : 0;
      changeEl.textContent = (diff >= 0 ? '▲ +' : '▼ ') + format(diff) + ' (' + (pct >= 0 ? '+' : '') + pct.toFixed(2) + '%)';
      changeEl.dataset.direction = direction;
    }
    const when = typeof data.ts === 'number' ? new Date(data.ts) : new Date();
    updatedEl.textContent = 'Last update ' + Demo.clock(when) + (ctx.offset ? ' · offset ' + ctx.offset : '');

    ticksEl.prepend(el('li', { 'data-testid': 'tick', 'data-direction': direction },
      el('span', { class: 'time' }, Demo.clock(when)),
      el('span', { class: 'tick-price' }, format(price)),
      el('span', { class: 'arrow' }, direction === 'up' ? '▲' : direction === 'down' ? '▼' : '•')));
    while (ticksEl.children.length > LIST_ITEMS) ticksEl.lastElementChild.remove();
    tickCount.textContent = String(received);

    history.push(price);
    if (history.length > SPARK_POINTS) history.shift();
    drawSpark();
  }

  function drawSpark() {
    const width = 600;
    const height = 180;
    const pad = 12;
    const min = Math.min(...history);
    const max = Math.max(...history);
    const span = max - min || 1;
    const step = history.length > 1 ? width / (history.length - 1) : 0;
    const start = history.length > 1 ? 0 : width;
    const points = history.map((p, i) => {
      const x = start + i * step;
      const y = height - pad - ((p - min) / span) * (height - 2 * pad);
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    spark.querySelector('.spark-line').setAttribute('points', points.join(' '));
    spark.querySelector('.spark-fill').setAttribute('points',
      points.length ? start.toFixed(1) + ',' + height + ' ' + points.join(' ') + ' ' + width + ',' + height : '');
  }

  // ---- publishing ----------------------------------------------------------

  function publishPrice(price) {
    return sub.publish({ price: Number(price), ts: Date.now() });
  }

  /** The next step of a random walk from the last price (100 to start). */
  function nextPrice() {
    const base = lastPrice === null ? 100 : lastPrice;
    const step = (Math.random() - 0.5) * 0.01 * base;
    return Math.max(0.01, Math.round((base + step) * 100) / 100);
  }

  let feedTimer = null;

  function setFeed(on) {
    clearInterval(feedTimer);
    feedTimer = null;
    feedBox.checked = on;
    if (!on) return;
    feedTimer = setInterval(() => {
      if (sub.state !== 'subscribed') return; // skip ticks while reconnecting
      publishPrice(nextPrice()).catch((err) => {
        Demo.showError('Publishing prices failed: ' + err.message + (err.code ? ' (code ' + err.code + ')' : ''));
        setFeed(false);
      });
    }, FEED_MS);
  }

  feedBox.addEventListener('change', () => {
    if (sub) setFeed(feedBox.checked);
  });

  // For tests and scripts: publish one price (waits until the subscription
  // exists; the SDK then waits until it is subscribed).
  let markStarted;
  const started = new Promise((resolve) => { markStarted = resolve; });
  globalThis.demo = {
    publish(price) {
      return started.then(() => publishPrice(price));
    },
  };

  Demo.start(async () => {
    const cfg = await Demo.loadConfig();
    const client = Demo.channelsClient(cfg, 'ticker-' + symbol);
    sub = client.newSubscription(channel);
    Demo.watchSubscription(sub);
    sub.on('subscribed', (ctx) => {
      const next = ctx.streamPosition && ctx.streamPosition.epoch;
      if (next && epoch !== null && next !== epoch) lastOffset = 0; // the stream started over
      if (next) epoch = next;
    });
    sub.on('publication', onPublication);
    sub.subscribe();
    client.connect();
    markStarted();
    setFeed(feedBox.checked || Demo.param('feed', '0') === '1');
  });
})();
