--TEST--
rustredis.replicas: WAIT rides in the same round trip as the acquire and the write (2 round trips per locked request on a cluster and a Sentinel master), and a write fewer replicas acknowledged fails with a warning that says so
--FILE--
<?php
require __DIR__ . '/common.inc';
ob_start();

/** One request cycle: its round trips, as rustredis counts them, and its warnings. */
function cycle(?string $id, callable $change): array {
    $warnings = [];
    set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
    $before = rustredis_session_info()['round_trips'];
    session_id($id ?? '');
    session_start();
    $change();
    session_write_close();
    restore_error_handler();
    return [session_id(), rustredis_session_info()['round_trips'] - $before, $warnings];
}

$topologies = [
    'cluster' => rr_env('RUSTREDIS_TEST_CLUSTER') . '&prefix=' . rr_prefix(),
    'sentinel' => rr_env('RUSTREDIS_TEST_SENTINEL') . '&prefix=' . rr_prefix(),
];
foreach ($topologies as $topology => $save_path) {
    echo "-- $topology\n";
    putenv("RUSTREDIS_TEST_TOPOLOGY=$topology");
    rr_setup(['session.save_path' => $save_path, 'rustredis.replicas' => '1']);
    [$id] = cycle(null, fn() => $_SESSION['n'] = 1);
    [, $trips, $warnings] = cycle($id, fn() => $_SESSION['n']++);
    printf("replicas=1: %d round trips, %d warnings\n", $trips, count($warnings));
    // The write reached a replica before the request was told it was saved.
    $replica_has_it = false;
    if ($topology === 'sentinel') {
        preg_match('/slave0:ip=([^,]+),port=(\d+)/', rr_cmd('INFO', 'replication'), $m);
        $replica = "tcp://$m[1]:$m[2]";
    } else {
        $master_id = rr_node_cmd(rr_cluster_node_of(rr_key($id)), 'CLUSTER', 'MYID');
        foreach (explode("\n", trim(rr_cmd('CLUSTER', 'NODES'))) as $line) {
            $f = explode(' ', $line);
            if ($f[3] === $master_id) $replica = 'tcp://' . explode('@', $f[1])[0];
        }
        rr_node_cmd($replica, 'READONLY');
    }
    var_dump(rr_node_cmd($replica, 'GET', rr_key($id)) === 'n|i:2;');

    ini_set('rustredis.replicas', '2');
    ini_set('rustredis.replicas_timeout_ms', '50');
    [, , $warnings] = cycle($id, fn() => $_SESSION['n']++);
    echo preg_replace('/ in \S+ on line \d+| at \S+ \(master [^)]*\)| at \S+/', '', $warnings[0] ?? '-'), "\n";
    ini_set('rustredis.replicas', '0');
}
echo ob_get_clean();
?>
--EXPECT--
-- cluster
replicas=1: 2 round trips, 0 warnings
bool(true)
session_write_close(): rustredis: Redis failed: too few replicas acknowledged the write - Extension: 1 of 2 within 50 ms (rustredis.replicas, rustredis.replicas_timeout_ms); the master has it, a failover may lose it
-- sentinel
replicas=1: 2 round trips, 0 warnings
bool(true)
session_write_close(): rustredis: Redis failed: too few replicas acknowledged the write - Extension: 1 of 2 within 50 ms (rustredis.replicas, rustredis.replicas_timeout_ms); the master has it, a failover may lose it
