--TEST--
Round trips, counted by Redis (reads it processed) with the commands MONITOR saw: 2 per locked request (new, changed, unchanged, strict mode), 1 per read_and_close
--FILE--
<?php
require __DIR__ . '/common.inc';
// A Redis of this test's own: its read counter must see this test's clients only.
$dir = sys_get_temp_dir() . '/rr-rt-' . bin2hex(random_bytes(4));
mkdir($dir);
$socket = "$dir/redis.sock";
$redis = proc_open([rr_redis_server(), '--port', '0', '--unixsocket', $socket, '--save', '', '--appendonly', 'no', '--dir', $dir],
    [1 => ['file', "$dir/redis.log", 'w'], 2 => ['redirect', 1]], $pipes);
rr_wait_until(fn() => file_exists($socket), 5);
putenv("RUSTREDIS_TEST_REDIS=unix://$socket");
rr_setup(['session.save_path' => "unix://$socket?prefix=" . rr_prefix()]);
// Buffer: output would count as sent headers and freeze the session ini settings.
ob_start();

/** Reads of client input Redis processed so far (one per round trip; a pipeline is one read). */
function reads(): int {
    preg_match('/total_reads_processed:(\d+)/', rr_cmd('INFO', 'stats'), $m);
    return (int) $m[1];
}

/** Round trips of $cycle (by Redis's count, less the INFO calls that measure it) and the
 * commands it sent (MONITOR, script internals excluded). */
function commands_of(callable $cycle): array {
    $commands = array_column(array_filter(rr_monitor(function () use ($cycle, &$trips) {
        // Let Redis finish with the previous MONITOR connection (its close is a read too): two
        // INFO calls in a row then differ by exactly the one read of the second.
        for ($i = 0; $i < 100 && -reads() + reads() !== 1; $i++) usleep(10000);
        $before = reads();
        $cycle();
        $trips = reads() - $before - 1;
    }), fn($c) => !$c['lua']), 'cmd');
    return [$trips, $commands];
}

function cycle(?string $id, array $options = [], ?callable $change = null): string {
    session_id($id ?? ''); // '': PHP makes a new id (create_sid)
    session_start($options);
    if ($change) $change();
    if (session_status() === PHP_SESSION_ACTIVE) session_write_close();
    return session_id();
}

// Warm up: every script is loaded into Redis once (a first EVALSHA may answer NOSCRIPT).
$id = cycle(null, [], fn() => $_SESSION['n'] = 1);
cycle($id, [], fn() => $_SESSION['n']++);
cycle($id);
cycle($id, ['read_and_close' => true]);

$report = function (string $what, array $measured) {
    [$trips, $commands] = $measured;
    printf("%-36s %d: %s\n", $what, $trips, implode(' ', $commands));
};
$report('new session, locked', commands_of(fn() => cycle(null, [], fn() => $_SESSION['n'] = 1)));
$report('known session, changed, locked', commands_of(fn() => cycle($id, [], fn() => $_SESSION['n']++)));
$report('known session, unchanged, locked', commands_of(fn() => cycle($id)));
$report('read_and_close', commands_of(fn() => cycle($id, ['read_and_close' => true])));
ini_set('session.use_strict_mode', '1');
$report('strict mode, known session, locked', commands_of(fn() => cycle($id, [], fn() => $_SESSION['n']++)));
ini_set('session.use_strict_mode', '0');
ini_set('rustredis.locking', 'optimistic');
cycle($id, [], fn() => $_SESSION['n']++);
$report('optimistic, no parallel writer', commands_of(fn() => cycle($id, [], fn() => $_SESSION['n']++)));
echo ob_get_clean();
proc_terminate($redis);
proc_close($redis);
array_map('unlink', glob("$dir/*"));
rmdir($dir);
?>
--EXPECT--
new session, locked                  2: EVALSHA EVALSHA
known session, changed, locked       2: SET GET PTTL GET EVALSHA
known session, unchanged, locked     2: SET GET PTTL GET EVALSHA
read_and_close                       1: GET
strict mode, known session, locked   2: SET GET PTTL GET EVALSHA
optimistic, no parallel writer       2: GET EVALSHA
