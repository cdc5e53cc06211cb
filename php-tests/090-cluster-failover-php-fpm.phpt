--TEST--
Redis Cluster failover under load through real php-fpm: kill -9 the master of 4 of 8 busy sessions; requests resume within 2 s of the replica's promotion (with rustredis.replicas=1: of the old master being back as its replica), no answer is a crash, and the acknowledged writes the failover lost are counted: some may be with rustredis.replicas=0, none with rustredis.replicas=1
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
require __DIR__ . '/failover.inc';
$servers = fo_start_servers('cluster');
putenv('RUSTREDIS_TEST_TOPOLOGY=cluster');
putenv('RUSTREDIS_TEST_CLUSTER=' . $servers['save_path']);
$save_path = $servers['save_path'] . '&prefix=' . rr_prefix();
[$fpm, $listen] = fo_start_fpm($servers['dir'], $save_path);
rr_setup(['session.save_path' => $save_path]);
ob_start();

/** The cluster's view from a master other than $victim: node id => [address, flags, master id]. */
function nodes(string $victim): array {
    foreach (rr_cluster_masters() as $master) {
        if ($master === $victim) continue;
        try {
            $lines = explode("\n", trim(rr_node_cmd($master, 'CLUSTER', 'NODES')));
        } catch (RuntimeException $e) {
            continue;
        }
        $nodes = [];
        foreach ($lines as $line) {
            $f = explode(' ', $line);
            $nodes[$f[0]] = ['tcp://' . explode('@', $f[1])[0], $f[2], $f[3]];
        }
        return $nodes;
    }
    return [];
}

$victim = rr_cluster_masters()[0];
foreach ([0, 1] as $replicas) {
    echo "-- rustredis.replicas=$replicas\n";
    $victim_id = rr_node_cmd($victim, 'CLUSTER', 'MYID');
    $replica = null;
    foreach (nodes($victim) as $id => [$address, $flags, $master]) {
        if ($master === $victim_id) $replica = $id;
    }
    $sids = array_merge(
        fo_session_ids(4, fn($sid) => rr_cluster_node_of(rr_key($sid)) === $victim),
        fo_session_ids(4, fn($sid) => rr_cluster_node_of(rr_key($sid)) !== $victim));
    $info = fo_server_info($victim);
    $killed_at = $promoted_at = $back_at = null;
    $promoted = null;
    $log = fo_load($listen, "{$servers['dir']}/app.php", $sids, "rustredis.replicas=$replicas",
        function (float $t) use (&$killed_at, &$promoted_at, &$back_at, &$promoted, &$servers, $info, $victim, $replica, $replicas) {
            if ($killed_at === null) {
                if ($t >= 1.5) {
                    fo_kill($info['pid']);
                    $killed_at = $t;
                }
            } elseif ($promoted_at === null) {
                [$address, $flags] = nodes($victim)[$replica] ?? ['', ''];
                if (str_contains($flags, 'master') && !str_contains($flags, 'fail')) {
                    [$promoted_at, $promoted] = [$t, $address];
                    // The old master comes back as the replica of the one promoted.
                    fo_restart($servers, $info);
                }
            } elseif ($back_at === null) {
                if (fo_has_online_replica($promoted)) $back_at = $t;
            }
            // With rustredis.replicas=1 nothing can be acknowledged until a replica is back.
            $ready_at = $replicas ? $back_at : $promoted_at;
            return ($ready_at !== null && $back_at !== null && $t > $ready_at + 3) || $t > 40;
        });
    $stored = [];
    foreach ($sids as $sid) {
        session_id($sid);
        session_start(['read_and_close' => true]);
        $stored[$sid] = $_SESSION['log'] ?? [];
    }
    $report = fo_report($log, $stored, array_slice($sids, 0, 4), $killed_at, ($replicas ? $back_at : $promoted_at) ?? INF);
    $report['promoted_after_kill'] = $promoted_at === null ? null : $promoted_at - $killed_at;
    $report['replica_back_after_kill'] = $back_at === null ? null : $back_at - $killed_at;
    if (getenv('RUSTREDIS_FAILOVER_REPORT')) {
        file_put_contents(getenv('RUSTREDIS_FAILOVER_REPORT'), "cluster, rustredis.replicas=$replicas: " . json_encode($report) . "\n", FILE_APPEND);
    }
    var_dump($report['not_json'] === 0, $report['duplicates'] === 0, $report['affected_acked_after'] > 0,
        $report['resumed_after'] !== null && $report['resumed_after'] < 2.0);
    printf("acknowledged writes lost: %d of %d\n", $report['lost'], $report['acknowledged']);
    // The next round kills the master promoted in this one.
    $victim = $promoted;
}
$fpm_log = file_get_contents("{$servers['dir']}/fpm.log");
var_dump(preg_match('/Fatal|exited on signal|panick/i', $fpm_log));
proc_terminate($fpm, 15);
proc_close($fpm);
fo_stop_servers($servers);
echo ob_get_clean();
?>
--EXPECTF--
-- rustredis.replicas=0
bool(true)
bool(true)
bool(true)
bool(true)
acknowledged writes lost: %d of %d
-- rustredis.replicas=1
bool(true)
bool(true)
bool(true)
bool(true)
acknowledged writes lost: 0 of %d
int(0)
