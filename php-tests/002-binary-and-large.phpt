--TEST--
Session data is binary-safe (NUL bytes, 8-bit bytes, more than 1 MB); data over rustredis.max_data_bytes is refused with a warning and the stored session is kept
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

// Still reads the stored 1.5 MB (a reply may take max_data_bytes plus 1 MiB), refuses the write.
ini_set('rustredis.max_data_bytes', '500000');
session_id($id);
session_start();
$_SESSION = ['small' => 'x'];
$_SESSION['too_big'] = str_repeat('y', 600000);
ob_start();
session_write_close();
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
var_dump(strlen(rr_cmd('GET', rr_key($id))) > 1_500_000, rr_cmd('EXISTS', rr_key($id) . '_LOCK'));
?>
--EXPECTF--
bool(true)
bool(true)
bool(true)

Warning: session_write_close(): rustredis: write skipped: session data is 600034 bytes, more than rustredis.max_data_bytes=500000

Warning: session_write_close(): Failed to write session data (rustredis). %s
bool(true)
int(0)
