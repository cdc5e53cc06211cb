--TEST--
A request whose lock expired cannot overwrite the newer write of the request that took the lock over
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
session_start();
$id = session_id();
$_SESSION['by'] = 'initial';
session_write_close();

$slow = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("slow_locked"), "1");
    // Stay in the request until the other one has taken over the expired lock and written.
    rr_wait_for_key("fast_done");
    $_SESSION["by"] = "slow";
    // PHP 8.2 returns true even when the handler refuses the write; the warnings tell.
    var_dump(session_write_close());
', ['rustredis.lock_ttl_ms' => '300', 'rustredis.lock_max_hold_ms' => '300']);
rr_wait_for_key('slow_locked');
session_id($id);
var_dump(session_start());
$_SESSION['by'] = 'fast';
session_write_close();
rr_cmd('SET', rr_key('fast_done'), '1');
echo rr_wait($slow);
var_dump(rr_cmd('GET', rr_key($id)));
?>
--EXPECTF--
bool(true)

Warning: session_write_close(): rustredis: lock lost, write skipped: %s in Standard input code on line %d

Warning: session_write_close(): Failed to write session data (rustredis). %s in Standard input code on line %d
bool(true)
string(14) "by|s:4:"fast";"
