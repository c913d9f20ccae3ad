<?php
header('Content-Type: application/json; charset=utf-8');

define('API_URL', 'https://lk.dalead.pro/api/wm/push.json');
define('API_KEY', 'KIT-KEY-0f3a9c7e51');
define('OFFER_ID', 305);
define('FLOW_ID', 77);

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    http_response_code(405);
    echo json_encode(['status' => 'error', 'message' => 'Method not allowed']);
    exit;
}

$fio   = trim($_POST['fio'] ?? '');
$phone = preg_replace('~\D+~', '', $_POST['telefon'] ?? '');
if ($fio === '' || strlen($phone) < 9) {
    http_response_code(422);
    echo json_encode(['status' => 'error', 'message' => 'Skontrolujte, prosím, meno a telefónne číslo.']);
    exit;
}

$post = [
    'offer'   => OFFER_ID,
    'flow'    => FLOW_ID,
    'name'    => $fio,
    'phone'   => $phone,
    'country' => $_POST['country'] ?? 'sk',
    'ip'      => $_SERVER['REMOTE_ADDR'],
    'ua'      => $_SERVER['HTTP_USER_AGENT'] ?? '',
    'subid'   => $_POST['subid'] ?? '',
    'sub2'    => $_POST['sub2'] ?? '',
    'utm_source' => $_COOKIE['utm_source'] ?? '',
];

$curl = curl_init();
curl_setopt_array($curl, [
    CURLOPT_URL => API_URL . '?id=' . API_KEY,
    CURLOPT_POST => 1,
    CURLOPT_POSTFIELDS => http_build_query($post),
    CURLOPT_RETURNTRANSFER => 1,
    CURLOPT_CONNECTTIMEOUT => 10,
]);
$answer = json_decode(curl_exec($curl), true);
curl_close($curl);

if (isset($answer['status']) && $answer['status'] === 'ok') {
    echo json_encode(['status' => 'ok', 'redirect' => 'success.html']);
} else {
    http_response_code(400);
    echo json_encode(['status' => 'error', 'message' => $answer['message'] ?? 'Objednávku sa nepodarilo odoslať.']);
}
