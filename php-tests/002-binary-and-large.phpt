--TEST--
Session data is binary-safe: NUL bytes, 8-bit bytes and more than 1 MB
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
session_start();
$id = session_id();
$binary = "a\0b\xff\xfe\x80" . str_repeat("\0", 10);
$big = random_bytes(1_500_000);
$_SESSION['binary'] = $binary;
$_SESSION['big'] = $big;
session_write_close();
$_SESSION = [];
session_id($id);
session_start();
var_dump($_SESSION['binary'] === $binary);
var_dump($_SESSION['big'] === $big);
var_dump(strlen(rr_cmd('GET', rr_key($id))) > 1_500_000);
session_write_close();
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
