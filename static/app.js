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

  // A form marked data-swap-errors gets its error answer swapped in when
  // the server marks it as the form again (X-Form-Errors), so the values
  // typed and the errors by the fields show; htmx swaps no errors itself.
  document.addEventListener('htmx:beforeSwap', function (e) {
    var elt = e.detail.requestConfig && e.detail.requestConfig.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute('data-swap-errors')) return;
    if (e.detail.xhr.getResponseHeader('X-Form-Errors') === 'true') {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // A copy button (data-copy names the field whose text it copies) says
  // "Copied" for a moment; without the clipboard API the text is selected
  // for Ctrl+C. A <button>, so Enter and Space work too.
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button[data-copy]');
    if (!b) return;
    var field = document.getElementById(b.getAttribute('data-copy'));
    if (!field) return;
    var text = field.value !== undefined ? field.value : field.textContent;
    var label = b.textContent;
    function done() {
      b.textContent = b.getAttribute('data-copied') || label;
      setTimeout(function () { b.textContent = label; }, 2000);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { field.select && field.select(); });
    } else if (field.select) {
      field.focus();
      field.select();
      try { if (document.execCommand('copy')) done(); } catch (err) { /* selected: Ctrl+C copies */ }
    }
  });

  // Upload progress: the form's <progress class="upload-progress"> follows
  // the bytes sent.
  document.addEventListener('htmx:xhr:progress', function (e) {
    var form = e.target && e.target.closest ? e.target.closest('form') : null;
    var bar = form && form.querySelector('progress.upload-progress');
    if (!bar || !e.detail.lengthComputable || !e.detail.total) return;
    bar.hidden = false;
    bar.max = e.detail.total;
    bar.value = e.detail.loaded;
    var text = form.querySelector('#' + bar.id + '-text');
    if (text) {
      var pct = Math.floor(100 * e.detail.loaded / e.detail.total);
      // The words come from the page, in the reader's language.
      text.textContent = pct < 100 ? (text.getAttribute('data-sending') || '%s %').replace('%s', pct) : (text.getAttribute('data-stored') || '');
    }
  });
})();

// The browser's time zone, for times on the pages of people who have not
// chosen one in their account (see handlers/locale.go). Zone names hold
// only letters, digits, "/", "_", "-" and "+", all valid in a cookie.
(function () {
	let zone = "";
	try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
	if (!/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) return;
	if (document.cookie.split("; ").indexOf("tz=" + zone) >= 0) return;
	document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
})();

// On a wide screen the navigation's "Menu" stays open (app.css hides its
// summary); on a phone it starts folded.
(function () {
	var menu = document.querySelector("details.nav-menu");
	if (!menu || !window.matchMedia) return;
	var wide = window.matchMedia("(min-width: 1024px)");
	function apply() { menu.open = wide.matches; }
	apply();
	if (wide.addEventListener) wide.addEventListener("change", apply);
})();
