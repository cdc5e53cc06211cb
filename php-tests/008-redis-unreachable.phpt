--TEST--
Redis unreachable: session_start() warns and returns false within the connect timeout, no crash, no hang
--INI--
rustredis.connect_timeout_ms=500
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
// Buffer: output would count as sent headers and freeze the session ini settings.
ob_start();
// Port 1 on loopback: nothing listens there, the connection is refused.
ini_set('session.save_path', 'tcp://127.0.0.1:1?prefix=' . rr_prefix());
var_dump(session_start());
var_dump(session_status() === PHP_SESSION_NONE);
// The process is fine and can use a reachable Redis afterwards.
ini_set('session.save_path', rr_save_path());
var_dump(session_start());
session_write_close();
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECTF--

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:1 failed: Connection refused (os error 111)

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:1?prefix=%s)
bool(false)
bool(true)
bool(true)
