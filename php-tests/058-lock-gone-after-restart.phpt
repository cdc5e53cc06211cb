--TEST--
Redis restarts empty while a request holds its lock: the refused write says the lock no longer exists and that no other request holds it (not that another request took it)
--FILE--
<?php
require __DIR__ . '/common.inc';
// A Redis of this test's own, so restarting it disturbs no other test.
$dir = sys_get_temp_dir() . '/rr-restart-' . bin2hex(random_bytes(4));
mkdir($dir);
$socket = "$dir/redis.sock";
$start = function () use ($dir, $socket) {
    @unlink($socket);
    $redis = proc_open([rr_redis_server(), '--port', '0', '--unixsocket', $socket, '--save', '', '--appendonly', 'no', '--dir', $dir],
        [1 => ['file', "$dir/log", 'a'], 2 => ['redirect', 1]], $pipes);
    rr_wait_until(fn() => @stream_socket_client("unix://$socket"), 5);
    return $redis;
};
$stop = function ($redis) {
    proc_terminate($redis, 15);
    proc_close($redis);
};
$redis = $start();
// A long lease: no renewal runs during the test, so only the write finds the lock gone.
rr_setup(['session.save_path' => "unix://$socket?prefix=restart:", 'rustredis.lock_ttl_ms' => '60000']);
ob_start();
session_start();
$_SESSION['v'] = 1;
$stop($redis);
$redis = $start();
$_SESSION['v'] = 2;
session_write_close();
$stop($redis);
array_map('unlink', glob("$dir/*"));
rmdir($dir);
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECTF--
Warning: session_write_close(): rustredis: lock lost, write skipped: this request's session lock no longer exists in Redis and no other request holds it (its lease, rustredis.lock_ttl_ms, ran out before it was renewed, or Redis lost it: a restart or a failover); this request's changes were not saved, so that nothing another request may have written meanwhile is overwritten

Warning: session_write_close(): Failed to write session data (rustredis). Please verify that the current setting of session.save_path is correct (%s)
