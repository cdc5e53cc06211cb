<?php
// One AJAX request of the demo: open the session, wait on a slow back end (usleep), change the
// session, close it. Answers with JSON timestamps so the caller can draw a waterfall.
//
//   ?c=<configuration>   a name from rr_configs() (scripts/demo-lib.php)
//   &i=<n>               request number; op=key writes $_SESSION["req<n>"]
//   &ms=<ms>             how long the back end takes (0..5000, default 300)
//   &op=key|inc          write one key of our own, or increment the shared 'counter'
//   &pattern=rac         read with read_and_close, do the slow work without holding anything,
//                        then open the session again just to write (the lock is held only then)

declare(strict_types=1);
require __DIR__ . '/../demo-lib.php';

$t = ['start' => microtime(true)];
$warnings = [];
set_error_handler(function (int $no, string $message) use (&$warnings): bool {
    $warnings[] = $message;
    return true;
});

$config = rr_apply_config((string) ($_GET['c'] ?? ''));
rr_use_requested_session_id();
$i = (int) ($_GET['i'] ?? 0);
$ms = max(0, min(5000, (int) ($_GET['ms'] ?? 300)));
$op = ($_GET['op'] ?? 'key') === 'inc' ? 'inc' : 'key';
$rac = ($_GET['pattern'] ?? '') === 'rac';

$phases = [];
$opened = $rac ? session_start(['read_and_close' => true]) : session_start();
$t['opened'] = microtime(true);
$phases[] = [$t['start'], $t['opened'], 'wait'];
usleep($ms * 1000);
if ($rac) {
    $t['work_done'] = microtime(true);
    $phases[] = [$t['opened'], $t['work_done'], 'work'];
    $opened = session_start() && $opened;
    $t['reopened'] = microtime(true);
    $phases[] = [$t['work_done'], $t['reopened'], 'wait'];
}
if ($op === 'inc') {
    $_SESSION['counter'] = ($_SESSION['counter'] ?? 0) + 1;
} else {
    $_SESSION["req$i"] = round(microtime(true), 4);
}
$before_close = count($warnings);
$saved = session_write_close();
// PHP 8.2's session_write_close() returns true even when the handler's write failed; the
// handler's warning is how a refused write is reported, so count those as well.
$write_warned = count($warnings) > $before_close;
$t['end'] = microtime(true);
$phases[] = [$rac ? $t['reopened'] : $t['opened'], $t['end'], 'work'];

header('Content-Type: application/json');
header('Cache-Control: no-store');
echo json_encode([
    'i' => $i,
    'config' => $config['label'],
    'pid' => getmypid(),
    'opened' => $opened,
    'saved' => $saved,
    'write_warned' => $write_warned,
    'warnings' => $warnings,
    't' => $t,
    'phases' => $phases,
]);
