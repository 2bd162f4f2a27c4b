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
  // The status texts come in the page's language (data-* of #console-status).
  function says(key, fallback) {
    return (status && status.getAttribute('data-' + key)) || fallback;
  }

  var term = new window.Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000 });
  term.open(el);
  term.focus();

  // Full screen: the terminal fills the screen (Esc leaves); the button
  // says which way it goes.
  var full = document.getElementById('console-fullscreen');
  if (full && el.requestFullscreen) {
    var enter = full.textContent;
    full.addEventListener('click', function () {
      if (document.fullscreenElement) {
        document.exitFullscreen();
      } else {
        el.requestFullscreen().then(function () { term.focus(); }).catch(function () {});
      }
    });
    document.addEventListener('fullscreenchange', function () {
      full.textContent = document.fullscreenElement ? full.getAttribute('data-exit') : enter;
    });
  } else if (full) {
    full.hidden = true;
  }

  var scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  var ws = new WebSocket(scheme + '//' + window.location.host + el.getAttribute('data-ws'));
  ws.binaryType = 'arraybuffer';

  var encoder = new TextEncoder();
  var open = false;

  ws.onopen = function () {
    open = true;
    show(says('connected', 'connected'));
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
    show(says('disconnected', 'disconnected') + (e.reason ? ': ' + e.reason : ''));
    term.write('\r\n\x1b[2m[disconnected]\x1b[0m\r\n');
  };

  ws.onerror = function () {
    show(says('unreachable', 'disconnected: the console could not be reached'));
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
