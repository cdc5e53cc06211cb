--TEST--
Leases with real php-fpm: kill -9 of the worker holding a session's lock frees the session within the lease, with default settings
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
$fpm = fpm_start(rr_ini(['display_errors' => '1', 'rustredis.slow_lock_ms' => '1000']));
$app = $fpm['dir'] . '/app.php';
file_put_contents($app, '<?php
require ' . var_export(__DIR__ . '/common.inc', true) . ';
session_id($_GET["sid"]);
$started = microtime(true);
session_start();
if (isset($_GET["hold"])) {
    rr_cmd("SET", rr_key("holder_pid"), (string) getmypid());
    $_SESSION["n"] = 100; // never saved: the worker dies before it writes
    sleep(600);
}
$_SESSION["n"] = ($_SESSION["n"] ?? 0) + 1;
session_write_close();
echo json_encode(["n" => $_SESSION["n"], "waited" => microtime(true) - $started, "info" => rustredis_session_info()]);
');
$sid = 'lease-kill9-' . bin2hex(random_bytes(8));
$get = fn(string $query) => fcgi_send($fpm['listen'], $app, $query, ['REQUEST_URI' => "/app.php?$query"]);

echo "-- a request holds the lock, and its worker is killed with SIGKILL\n";
$holder = $get("sid=$sid&hold=1");
var_dump(rr_wait_for_key('holder_pid'));
$pid = rr_cmd('GET', rr_key('holder_pid'));
// The lock names its holder, and lives one lease (2 s), not 30 s.
var_dump(str_contains(rr_cmd('GET', rr_key($sid) . '_LOCK'), "|$pid|GET /app.php"), rr_cmd('PTTL', rr_key($sid) . '_LOCK') <= 2000);
$killed = microtime(true);
proc_close(proc_open(['kill', '-9', $pid], [], $pipes));
fcgi_receive($holder); // the connection ends with the worker

echo "-- the next request of the session gets in within the lease, and finds no trace of the dead one\n";
$r = json_decode(fcgi_receive($get("sid=$sid")), true);
$after_kill = microtime(true) - $killed;
var_dump($r['n']);
// The old default (a 30 s lock TTL) made this request wait 30 s; the lease is 2 s.
var_dump($after_kill < 10);
// It waited for the dead worker, and says whom it waited for.
var_dump($r['info']['attempts'] > 0);
$holder_named = "by GET /app.php on " . php_uname('n') . ", pid $pid";
var_dump(str_contains($r['info']['waited_for'], $holder_named));

echo "-- php-fpm's log: the kill, and one line for the slow wait (rustredis.slow_lock_ms), naming the holder\n";
$log = fpm_stop($fpm);
$lines = array_filter(explode("\n", $log), fn($l) => preg_match('/WARNING|ERROR|rustredis/', $l));
foreach ($lines as $line) {
    if (str_contains($line, "child $pid exited on signal 9 (SIGKILL)")) echo "the holder's worker was killed\n";
    elseif (preg_match('/rustredis: waited \d+ ms for the lock of session lease-ki… \(rustredis.slow_lock_ms=1000\); it was held for [\d.]+ s (.*)"$/', $line, $m))
        echo "slow lock logged: ", $m[1] === $holder_named ? 'names the holder' : $m[1], "\n";
    else echo "unexpected: $line\n";
}
?>
--EXPECT--
-- a request holds the lock, and its worker is killed with SIGKILL
bool(true)
bool(true)
bool(true)
-- the next request of the session gets in within the lease, and finds no trace of the dead one
int(1)
bool(true)
bool(true)
bool(true)
-- php-fpm's log: the kill, and one line for the slow wait (rustredis.slow_lock_ms), naming the holder
the holder's worker was killed
slow lock logged: names the holder
