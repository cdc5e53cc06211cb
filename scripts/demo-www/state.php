<?php
// The demo's session bookkeeping: ?do=runs lists the demo's cases; ?do=reset&c=… empties
// the session (creating it, with its cookie, when the browser has none); ?do=show&c=… returns it.

declare(strict_types=1);
require __DIR__ . '/../demo-lib.php';

header('Content-Type: application/json');
header('Cache-Control: no-store');
$do = $_GET['do'] ?? 'show';
if ($do === 'runs') {
    echo json_encode(rr_demo_runs());
    return;
}
rr_apply_config((string) ($_GET['c'] ?? ''));
rr_use_requested_session_id();
if ($do === 'reset') {
    session_start();
    $_SESSION = ['user' => 'demo'];
    $saved = session_write_close();
    echo json_encode(['id' => session_id(), 'saved' => $saved]);
    return;
}
session_start(['read_and_close' => true]);
echo json_encode(['id' => session_id(), 'session' => $_SESSION]);
