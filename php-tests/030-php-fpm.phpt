--TEST--
Real php-fpm: nothing connects in the master, workers keep pooled connections across requests, 10 parallel requests of one session all count, and PHP_VALUE makes an endpoint lock-free without code changes
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
$fpm_binary = rr_php_fpm();

// A Redis and a php-fpm of this test's own: client counts must not see other tests.
$dir = sys_get_temp_dir() . '/rr-fpm-' . bin2hex(random_bytes(4));
mkdir($dir);
$socket = "$dir/redis.sock";
$redis = proc_open([rr_redis_server(), '--port', '0', '--unixsocket', $socket, '--save', '', '--appendonly', 'no', '--dir', $dir],
    [1 => ['file', "$dir/redis.log", 'w'], 2 => ['redirect', 1]], $pipes);
rr_wait_until(fn() => file_exists($socket), 5);
putenv("RUSTREDIS_TEST_REDIS=unix://$socket");
$clients = fn() => count(array_filter(explode("\n", trim(rr_cmd('CLIENT', 'LIST'))))) - 1; // minus our own

$listen = '127.0.0.1:' . (function () { $s = stream_socket_server('tcp://127.0.0.1:0'); $n = stream_socket_get_name($s, false); fclose($s); return (int)substr(strrchr($n, ':'), 1); })();
file_put_contents("$dir/app.php", '<?php
require ' . var_export(__DIR__ . '/common.inc', true) . ';
session_id($_GET["sid"]);
session_start();
$locked = (bool)rr_cmd("EXISTS", "fpm:" . session_id() . "_LOCK");
$n = ($_SESSION["n"] ?? 0) + 1;
usleep((int)($_GET["sleep"] ?? 0));
$_SESSION["n"] = $n;
session_write_close();
echo json_encode(["pid" => getmypid(), "locked" => $locked, "locking" => ini_get("rustredis.locking")]);
');
file_put_contents("$dir/fpm.conf", "[global]
pid = $dir/fpm.pid
error_log = $dir/fpm.log
daemonize = no
[www]
listen = $listen
pm = static
pm.max_children = 4
clear_env = no
catch_workers_output = yes
");
$fpm = proc_open([$fpm_binary, '-n', '-R', '-y', "$dir/fpm.conf", '-d', 'extension=' . rr_env('RUSTREDIS_EXT'),
    '-d', 'session.save_handler=rustredis', '-d', "session.save_path=\"unix://$socket?prefix=fpm:\"",
    '-d', 'session.use_cookies=0', '-d', 'session.cache_limiter=', '-d', 'session.use_strict_mode=0', '-d', 'display_errors=1'],
    [1 => ['file', "$dir/fpm.out", 'w'], 2 => ['redirect', 1]], $pipes, null, ['RUSTREDIS_TEST_REDIS' => "unix://$socket"] + getenv());
rr_wait_until(fn() => @stream_socket_client("tcp://$listen", $errno, $errstr, 1), 5);
usleep(200000); // let every worker finish forking

echo "-- master and idle workers hold no Redis connection\n";
var_dump($clients());

echo "-- 20 sequential requests reuse the workers' pooled connections\n";
$sid = 'fpmsession0000000000000000000001';
$pids = [];
for ($i = 0; $i < 20; $i++) {
    $r = json_decode(fcgi_receive(fcgi_send("tcp://$listen", "$dir/app.php", "sid=$sid")), true);
    $pids[$r['pid']] = true;
}
// Count the handler's connections (their last command was a script); the app's own RESP socket
// closes at the end of each request, but Redis may list it a moment longer.
$connections = substr_count(rr_cmd('CLIENT', 'LIST'), 'cmd=evalsha');
var_dump($connections >= 1 && $connections <= count($pids) && count($pids) <= 4);

echo "-- 10 parallel requests of one session, each holding it 50 ms: every increment counts\n";
$in_flight = [];
for ($i = 0; $i < 10; $i++) $in_flight[] = fcgi_send("tcp://$listen", "$dir/app.php", "sid=$sid&sleep=50000");
$locked = 0;
foreach ($in_flight as $sock) $locked += (int)json_decode(fcgi_receive($sock), true)['locked'];
var_dump($locked, rr_cmd('GET', "fpm:$sid"));

echo "-- PHP_VALUE from the web server makes this endpoint lock-free\n";
// php-fpm keeps a PHP_VALUE in the worker for later requests that send none, so (as the README
// says) every location sends its own value. INI syntax turns off into "" and on into "1".
$r = json_decode(fcgi_receive(fcgi_send("tcp://$listen", "$dir/app.php", "sid=$sid", ['PHP_VALUE' => 'rustredis.locking=off'])), true);
var_dump($r['locking'], $r['locked']);
$r = json_decode(fcgi_receive(fcgi_send("tcp://$listen", "$dir/app.php", "sid=$sid", ['PHP_VALUE' => 'rustredis.locking=on'])), true);
var_dump($r['locking'], $r['locked']);

proc_terminate($fpm, 15);
proc_close($fpm);
$log = file_get_contents("$dir/fpm.out") . @file_get_contents("$dir/fpm.log");
echo preg_match('/(WARNING|ERROR|Warning|Fatal|SIGSEGV|exited on signal)/', $log) ? "fpm log has problems:\n$log" : "fpm log clean\n";
proc_terminate($redis, 15);
proc_close($redis);
array_map('unlink', glob("$dir/*"));
rmdir($dir);
?>
--EXPECT--
-- master and idle workers hold no Redis connection
int(0)
-- 20 sequential requests reuse the workers' pooled connections
bool(true)
-- 10 parallel requests of one session, each holding it 50 ms: every increment counts
int(10)
string(7) "n|i:30;"
-- PHP_VALUE from the web server makes this endpoint lock-free
string(0) ""
bool(false)
string(1) "1"
bool(true)
fpm log clean
