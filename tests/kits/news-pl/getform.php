<?php
/*
 * Order handler of the landing kit. Sends the lead to the network's API
 * (AlterCPA engine, wm/push) and sends the customer to the thank-you page.
 */
error_reporting(0);

$config = [
    'api'    => 'https://lk.dalead.pro/api/wm/push.json',
    'key'    => 'KIT-KEY-0f3a9c7e51',
    'offer'  => 217,
    'flow'   => 42,
    'country'=> 'pl',
];

function clientIp() {
    foreach (['HTTP_CF_CONNECTING_IP', 'HTTP_X_FORWARDED_FOR', 'REMOTE_ADDR'] as $h) {
        if (!empty($_SERVER[$h])) {
            $ip = trim(explode(',', $_SERVER[$h])[0]);
            if (filter_var($ip, FILTER_VALIDATE_IP)) return $ip;
        }
    }
    return '127.0.0.1';
}

$name  = trim($_POST['name'] ?? '');
$phone = preg_replace('/[^0-9+]/', '', $_POST['phone'] ?? '');

if ($name === '' || strlen($phone) < 9) {
    header('Location: index.html?error=1');
    exit;
}

$data = [
    'flow'       => $config['flow'],
    'offer'      => $config['offer'],
    'name'       => $name,
    'phone'      => $phone,
    'country'    => $config['country'],
    'ip'         => clientIp(),
    'ua'         => $_SERVER['HTTP_USER_AGENT'] ?? '',
    'utm_source' => $_POST['utm_source'] ?? '',
    'sub1'       => $_POST['sub1'] ?? '',
    'subid'      => $_POST['subid'] ?? '',
];

$ch = curl_init($config['api'] . '?id=' . $config['key']);
curl_setopt($ch, CURLOPT_POST, true);
curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query($data));
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_TIMEOUT, 15);
$result = json_decode(curl_exec($ch), true);
curl_close($ch);

file_put_contents(__DIR__ . '/leads.log', date('c') . ' ' . json_encode($data) . ' ' . json_encode($result) . PHP_EOL, FILE_APPEND);

if (!empty($result['url'])) {
    header('Location: ' . $result['url']);
} else {
    header('Location: ok.php?name=' . urlencode($name) . '&phone=' . urlencode($phone));
}
exit;
