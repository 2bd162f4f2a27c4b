// Serial console page: connects xterm.js (vendor/xterm.js, loaded before this file) to the
// VM's console WebSocket named in data-ws. No inline scripts: the CSP forbids them.
(function () {
  'use strict';

  var el = document.getElementById('console');
  var status = document.getElementById('console-status');
  if (!el || !window.Terminal) return;

  function show(text) {
    if (status) status.textContent = text;
  }

  var term = new window.Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  term.open(el);
  term.focus();

  var scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var ws = new WebSocket(scheme + '//' + window.location.host + el.getAttribute('data-ws'));
  ws.binaryType = 'arraybuffer';

  var encoder = new TextEncoder();
  var open = false;

  ws.onopen = function () {
    open = true;
    show('connected');
  };

  // Whatever the guest writes arrives as binary messages; text is accepted too.
  ws.onmessage = function (e) {
    if (typeof e.data === 'string') {
      term.write(e.data);
    } else if (e.data instanceof ArrayBuffer) {
      term.write(new Uint8Array(e.data));
    } else if (e.data instanceof Blob) {
      e.data.arrayBuffer().then(function (buf) { term.write(new Uint8Array(buf)); });
    }
  };

  ws.onclose = function (e) {
    open = false;
    show('disconnected' + (e.reason ? ': ' + e.reason : ''));
    term.write('\r\n\x1b[2m[disconnected]\x1b[0m\r\n');
  };

  ws.onerror = function () {
    show('disconnected: the console could not be reached');
  };

  // Keystrokes go to the guest as they are typed, as UTF-8 bytes.
  term.onData(function (data) {
    if (open) ws.send(encoder.encode(data));
  });
  term.onBinary(function (data) {
    if (!open) return;
    var bytes = new Uint8Array(data.length);
    for (var i = 0; i < data.length; i++) bytes[i] = data.charCodeAt(i) & 0xff;
    ws.send(bytes);
  });
})();
