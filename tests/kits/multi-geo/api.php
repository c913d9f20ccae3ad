<?php
/**
 * API bridge of the kit. The landing's form posts to the page itself; the page's PHP
 * version includes this file, the HTML version needs the server to answer the post.
 */
const API_KEY = 'KIT-KEY-0f3a9c7e51';
const API_URL = 'https://lk.dalead.pro/api/wm/push.json';
const OFFER = 311;
const FLOW = 88;
$prices = ['es' => 39, 'pt' => 35, 'it' => 45];

$country = in_array($_POST['country'] ?? '', array_keys($prices), true) ? $_POST['country'] : 'es';
$name = trim(($_POST['first_name'] ?? '') . ' ' . ($_POST['last_name'] ?? ''));
$phone = preg_replace('/\D/', '', $_POST['phone'] ?? '');

$ch = curl_init(API_URL . '?id=' . API_KEY);
curl_setopt_array($ch, [
    CURLOPT_POST => true,
    CURLOPT_RETURNTRANSFER => true,
    CURLOPT_TIMEOUT => 20,
    CURLOPT_POSTFIELDS => http_build_query([
        'offer' => OFFER, 'flow' => FLOW, 'name' => $name, 'phone' => $phone, 'country' => $country,
        'base' => $prices[$country], 'currency' => 'eur', 'ip' => $_SERVER['REMOTE_ADDR'],
        'ua' => $_SERVER['HTTP_USER_AGENT'] ?? '', 'sub1' => $_POST['sub1'] ?? '',
    ]),
]);
$res = json_decode((string) curl_exec($ch), true);
curl_close($ch);

header('Location: ' . (!empty($res['url']) ? $res['url'] : 'confirm.html'));
exit;
