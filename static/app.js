// Site script, loaded after vendor/htmx.min.js. No inline scripts: the CSP forbids them.
(function () {
  'use strict';

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  if (window.htmx) {
    // htmx would otherwise inject an inline <style> (blocked by the CSP; app.css has the rules)
    // and evaluate hx-on / js: expressions (needs 'unsafe-eval').
    htmx.config.includeIndicatorStyles = false;
    htmx.config.allowEval = false;
  }

  // Every htmx request carries the CSRF token (read each time: a swap may replace the meta tag).
  document.addEventListener('htmx:configRequest', function (e) {
    var token = csrfToken();
    if (token) e.detail.headers['X-CSRF-Token'] = token;
  });

  function confirmed(el) {
    var msg = el && el.getAttribute('data-confirm');
    return msg === null || msg === undefined || window.confirm(msg || 'Are you sure?');
  }
  function cancel(e) { e.preventDefault(); e.stopImmediatePropagation(); }

  // data-confirm on a <form> or on its submit button: ask before submitting (capture phase,
  // so a cancelled submit never reaches htmx either).
  document.addEventListener('submit', function (e) {
    var s = e.submitter;
    var el = s && s.hasAttribute('data-confirm') ? s : e.target;
    if (!confirmed(el)) cancel(e);
  }, true);

  // data-confirm on a link (plain or hx-boosted).
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[data-confirm]');
    if (a && !confirmed(a)) cancel(e);
  }, true);

  // data-confirm on other htmx-driven elements (e.g. <button hx-delete=...>). Forms and
  // links were already asked above.
  document.addEventListener('htmx:confirm', function (e) {
    var el = e.detail.elt;
    if (!el.hasAttribute('data-confirm') || el.tagName === 'FORM' || el.tagName === 'A') return;
    e.preventDefault();
    if (confirmed(el)) e.detail.issueRequest(true);
  });
})();
