--TEST--
A lock taken by an acquire whose reply timed out is not stranded: Redis stalls (DEBUG SLEEP) past rustredis.read_timeout_ms, session_start() fails, and the lock Redis grants afterwards is released as soon as Redis answers again, long before its lease would end
--FILE--
<?php
require __DIR__ . '/common.inc';
// A Redis of this test's own: pausing it must not stall other tests.
$dir = sys_get_temp_dir() . '/rr-stall-' . bin2hex(random_bytes(4));
mkdir($dir);
$socket = "$dir/redis.sock";
$redis = proc_open([rr_redis_server(), '--port', '0', '--unixsocket', $socket, '--save', '', '--appendonly', 'no', '--dir', $dir, '--enable-debug-command', 'yes'],
    [1 => ['file', "$dir/redis.log", 'w'], 2 => ['redirect', 1]], $pipes);
rr_wait_until(fn() => file_exists($socket), 5);
putenv("RUSTREDIS_TEST_REDIS=unix://$socket");
// A 10 s lease: without the release, the stranded lock would stay that long.
rr_setup(['session.save_path' => "unix://$socket?prefix=" . rr_prefix(), 'rustredis.read_timeout_ms' => '300', 'rustredis.lock_ttl_ms' => '10000']);
$id = 'stranded-' . bin2hex(random_bytes(6));
$lock = rr_key($id) . '_LOCK';

// A first request leaves a pooled connection behind: the stalled command is then the acquire
// itself, sent and run late, not a connect.
session_id($id . 'warm');
session_start();
session_write_close();

// The server stops for 1.5 s (the reply to DEBUG SLEEP is read later): commands sent meanwhile
// wait in its socket buffers and run afterwards, even from a client that gave up on them.
$sleeper = stream_socket_client("unix://$socket");
fwrite($sleeper, "*3\r\n\$5\r\nDEBUG\r\n\$5\r\nSLEEP\r\n\$3\r\n1.5\r\n");
usleep(100000);
$paused = microtime(true);
session_id($id);
ob_start();
var_dump(session_start());
echo preg_replace(['/ in \S+ on line \d+/', '/\(path: [^)]*\)/', '/unix:\/\/\S+ failed/'], ['', '(path: …)', 'unix://… failed'], ob_get_clean());
echo "-- once Redis answers again, the acquire it ran late is undone\n";
// Counted only when the release found our token: Redis did grant the lock, late.
var_dump(rr_wait_until(fn() => rustredis_stats()['locks_released_late'] === 1, 8));
var_dump(rr_cmd('EXISTS', $lock), microtime(true) - $paused < 8);
echo "-- and the next request gets in at once\n";
session_id($id);
var_dump(session_start(), rustredis_session_info()['attempts']);
session_write_close();
fclose($sleeper);
proc_terminate($redis);
proc_close($redis);
array_map('unlink', glob("$dir/*"));
rmdir($dir);
?>
--EXPECT--
Warning: session_start(): rustredis: Redis at unix://… failed: no complete reply within 300 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)

Warning: session_start(): Failed to read session data: rustredis (path: …)
bool(false)
-- once Redis answers again, the acquire it ran late is undone
bool(true)
int(0)
bool(true)
-- and the next request gets in at once
bool(true)
int(0)
