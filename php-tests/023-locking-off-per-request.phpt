--TEST--
rustredis.locking can be switched per request with ini_set (lock-free endpoints without code changes)
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
ob_start();
function lock_held(): bool { return (bool)rr_cmd('EXISTS', rr_key(session_id()) . '_LOCK'); }

ini_set('rustredis.locking', '0');
session_start();
$id = session_id();
var_dump(lock_held());
$_SESSION['a'] = 1;
session_write_close();

ini_set('rustredis.locking', 'optimistic');
session_id($id);
session_start();
var_dump(lock_held());
session_write_close();

ini_set('rustredis.locking', 'on');
session_id($id);
session_start();
var_dump(lock_held(), $_SESSION['a']);
session_write_close();
var_dump(lock_held());
echo ob_get_clean();
?>
--EXPECT--
bool(false)
bool(false)
bool(true)
int(1)
bool(false)
