--TEST--
On a Redis Cluster and a Sentinel master the lease renewal thread keeps a long request's lock (lease 400 ms, request 1.5 s): the waiting request gets in only after the holder's write, which lands
--FILE--
<?php
require __DIR__ . '/common.inc';
$topologies = [
    'cluster' => rr_env('RUSTREDIS_TEST_CLUSTER') . '&prefix=' . rr_prefix(),
    'sentinel' => rr_env('RUSTREDIS_TEST_SENTINEL') . '&prefix=' . rr_prefix(),
];
foreach ($topologies as $topology => $save_path) {
    echo "-- $topology\n";
    putenv("RUSTREDIS_TEST_TOPOLOGY=$topology");
    $ini = ['session.save_path' => $save_path, 'rustredis.lock_ttl_ms' => '400', 'rustredis.slow_lock_ms' => '0'];
    $id = bin2hex(random_bytes(16));
    $holder = rr_spawn('
        session_id(' . var_export($id, true) . ');
        session_start();
        rr_cmd("SET", rr_key("' . $topology . '_locked"), "1");
        usleep(1500000);
        $_SESSION["by"] = "holder";
        session_write_close();
        echo "holder wrote, renewals: ", rustredis_stats()["lease_renewals"] >= 3 ? "yes" : "no", "\n";
    ', $ini);
    rr_wait_for_key("{$topology}_locked");
    $waiter = rr_spawn('
        $started = microtime(true);
        session_id(' . var_export($id, true) . ');
        session_start();
        echo "waiter read ", $_SESSION["by"] ?? "nothing", " after ", microtime(true) - $started > 1.0 ? "more" : "less", " than 1 s\n";
        session_write_close();
    ', $ini);
    echo rr_wait($holder), rr_wait($waiter);
}
?>
--EXPECT--
-- cluster
holder wrote, renewals: yes
waiter read holder after more than 1 s
-- sentinel
holder wrote, renewals: yes
waiter read holder after more than 1 s
