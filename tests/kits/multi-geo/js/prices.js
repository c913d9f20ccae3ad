// Price table per country: the price shown follows the country chosen in the form.
(function () {
  var PRICES = {
    es: { price: 39, old: 78, currency: '€', prefix: '+34', placeholder: '+34 6__ ___ ___' },
    pt: { price: 35, old: 70, currency: '€', prefix: '+351', placeholder: '+351 9__ ___ ___' },
    it: { price: 45, old: 90, currency: '€', prefix: '+39', placeholder: '+39 3__ ___ ____' }
  };

  var select = document.getElementById('country');
  var phone = document.getElementById('phone');
  var priceNew = document.getElementById('price-new');
  var priceOld = document.getElementById('price-old');

  function update() {
    var p = PRICES[select.value] || PRICES.es;
    priceNew.textContent = p.price + ' ' + p.currency;
    priceOld.textContent = p.old + ' ' + p.currency;
    phone.placeholder = p.placeholder;
    document.documentElement.setAttribute('data-country', select.value);
  }

  select.addEventListener('change', update);
  update();
})();
