<?php
// Backfix page: shown when the visitor presses "back" on the landing.
// Older template, saved in windows-1250 like many Polish kits.
$discount = 60;
$price_old = 298;
$price_new = round($price_old * (100 - $discount) / 100);
?>
<!DOCTYPE html>
<html lang="pl">
<head>
  <meta charset="windows-1250">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>Zaczekaj! Specjalna oferta tylko dla Ciebie</title>
  <link rel="stylesheet" href="../css/style.css">
</head>
<body>
<div class="container article">
  <h1 class="article__title">Zaczekaj! Mamy dla Ciebie rabat <?php echo $discount; ?>%</h1>
  <p>Tylko dziś Artrolux za <b class="price-new"><?php echo $price_new; ?> zł</b> zamiast <span class="price-old"><?= $price_old ?> zł</span>. Zostaw numer telefonu – oddzwonimy i odpowiemy na wszystkie pytania.</p>
  <div class="order-box">
    <img class="order-box__product" src="../img/product.svg" alt="Artrolux" width="160" height="200">
    <div class="order-box__body">
      <form class="order-form" action="../getform.php" method="post">
        <input type="hidden" name="utm_source" value="{clickid}">
        <input type="hidden" name="sub1" value="{sub1}">
        <label class="order-form__label" for="name-back">Imię</label>
        <input class="order-form__input" id="name-back" type="text" name="imie" placeholder="Jan" required>
        <label class="order-form__label" for="phone-back">Telefon</label>
        <input class="order-form__input" id="phone-back" type="tel" name="phone" placeholder="+48 ___ ___ ___" required>
        <button class="order-form__btn" type="submit">ODBIERZ RABAT</button>
      </form>
    </div>
  </div>
  <p class="footer">© <?php echo date('Y'); ?> Zdrowie na co dzień</p>
</div>
</body>
</html>
