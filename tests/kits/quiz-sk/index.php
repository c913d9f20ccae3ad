<?php
// Kvíz – nastavenia landingu
$product = 'FlexoVital';
$price = 39;
$old_price = 78;
// one-file variant of the kit: the order is sent from here when order.php is not uploaded
$api_key = 'KIT-KEY-0f3a9c7e51';
session_start();
$_SESSION['landing'] = 'quiz-sk';
?>
<!DOCTYPE html>
<html lang="sk">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>Test: Ako zdravé sú vaše kĺby? Zistite to za 1 minútu</title>
  <link rel="stylesheet" href="css/style.css">
</head>
<body>
<header class="top">
  <img class="top__logo" src="img/logo.svg" alt="Zdravé kĺby" width="150" height="32">
  <span class="top__badge">Online test · <?php echo date('Y'); ?></span>
</header>

<main class="quiz" id="quiz">
  <div class="quiz__progress"><div class="quiz__bar" id="quiz-bar"></div></div>

  <section class="quiz__step is-active" data-step="1">
    <h1 class="quiz__question">Koľko máte rokov?</h1>
    <label class="quiz__answer"><input type="radio" name="q1" value="do-40"> do 40 rokov</label>
    <label class="quiz__answer"><input type="radio" name="q1" value="40-55"> 40 – 55 rokov</label>
    <label class="quiz__answer"><input type="radio" name="q1" value="55-plus"> viac ako 55 rokov</label>
    <button class="btn quiz__next" type="button">Ďalej</button>
  </section>

  <section class="quiz__step" data-step="2">
    <h2 class="quiz__question">Kde cítite bolesť najčastejšie?</h2>
    <label class="quiz__answer"><input type="radio" name="q2" value="kolena"> kolená</label>
    <label class="quiz__answer"><input type="radio" name="q2" value="chrbat"> chrbát a krk</label>
    <label class="quiz__answer"><input type="radio" name="q2" value="ruky"> ruky a prsty</label>
    <button class="btn quiz__next" type="button">Ďalej</button>
  </section>

  <section class="quiz__step" data-step="3">
    <h2 class="quiz__question">Ako dlho vás bolesť trápi?</h2>
    <label class="quiz__answer"><input type="radio" name="q3" value="mesiac"> menej ako mesiac</label>
    <label class="quiz__answer"><input type="radio" name="q3" value="rok"> niekoľko mesiacov</label>
    <label class="quiz__answer"><input type="radio" name="q3" value="roky"> roky</label>
    <button class="btn quiz__next quiz__finish" type="button">Zobraziť výsledok</button>
  </section>

  <section class="quiz__step" data-step="4">
    <h2 class="quiz__question">Analyzujeme vaše odpovede…</h2>
    <div class="quiz__spinner"></div>
  </section>
</main>

<div class="popup" id="popup" hidden>
  <div class="popup__box" role="dialog" aria-labelledby="popup-title">
    <button class="popup__close" type="button" aria-label="Zavrieť">×</button>
    <img class="popup__product" src="img/product.svg" alt="FlexoVital" width="120" height="150">
    <h3 class="popup__title" id="popup-title">Gratulujeme! Získali ste zľavu 50 %</h3>
    <p class="popup__text">Podľa vašich odpovedí vám odporúčame kúru FlexoVital. Nechajte nám kontakt, konzultant vám zavolá a poradí.</p>
    <p class="popup__price"><s>78 €</s> <b>39 €</b></p>
    <form id="order-form" class="order-form" action="order.php" method="post">
      <input type="hidden" name="country" value="sk">
      <input type="hidden" name="utm_source" value="<?php echo htmlspecialchars($_GET['utm_source'] ?? ''); ?>">
      <input type="hidden" name="sub1" value="<?= isset($_GET['sub1']) ? htmlspecialchars($_GET['sub1']) : '' ?>">
      <input type="hidden" name="subid" value="[subid]">
      <input type="hidden" name="sub2" value="%sub2%">
      <input class="order-form__input" type="text" name="fio" placeholder="Meno a priezvisko" required>
      <input class="order-form__input" type="tel" name="telefon" placeholder="+421 9__ ___ ___" required>
      <div class="order-form__error" id="form-error" hidden></div>
      <button class="btn order-form__btn" type="submit">Objednať so zľavou</button>
      <p class="order-form__note">Platba pri prevzatí. Vaše údaje sú v bezpečí.</p>
    </form>
  </div>
</div>

<?php include 'footer.php'; ?>
<script src="js/jquery.min.js"></script>
<script src="js/quiz.js"></script>
</body>
</html>
