--TEST--
rustredis_stats() counts what the test provokes (a wait, a lock timeout, a lost lock, an optimistic conflict), rustredis_session_info() describes the current request, rustredis.slow_lock_ms logs one line naming the holder
--FILE--
<?php
require __DIR__ . '/common.inc';
$log = sys_get_temp_dir() . '/rr-slowlock-' . bin2hex(random_bytes(4)) . '.log';
rr_setup(['rustredis.slow_lock_ms' => '200', 'error_log' => $log, 'rustredis.lock_wait_ms' => '10000']);
$id = 'stats-' . bin2hex(random_bytes(6));
rustredis_stats(true);
var_dump(rustredis_session_info()['mode']);

// A holder in another process keeps the session for about 600 ms.
$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("locked"), (string) getmypid());
    usleep(600000);
    session_write_close();
');
rr_wait_for_key('locked');
$pid = rr_cmd('GET', rr_key('locked'));
echo "-- a wait\n";
session_id($id);
session_start();
$info = rustredis_session_info();
// The pipelined attempt that found the lock held is followed at once by the one that queues;
// each later attempt comes after a blocking wait. The release hands the lock over as the reply
// of a wait (2 × attempts - 1 round trips), or, when it came just as a wait ended, the next
// attempt finds the lock its own (2 × attempts).
$trips = $info['round_trips'];
var_dump($info['mode'], $info['holds_lock'], $info['waited_ms'] >= 200, $info['attempts'] > 1,
    $trips === 2 * $info['attempts'] - 1 || $trips === 2 * $info['attempts']);
var_dump(str_contains($info['waited_for'], "by php Standard input code on " . php_uname('n') . ", pid $pid"));
session_write_close();
var_dump(rustredis_session_info()['holds_lock'], rustredis_session_info()['round_trips'] === $trips + 1);
rr_wait($holder);
$lines = file($log, FILE_IGNORE_NEW_LINES);
var_dump(count($lines));
var_dump((bool) preg_match('/rustredis: waited \d+ ms for the lock of session stats-[0-9a-f]{2}… \(rustredis.slow_lock_ms=200\); it was held for [\d.]+ s by php Standard input code on \S+, pid ' . $pid . '$/', $lines[0]));

echo "-- a lock timeout\n";
$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("locked2"), "1");
    rr_wait_for_key("done2");
    session_write_close();
');
rr_wait_for_key('locked2');
ini_set('rustredis.lock_wait_ms', '100');
session_id($id);
var_dump(@session_start());
rr_cmd('SET', rr_key('done2'), '1');
rr_wait($holder);
ini_set('rustredis.lock_wait_ms', '10000');

echo "-- a lost lock\n";
ini_set('rustredis.lock_ttl_ms', '200');
ini_set('rustredis.lock_max_hold_ms', '200');
session_id($id);
session_start();
usleep(700000);
$_SESSION['late'] = 1;
@session_write_close();
ini_restore('rustredis.lock_ttl_ms');
ini_restore('rustredis.lock_max_hold_ms');

echo "-- an optimistic conflict\n";
ini_set('rustredis.locking', 'optimistic');
session_id($id);
session_start();
rr_cmd('SET', rr_key($id), 'k|s:6:"theirs";');
$_SESSION['k'] = 'mine';
@session_write_close();

$s = rustredis_stats();
var_dump($s['pid'] === getmypid(), $s['locks_taken'], $s['lock_waits'], $s['lock_timeouts'], $s['locks_lost'],
    $s['lease_max_hold_reached'], $s['conflicts']['keys'], $s['lock_wait_histogram_ms']['le_1000'] + $s['lock_wait_histogram_ms']['le_100']);
var_dump($s['sessions_opened'] >= 4, $s['lease_renewals'] > 0, $s['bytes_written'] > 0);
echo "-- reset\n";
rustredis_stats(true);
var_dump(rustredis_stats()['locks_taken'], rustredis_stats()['lock_waits']);
echo "-- phpinfo shows the counters\n";
ob_start();
phpinfo(INFO_MODULES);
var_dump(str_contains(ob_get_clean(), 'stats: locks_taken'));
unlink($log);
?>
--EXPECT--
string(4) "none"
-- a wait
string(6) "locked"
bool(true)
bool(true)
bool(true)
bool(true)
bool(true)
bool(false)
bool(true)
int(1)
bool(true)
-- a lock timeout
bool(false)
-- a lost lock
-- an optimistic conflict
bool(true)
int(2)
int(2)
int(1)
int(1)
int(1)
int(1)
int(2)
bool(true)
bool(true)
bool(true)
-- reset
int(0)
int(0)
-- phpinfo shows the counters
bool(true)
