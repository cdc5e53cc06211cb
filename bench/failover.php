<?php
// The failover rounds of bench section 9, run by bench/topologies.php in a php of their own
// (php -n with the extension): the tests' own harness, php-tests/failover.inc, which 090 and 091
// run too. For a Redis Cluster and a Sentinel set of its own (started through
// scripts/start-servers.sh, so through scripts/lib-servers.sh), with rustredis.replicas=0 and
// then =1: 8 sessions written through a php-fpm in a loop, kill -9 of a master, its replica
// promoted, the old master back as a replica. Prints one JSON line: a record per round.
// Progress goes to stderr; stdout stays free of output before the sessions it reads back.

require dirname(__DIR__) . '/php-tests/common.inc';
require dirname(__DIR__) . '/php-tests/fastcgi.inc';
require dirname(__DIR__) . '/php-tests/failover.inc';

$rounds = [];
foreach (['cluster', 'sentinel'] as $kind) {
    $servers = fo_setup($kind);
    // Each round kills the master that the one before promoted.
    $victim = null;
    $mine = [];
    foreach ([0, 1] as $replicas) {
        fwrite(STDERR, "   failover: $kind, rustredis.replicas=$replicas\n");
        [$report, $victim] = fo_round($kind, $servers, $replicas, $victim);
        $mine[] = ['topology' => $kind, 'replicas' => $replicas] + $report;
    }
    $crashes = fo_teardown($servers);
    foreach ($mine as $round) {
        $rounds[] = $round + ['fpm_crashes' => $crashes];
    }
}
echo json_encode($rounds), "\n";
