<?php
// The demo's session bookkeeping: ?do=configs lists the configurations; ?do=reset&c=… empties
// the session (creating it, with its cookie, when the browser has none); ?do=show&c=… returns it.

declare(strict_types=1);
require __DIR__ . '/../demo-lib.php';

header('Content-Type: application/json');
header('Cache-Control: no-store');
$do = $_GET['do'] ?? 'show';
if ($do === 'configs') {
    echo json_encode(array_map(fn (array $c) => $c['label'], rr_configs()));
    return;
}
rr_apply_config((string) ($_GET['c'] ?? ''));
if ($do === 'reset') {
    session_start();
    $_SESSION = ['user' => 'demo'];
    $saved = session_write_close();
    echo json_encode(['id' => session_id(), 'saved' => $saved]);
    return;
}
session_start(['read_and_close' => true]);
echo json_encode(['id' => session_id(), 'session' => $_SESSION]);
