// The membership application: the total price of the shares follows the
// number typed, formatted in the page's language (no inline script: CSP).
(function () {
  'use strict';
  var out = document.getElementById('join-total');
  var shares = document.getElementById('f-shares');
  if (!out || !shares) return;
  var price = parseInt(out.getAttribute('data-price-cents'), 10) || 0;
  var fmt = new Intl.NumberFormat(document.documentElement.lang || 'en', { style: 'currency', currency: 'EUR' });
  function update() {
    var n = parseInt(shares.value, 10);
    if (isNaN(n) || n < 0) n = 0;
    out.textContent = fmt.format(n * price / 100);
  }
  shares.addEventListener('input', update);
  update();
})();
