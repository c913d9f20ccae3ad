(function () {
  'use strict';

  // Today's date in the article header: the article is always "fresh".
  var date = document.getElementById('article-date');
  if (date) {
    var d = new Date();
    var pad = function (n) { return (n < 10 ? '0' : '') + n; };
    date.textContent = pad(d.getDate()) + '.' + pad(d.getMonth() + 1) + '.' + d.getFullYear();
  }

  // Countdown timer: 15 minutes, starts again when it runs out.
  var left = 15 * 60 - 1;
  var timers = document.querySelectorAll('.js-timer');
  function tick() {
    var m = Math.floor(left / 60), s = left % 60;
    var text = '00:' + (m < 10 ? '0' : '') + m + ':' + (s < 10 ? '0' : '') + s;
    for (var i = 0; i < timers.length; i++) timers[i].textContent = text;
    left = left > 0 ? left - 1 : 15 * 60 - 1;
  }
  if (timers.length) setInterval(tick, 1000);

  // Smooth scroll to the order form.
  var links = document.querySelectorAll('.js-scroll');
  for (var i = 0; i < links.length; i++) {
    links[i].addEventListener('click', function (e) {
      var target = document.getElementById('order');
      if (target) {
        e.preventDefault();
        target.scrollIntoView({ behavior: 'smooth' });
      }
    });
  }
})();
