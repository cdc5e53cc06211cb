--TEST--
Redis stops answering: session_start() fails with a warning after read_timeout, and the connection that timed out is never reused (its late reply cannot be mistaken for another answer)
--FILE--
<?php
require __DIR__ . '/common.inc';
// A Redis of this test's own, so stopping it disturbs no other test.
$dir = sys_get_temp_dir() . '/rr-slow-' . bin2hex(random_bytes(4));
mkdir($dir);
$socket = "$dir/redis.sock";
$redis = proc_open([rr_redis_server(), '--port', '0', '--unixsocket', $socket, '--save', '', '--appendonly', 'no', '--dir', $dir],
    [1 => ['file', "$dir/log", 'w'], 2 => ['redirect', 1]], $pipes);
rr_wait_until(fn() => file_exists($socket), 5);

rr_setup(['session.save_path' => "unix://$socket?prefix=slow:", 'rustredis.read_timeout_ms' => '300']);
ob_start();
session_start();
$id = session_id();
$_SESSION['v'] = 'before';
session_write_close();

proc_terminate($redis, 19); // SIGSTOP: the server holds our command and answers nothing
session_id($id);
var_dump(session_start());
proc_terminate($redis, 18); // SIGCONT: the late reply now arrives on the abandoned connection

session_id($id);
var_dump(session_start(), $_SESSION['v']);
$_SESSION['v'] = 'after';
session_write_close();
session_id($id);
session_start(['read_and_close' => true]);
var_dump($_SESSION['v']);

proc_terminate($redis, 15);
proc_close($redis);
array_map('unlink', glob("$dir/*"));
rmdir($dir);
echo preg_replace(['/ in \S+ on line \d+/', '/rr-slow-[0-9a-f]+/'], ['', 'rr-slow-X'], ob_get_clean());
?>
--EXPECT--

Warning: session_start(): rustredis: Redis at unix:///tmp/rr-slow-X/redis.sock failed: no complete reply within 300 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)

Warning: session_start(): Failed to read session data: rustredis (path: unix:///tmp/rr-slow-X/redis.sock?prefix=slow:)
bool(false)
bool(true)
string(6) "before"
string(5) "after"
