--TEST--
Round trips, counted by Redis MONITOR: 2 per locked request (new, changed, unchanged, strict mode), 1 per read_and_close
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
// Buffer: output would count as sent headers and freeze the session ini settings.
ob_start();

/** The commands this test's clients sent to Redis during $cycle (script internals excluded). */
function commands_of(callable $cycle): array {
    return array_column(array_filter(rr_monitor($cycle), fn($c) => !$c['lua']), 'cmd');
}

function cycle(?string $id, array $options = [], ?callable $change = null): string {
    if ($id !== null) session_id($id);
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

$report = function (string $what, array $commands) {
    printf("%-36s %d: %s\n", $what, count($commands), implode(' ', $commands));
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
?>
--EXPECT--
new session, locked                  2: EVALSHA EVALSHA
known session, changed, locked       2: EVALSHA EVALSHA
known session, unchanged, locked     2: EVALSHA EVALSHA
read_and_close                       1: GET
strict mode, known session, locked   2: EVALSHA EVALSHA
optimistic, no parallel writer       2: GET EVALSHA
