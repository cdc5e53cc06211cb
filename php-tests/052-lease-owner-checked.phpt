--TEST--
Leases: the renewal thread extends only a lock that still holds this request's token; a lock another client took over is never extended, and the write then reports the lost lock
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup(['rustredis.lock_ttl_ms' => '300']);
session_id('lease-owner-' . bin2hex(random_bytes(6)));
session_start();
$lock = rr_key(session_id()) . '_LOCK';
echo "-- our lock is renewed: after 5 lease periods it still lives, with the same token\n";
$token = rr_cmd('GET', $lock);
usleep(1500000);
var_dump(rr_cmd('GET', $lock) === $token, rr_cmd('PTTL', $lock) > 0);

echo "-- another client's lock (no TTL) in its place is left alone\n";
rr_cmd('SET', $lock, 'someone-else');
usleep(1500000);
var_dump(rr_cmd('GET', $lock), rr_cmd('PTTL', $lock));
$_SESSION['x'] = 'mine';
ob_start();
session_write_close();
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
var_dump(rr_cmd('GET', rr_key(session_id())));
var_dump(rustredis_stats()['locks_lost']);
?>
--EXPECTF--
-- our lock is renewed: after 5 lease periods it still lives, with the same token
bool(true)
bool(true)
-- another client's lock (no TTL) in its place is left alone
string(12) "someone-else"
int(-1)

Warning: session_write_close(): rustredis: lock lost, write skipped: this request's session lock expired (its lease, rustredis.lock_ttl_ms, was not renewed in time) and another request holds it now; this request's changes were not saved so the newer data is kept

Warning: session_write_close(): Failed to write session data (rustredis). Please verify that the current setting of session.save_path is correct (%s)
NULL
int(1)
