/* Quiz + popup order form. Needs jQuery. */
$(function () {
  var $steps = $('.quiz__step');
  var total = $steps.length - 1;  // the last step is the "analysing" screen

  function show(step) {
    $steps.removeClass('is-active').filter('[data-step="' + step + '"]').addClass('is-active');
    $('#quiz-bar').css('width', Math.min(100, Math.round((step - 1) / total * 100)) + '%');
  }

  $('.quiz__answer input').on('change', function () {
    $(this).closest('.quiz__step').find('.quiz__answer').removeClass('is-checked');
    $(this).closest('.quiz__answer').addClass('is-checked');
  });

  $('.quiz__next').on('click', function () {
    var $step = $(this).closest('.quiz__step');
    if (!$step.find('input:checked').length) {
      $step.addClass('is-shaking');
      setTimeout(function () { $step.removeClass('is-shaking'); }, 400);
      return;
    }
    var next = +$step.data('step') + 1;
    show(next);
    if ($(this).hasClass('quiz__finish')) {
      setTimeout(function () {
        $('#popup').prop('hidden', false).addClass('is-open');
        $('#order-form input[name="fio"]').trigger('focus');
      }, 300);
    }
  });

  $('.popup__close').on('click', function () {
    $('#popup').prop('hidden', true).removeClass('is-open');
  });

  $('#order-form').on('submit', function (e) {
    e.preventDefault();
    var form = this;
    var $btn = $(form).find('button[type="submit"]').prop('disabled', true).text('Odosielam…');
    $('#form-error').prop('hidden', true).text('');
    $.post("order.php", $(form).serialize())
      .done(function () {
        location.href = "success.html";
      })
      .fail(function (xhr) {
        var message = xhr.responseJSON && xhr.responseJSON.message;
        $('#form-error').text(message || 'Nastala chyba. Skúste to, prosím, znova.').prop('hidden', false);
        $btn.prop('disabled', false).text('Objednať so zľavou');
      });
  });

  show(1);
});
