<?php
$name  = htmlspecialchars($_GET['name'] ?? '', ENT_QUOTES, 'UTF-8');
$phone = htmlspecialchars($_GET['phone'] ?? '', ENT_QUOTES, 'UTF-8');
?>
<!DOCTYPE html>
<html lang="pl">
<head>
  <meta charset="UTF-8">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <title>Dziękujemy za zamówienie!</title>
  <link rel="stylesheet" href="css/style.css">
</head>
<body>
<div class="container article thanks-page">
  <img src="img/logo.svg" alt="Zdrowie na co dzień" width="180" height="36">
  <h1 class="thanks-title">Dziękujemy<?php if ($name) { echo ', ' . $name; } ?>!</h1>
  <p>Twoje zamówienie zostało przyjęte. Nasz konsultant zadzwoni pod numer <b><?php echo $phone; ?></b> w ciągu 15 minut, aby potwierdzić adres dostawy.</p>
  <p>Prosimy mieć telefon przy sobie.</p>
  <p><a href="index.html">Wróć do artykułu</a></p>
</div>
<!-- tracking pixel -->
<img id="lead-pixel" src="img/px.gif?ev=Lead&amp;cur=PLN&amp;value=149" width="1" height="1" alt="" style="position:absolute;left:-9999px">
</body>
</html>
