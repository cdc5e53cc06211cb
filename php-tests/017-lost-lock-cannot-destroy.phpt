--TEST--
A request whose lock expired cannot destroy (or regenerate away) the newer data of the request that took the lock over
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
ob_start();
session_start();
$id = session_id();
$_SESSION['cart'] = 'empty';
session_write_close();

foreach (['session_destroy()' => 'session_destroy();', 'session_regenerate_id(true)' => 'ob_start(); session_regenerate_id(true); $_SESSION["cart"] = "stale"; session_write_close();'] as $what => $call) {
    rr_cmd('DEL', rr_key('slow_locked'), rr_key('fast_done'));
    $slow = rr_spawn('
        set_error_handler(function ($no, $message) { echo "warning: ", preg_replace(["/\\(path: [^)]*\\)/", "/(skipped): .*/"], ["(path: …)", "$1"], $message), "\n"; return true; });
        session_id(' . var_export($id, true) . ');
        session_start();
        rr_cmd("SET", rr_key("slow_locked"), "1");
        rr_wait_for_key("fast_done");
        ' . $call . '
    ', ['rustredis.lock_ttl_ms' => '300', 'rustredis.lock_max_hold_ms' => '300']);
    rr_wait_for_key('slow_locked');
    session_id($id);
    session_start();
    $_SESSION['cart'] = "full after $what";
    session_write_close();
    rr_cmd('SET', rr_key('fast_done'), '1');
    echo "-- slow request runs $what after losing its lock\n";
    echo rr_wait($slow);
    session_id($id);
    session_start(['read_and_close' => true]);
    var_dump($_SESSION['cart']);
}
echo ob_get_clean();
?>
--EXPECT--
-- slow request runs session_destroy() after losing its lock
warning: session_destroy(): rustredis: lock lost, write skipped
warning: session_destroy(): Session object destruction failed
string(28) "full after session_destroy()"
-- slow request runs session_regenerate_id(true) after losing its lock
warning: session_regenerate_id(): rustredis: lock lost, write skipped
warning: session_regenerate_id(): Session object destruction failed. ID: rustredis (path: …)
string(38) "full after session_regenerate_id(true)"
