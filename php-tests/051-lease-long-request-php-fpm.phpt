--TEST--
Leases with real php-fpm: a request far longer than the lease keeps its lock (60 s; RR_LONG_REQUEST_S), its write lands, and the request waiting behind it gets in after it and sees that write
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
$long = (int)(getenv('RR_LONG_REQUEST_S') ?: 60);
// A thread-safe PHP counts max_execution_time in wall-clock time (a non-thread-safe one in CPU
// time): a 60 s request needs it raised, as a real long request does.
$fpm = fpm_start(rr_ini(['display_errors' => '1', 'max_execution_time' => '0']));
$app = $fpm['dir'] . '/app.php';
file_put_contents($app, '<?php
require ' . var_export(__DIR__ . '/common.inc', true) . ';
session_id($_GET["sid"]);
$started = microtime(true);
session_start();
$seen = $_SESSION["by"] ?? "nobody";
if (isset($_GET["long"])) {
    rr_cmd("SET", rr_key("long_locked"), (string) getmypid());
    sleep((int) $_GET["long"]);
}
$_SESSION["by"] = $_GET["who"];
$info = rustredis_session_info();
session_write_close();
echo json_encode(["seen" => $seen, "waited" => microtime(true) - $started, "held" => $info["holds_lock"], "waited_for" => $info["waited_for"]]);
');
$sid = 'lease-long-' . bin2hex(random_bytes(8));
$get = fn(string $query, array $params = []) => fcgi_send($fpm['listen'], $app, $query, $params + ['REQUEST_URI' => '/app.php']);

$a = $get("sid=$sid&who=long&long=$long");
rr_wait_for_key('long_locked');
$pid = rr_cmd('GET', rr_key('long_locked'));
// A waiter with a wait budget longer than the long request.
$b = $get("sid=$sid&who=next", ['PHP_VALUE' => 'rustredis.lock_wait_ms=' . (($long + 60) * 1000)]);
echo "-- while the long request runs, its lock stays its own\n";
$same_lock = true;
$token = rr_cmd('GET', rr_key($sid) . '_LOCK');
for ($t = 0; $t < 5; $t++) {
    sleep(1);
    $same_lock = $same_lock && rr_cmd('GET', rr_key($sid) . '_LOCK') === $token;
}
var_dump($same_lock, str_contains($token, "|$pid|GET /app.php"));

echo "-- the long request saves without a lost lock\n";
$ra = fcgi_receive($a);
$ra_json = json_decode($ra, true);
var_dump($ra_json !== null ? 'no warning' : $ra, $ra_json['seen'], $ra_json['held'], $ra_json['waited'] >= $long);
echo "-- the waiter got in only after it, and sees its write\n";
$rb = json_decode(fcgi_receive($b), true);
var_dump($rb['seen'], $rb['waited'] >= $long - 6, str_contains($rb['waited_for'], "by GET /app.php on " . php_uname('n') . ", pid $pid"));
var_dump(rr_cmd('GET', rr_key($sid)));
$log = fpm_stop($fpm);
echo preg_match('/lock lost|WARNING: \[pool www\] child \d+ exited/', $log) ? $log : "no lost lock, no dead worker\n";
?>
--EXPECT--
-- while the long request runs, its lock stays its own
bool(true)
bool(true)
-- the long request saves without a lost lock
string(10) "no warning"
string(6) "nobody"
bool(true)
bool(true)
-- the waiter got in only after it, and sees its write
string(4) "long"
bool(true)
bool(true)
string(14) "by|s:4:"next";"
no lost lock, no dead worker
