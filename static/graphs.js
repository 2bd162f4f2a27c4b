// Graphs of VM and host series (uPlot, vendor/uPlot.iife.min.js). A container
// <div data-graphs="vm|host" data-src="/vms/ID/metrics"> gets range buttons and
// one chart per panel; it polls the JSON while the page is open and visible.
// The words come from the page (#graph-words, rendered in the reader's
// language by views/graphs.templ), numbers and dates are written in the
// page's language (<html lang>): this script holds no English.
(function () {
  'use strict';
  if (!window.uPlot) return;

  var LANG = document.documentElement.lang || 'en';
  var wordsEl = document.getElementById('graph-words');
  function w(key) { return (wordsEl && wordsEl.getAttribute('data-' + key)) || key; }
  // fill replaces the %s of a word with the values, in order.
  function fill(text) {
    var args = Array.prototype.slice.call(arguments, 1);
    return text.replace(/%s/g, function () { return args.length ? String(args.shift()) : ''; });
  }

  var PANELS = {
    vm: [
      { title: w('cpu'), unit: '%', series: [['cpu_percent', w('cpu-percent'), '#1e88e5']], max: 100 },
      { title: w('memory'), unit: 'MB', series: [['memory_used_mb', w('used-mb'), '#8e24aa']] },
      { title: w('disk'), unit: 'MB/s', series: [['disk_read_mb_s', w('read-mb-s'), '#43a047'], ['disk_write_mb_s', w('write-mb-s'), '#e53935']] },
      { title: w('network'), unit: 'MB/s', series: [['net_rx_mb_s', w('in-mb-s'), '#00897b'], ['net_tx_mb_s', w('out-mb-s'), '#fb8c00']] }
    ],
    host: [
      { title: w('cpu'), unit: '%', series: [['cpu_percent', w('cpu-percent'), '#1e88e5']], max: 100 },
      { title: w('memory'), unit: 'MB', series: [['memory_used_mb', w('used-mb'), '#8e24aa']] },
      { title: w('disk-used'), unit: 'GB', series: [['disk_used_gb', w('used-gb'), '#6d4c41']] }
    ]
  };
  var RANGES = ['1h', '24h', '7d', '30d'];

  // Month and weekday names for the time axis, in the page's language.
  function names(opt, n, at) {
    var f = new Intl.DateTimeFormat(LANG, opt);
    var out = [];
    for (var i = 0; i < n; i++) out.push(f.format(at(i)));
    return out;
  }
  var DATE_NAMES = {
    MMMM: names({ month: 'long' }, 12, function (i) { return new Date(2020, i, 1); }),
    MMM: names({ month: 'short' }, 12, function (i) { return new Date(2020, i, 1); }),
    WWWW: names({ weekday: 'long' }, 7, function (i) { return new Date(2020, 1, 2 + i); }),
    WWW: names({ weekday: 'short' }, 7, function (i) { return new Date(2020, 1, 2 + i); })
  };
  var SPAN = { '1h': 3600, '24h': 86400, '7d': 604800, '30d': 2592000 };

  function fmt(v, unit) {
    if (v === null || v === undefined) return '–';
    var d = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
    return num(v, d) + ' ' + unit;
  }

  function num(v, digits) {
    return v.toLocaleString(LANG, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function setup(box) {
    var kind = box.getAttribute('data-graphs');
    var panels = PANELS[kind] || PANELS.vm;
    var src = box.getAttribute('data-src');
    var range = box.getAttribute('data-range') || '1h';
    var plots = [];
    var timer = null;

    var nav = document.createElement('div');
    nav.className = 'graph-ranges';
    nav.setAttribute('role', 'group');
    nav.setAttribute('aria-label', w('time-range'));
    RANGES.forEach(function (r) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = w('range-' + r);
      b.setAttribute('data-range', r);
      b.className = 'outline secondary';
      b.addEventListener('click', function () { range = r; mark(); load(true); });
      nav.appendChild(b);
    });
    box.appendChild(nav);
    var status = document.createElement('p');
    status.className = 'graph-status';
    status.setAttribute('aria-live', 'polite');
    box.appendChild(status);
    var holders = panels.map(function (p) {
      var fig = document.createElement('figure');
      fig.className = 'graph';
      var cap = document.createElement('figcaption');
      cap.textContent = p.title + ' (' + p.unit + ')';
      fig.appendChild(cap);
      var div = document.createElement('div');
      fig.appendChild(div);
      box.appendChild(fig);
      return { fig: fig, div: div, cap: cap };
    });

    function mark() {
      nav.querySelectorAll('button').forEach(function (b) {
        var on = b.getAttribute('data-range') === range;
        b.setAttribute('aria-pressed', on ? 'true' : 'false');
        b.className = on ? 'secondary' : 'outline secondary';
      });
      box.setAttribute('data-range', range);
    }

    function width() { return Math.max(240, Math.min(box.clientWidth, 900)); }

    function draw(d) {
      plots.forEach(function (p) { p.destroy(); });
      plots = [];
      var empty = !d.t || d.t.length === 0;
      status.textContent = empty ? w('empty') : '';
      box.setAttribute('data-points', empty ? '0' : String(d.t.length));
      panels.forEach(function (p, i) {
        var data = [d.t || []];
        var series = [{}];
        p.series.forEach(function (s) {
          data.push(d[s[0]] || []);
          series.push({ label: s[1], stroke: s[2], width: 1.5, spanGaps: false,
            value: function (u, v) { return fmt(v, p.unit); } });
        });
        var last = data[1].length ? data[1][data[1].length - 1] : null;
        holders[i].cap.textContent = p.title + ' (' + p.unit + ')' + (last === null ? '' : ' — ' + fill(w('now'), fmt(last, p.unit)));
        plots.push(new uPlot({
          width: width(), height: 150, series: series,
          fmtDate: function (tpl) { return uPlot.fmtDate(tpl, DATE_NAMES); },
          // The whole range, also while it holds one point so far.
          scales: { x: { time: true, range: function () { var now = Date.now() / 1000; return [now - SPAN[range], now]; } }, y: { range: function (u, lo, hi) {
            var top = Math.max((hi || 0) * 1.15, 1);
            return [0, p.max ? Math.min(top, p.max) : top];
          } } },
          axes: [{}, { size: 50, values: function (u, vals) { return vals.map(function (v) { return (+v.toFixed(2)).toLocaleString(LANG); }); } }],
          legend: { show: true }
        }, data, holders[i].div));
      });
    }

    function load(now) {
      if (timer) clearTimeout(timer);
      if (document.hidden && !now) { schedule(); return; }
      fetch(src + '?range=' + encodeURIComponent(range), { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (r) {
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then(draw)
        .catch(function (e) { status.textContent = fill(w('failed'), e.message); })
        .then(schedule);
    }

    function schedule() {
      timer = setTimeout(load, range === '1h' ? 15000 : 60000);
    }

    var lastW = width();
    window.addEventListener('resize', function () {
      var w = width();
      if (w === lastW) return;
      lastW = w;
      plots.forEach(function (p) { p.setSize({ width: w, height: 150 }); });
    });
    document.addEventListener('visibilitychange', function () { if (!document.hidden) load(true); });
    mark();
    load(true);
  }

  function init() { document.querySelectorAll('[data-graphs]').forEach(setup); }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
