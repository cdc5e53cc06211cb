--TEST--
Cluster and Sentinel faults: a cluster nobody answers for, a node that is no cluster, unreachable Sentinels, a master name no Sentinel knows, a server that is no Sentinel, malformed save_paths: session_start() returns false within the timeouts with one warning naming the endpoint and the cause
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
// Output would count as sent headers and freeze the session ini settings.
ob_start();
$free_port = function (): int {
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    return $port;
};
[$a, $b, $c] = [$free_port(), $free_port(), $free_port()];
$redis = substr(rr_env('RUSTREDIS_TEST_REDIS'), strlen('tcp://'));
preg_match('~^sentinel://([^?]+)~', rr_env('RUSTREDIS_TEST_SENTINEL'), $m);
$sentinels = $m[1];
$cases = [
    'cluster down (seed[] syntax)' => "seed[]=127.0.0.1:$a&seed[]=127.0.0.1:$b&timeout=1&read_timeout=1",
    'cluster down (cluster://)' => "cluster://127.0.0.1:$a,127.0.0.1:$b?timeout=1&read_timeout=1",
    'a node that is no cluster' => "cluster://$redis?timeout=1&read_timeout=1",
    'all Sentinels unreachable' => "sentinel://127.0.0.1:$a,127.0.0.1:$b,127.0.0.1:$c?master=mymaster&timeout=1&read_timeout=1",
    'a master name no Sentinel knows' => "sentinel://$sentinels?master=nosuchmaster&timeout=1&read_timeout=1",
    'a server that is no Sentinel' => "sentinel://$redis?master=mymaster&timeout=1&read_timeout=1",
    'seed without []' => "seed=127.0.0.1:$a",
    'no master name' => "sentinel://$sentinels",
    'cluster database' => "cluster://127.0.0.1:$a?database=2",
];
foreach ($cases as $what => $save_path) {
    echo "-- $what\n";
    ini_set('session.save_path', $save_path);
    $warnings = [];
    set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
    $started_at = microtime(true);
    $started = session_start();
    $took = microtime(true) - $started_at;
    restore_error_handler();
    var_dump($started, $took < 2.5);
    // rustredis's own warning (PHP adds "Failed to read/initialize …" after it).
    $ours = array_values(array_filter($warnings, fn($w) => str_contains($w, 'rustredis: ')));
    echo count($ours), ': ', preg_replace('/:\d{2,5}\b/', ':PORT', $ours[0] ?? '-'), "\n";
}
echo ob_get_clean();
?>
--EXPECTF--
-- cluster down (seed[] syntax)
bool(false)
bool(true)
1: session_start(): rustredis: Redis at cluster://127.0.0.1:PORT,127.0.0.1:PORT failed: %sFailed to connect to each cluster node (127.0.0.1:PORT: Connection refused%s
-- cluster down (cluster://)
bool(false)
bool(true)
1: session_start(): rustredis: Redis at cluster://127.0.0.1:PORT,127.0.0.1:PORT failed: %sConnection refused%s
-- a node that is no cluster
bool(false)
bool(true)
1: session_start(): rustredis: Redis at cluster://127.0.0.1:PORT failed: no cluster node serves this session's slot%scluster-enabled yes%s
-- all Sentinels unreachable
bool(false)
bool(true)
1: session_start(): rustredis: Redis at sentinel://127.0.0.1:PORT,127.0.0.1:PORT,127.0.0.1:PORT (master 'mymaster') failed: no Sentinel named a reachable master%s127.0.0.1:PORT: Connection refused%s
-- a master name no Sentinel knows
bool(false)
bool(true)
1: session_start(): rustredis: Redis at sentinel://127.0.0.1:PORT,127.0.0.1:PORT,127.0.0.1:PORT (master 'nosuchmaster') failed: no Sentinel named a reachable master%sMaster with given name not found in sentinel%s
-- a server that is no Sentinel
bool(false)
bool(true)
1: session_start(): rustredis: Redis at sentinel://127.0.0.1:PORT (master 'mymaster') failed: %snot point to a sentinel%s
-- seed without []
bool(false)
bool(true)
1: session_start(): rustredis: invalid session.save_path: seed must be a list: seed[]=host:port&seed[]=host:port
-- no master name
bool(false)
bool(true)
1: session_start(): rustredis: invalid session.save_path: sentinel:// needs master=<name>, the name the Sentinels monitor the master under
-- cluster database
bool(false)
bool(true)
1: session_start(): rustredis: invalid session.save_path: database 2: a Redis Cluster has only database 0 (remove database=)
