--TEST--
Hostile session ids never become Redis keys; strict mode hands out a fresh working session
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
ob_start();
$hostile = [str_repeat('a', 600), '../../etc/passwd', 'abc*', "abc\ndef", 'abc def', "x\0y", 'x%00y', '{tag}x'];

echo "-- strict mode: a fresh id\n";
ini_set('session.use_strict_mode', '1');
foreach ($hostile as $id) {
    session_id($id);
    $started = session_start();
    $fresh = session_id();
    $_SESSION['ok'] = 1;
    session_write_close();
    printf("%s %s\n", var_export($started, true), $fresh !== $id && strlen($fresh) === 32 ? 'fresh' : "kept '$fresh'");
}

echo "-- non-strict mode: refused (as the files handler does) or replaced by PHP itself\n";
ini_set('session.use_strict_mode', '0');
foreach ($hostile as $id) {
    session_id($id);
    $started = @session_start();
    $message = error_get_last()['message'] ?? '';
    printf("%s %s\n", var_export($started, true),
        $started ? (session_id() !== $id ? 'replaced by PHP' : 'KEPT') : (str_contains($message, 'Failed to read session data') ? 'refused' : $message));
    if ($started) session_write_close();
    error_clear_last();
}
session_id('../../etc/passwd');
session_start();
$output = ob_get_clean();
echo preg_replace('/ in \S+ on line \d+/', '', $output);

echo "-- only well-formed keys exist\n";
foreach (rr_keys() as $key) {
    if (!preg_match('/^[0-9a-v]{32}(_LOCK_WAKE)?$/', $key)) echo "bad key: ", json_encode($key), "\n";
}
echo "done\n";
?>
--EXPECTF--
-- strict mode: a fresh id
true fresh
true fresh
true fresh
true fresh
true fresh
true fresh
true fresh
true fresh
-- non-strict mode: refused (as the files handler does) or replaced by PHP itself
false refused
false refused
false refused
true replaced by PHP
true replaced by PHP
false refused
false refused
false refused

Warning: session_start(): rustredis: session id rejected: it is empty, longer than 256 characters or contains characters other than A-Z, a-z, 0-9, ',' and '-'

Warning: session_start(): Failed to read session data: rustredis (path: %s)
-- only well-formed keys exist
done
