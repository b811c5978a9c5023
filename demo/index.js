// The demo index: lists what /demo/config.json says this server offers.
'use strict';

(function () {
  const { el, byTestId } = Demo;

  function row(label, value) {
    return [
      el('dt', {}, label),
      el('dd', {}, value ? el('code', {}, value) : el('span', { class: 'muted' }, 'not offered')),
    ];
  }

  Demo.start(async () => {
    const cfg = await Demo.loadConfig();
    const channels = cfg.channels || {};
    const raw = cfg.raw || {};
    byTestId('endpoints').replaceChildren(
      ...row('Channels · WebSocket', channels.websocket),
      ...row('Channels · HTTP streaming', channels.http_stream),
      ...row('Channels · SSE', channels.sse),
      ...row('Raw · WebSocket', raw.websocket),
      ...row('Raw · SSE', raw.sse),
      ...row('Sink events', cfg.events),
    );
  });
})();
