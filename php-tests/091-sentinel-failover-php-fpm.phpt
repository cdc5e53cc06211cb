--TEST--
Redis Sentinel failover under load through real php-fpm: kill -9 the master of 8 busy sessions; requests resume within 2 s of the replica's promotion (with rustredis.replicas=1: of the old master being back as its replica), no answer is a crash, and the acknowledged writes the failover lost are counted: some may be with rustredis.replicas=0, none with rustredis.replicas=1
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
require __DIR__ . '/failover.inc';
$servers = fo_start_servers('sentinel');
putenv('RUSTREDIS_TEST_TOPOLOGY=sentinel');
putenv('RUSTREDIS_TEST_SENTINEL=' . $servers['save_path']);
$save_path = $servers['save_path'] . '&prefix=' . rr_prefix();
[$fpm, $listen] = fo_start_fpm($servers['dir'], $save_path);
rr_setup(['session.save_path' => $save_path]);
ob_start();

foreach ([0, 1] as $replicas) {
    echo "-- rustredis.replicas=$replicas\n";
    $victim = rr_sentinel_master(true);
    $sids = fo_session_ids(8, fn() => true);
    $info = fo_server_info($victim);
    $killed_at = $promoted_at = $back_at = null;
    $log = fo_load($listen, "{$servers['dir']}/app.php", $sids, "rustredis.replicas=$replicas",
        function (float $t) use (&$killed_at, &$promoted_at, &$back_at, &$servers, $info, $victim, $replicas) {
            if ($killed_at === null) {
                if ($t >= 1.5) {
                    fo_kill($info['pid']);
                    $killed_at = $t;
                }
            } elseif ($promoted_at === null) {
                try {
                    $master = rr_sentinel_master(true);
                    if ($master !== $victim) {
                        $promoted_at = $t;
                        // The old master comes back, as the new one's replica.
                        fo_restart($servers, $info, $master);
                    }
                } catch (RuntimeException $e) {
                }
            } elseif ($back_at === null) {
                if (fo_has_online_replica(rr_sentinel_master())) $back_at = $t;
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
    $report = fo_report($log, $stored, $sids, $killed_at, ($replicas ? $back_at : $promoted_at) ?? INF);
    $report['promoted_after_kill'] = $promoted_at === null ? null : $promoted_at - $killed_at;
    $report['replica_back_after_kill'] = $back_at === null ? null : $back_at - $killed_at;
    if (getenv('RUSTREDIS_FAILOVER_REPORT')) {
        file_put_contents(getenv('RUSTREDIS_FAILOVER_REPORT'), "sentinel, rustredis.replicas=$replicas: " . json_encode($report) . "\n", FILE_APPEND);
    }
    var_dump($report['not_json'] === 0, $report['duplicates'] === 0, $report['affected_acked_after'] > 0,
        $report['resumed_after'] !== null && $report['resumed_after'] < 2.0);
    printf("acknowledged writes lost: %d of %d\n", $report['lost'], $report['acknowledged']);
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
