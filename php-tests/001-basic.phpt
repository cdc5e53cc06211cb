--TEST--
Sessions round-trip through Redis under phpredis's key layout, with session.gc_maxlifetime as TTL
--INI--
session.gc_maxlifetime=1234
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
var_dump(session_start());
$id = session_id();
var_dump(strlen($id) >= 22);
$_SESSION['user'] = 'alice';
$_SESSION['cart'] = [1, 2, 3];
var_dump(session_write_close());
var_dump(rr_cmd('GET', rr_key($id)));
$ttl = rr_cmd('TTL', rr_key($id));
var_dump($ttl > 1200 && $ttl <= 1234);
// An uncontended request leaves nothing but the data behind (no lock, no wake-up list).
var_dump(rr_keys() === [$id]);

// Known id, unchanged data (lazy_write): update_timestamp renews the TTL, data stays.
rr_cmd('EXPIRE', rr_key($id), '100');
session_id($id);
session_start();
var_dump($_SESSION['user'], $_SESSION['cart']);
var_dump(session_gc());
session_write_close();
var_dump(rr_cmd('TTL', rr_key($id)) > 1200);
var_dump(rr_cmd('GET', rr_key($id)) === 'user|s:5:"alice";cart|a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}');
var_dump(rr_cmd('EXISTS', rr_lock_key($id)));
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
string(52) "user|s:5:"alice";cart|a:3:{i:0;i:1;i:1;i:2;i:2;i:3;}"
bool(true)
bool(true)
string(5) "alice"
array(3) {
  [0]=>
  int(1)
  [1]=>
  int(2)
  [2]=>
  int(3)
}
int(0)
bool(true)
bool(true)
int(0)
