--TEST--
Redis Sentinel failover under load through real php-fpm: kill -9 the master of 8 busy sessions; requests resume within 2 s of the replica's promotion (with rustredis.replicas=1: of the old master being back as its replica), no answer is a crash, and the acknowledged writes the failover lost are counted: some may be with rustredis.replicas=0, none with rustredis.replicas=1
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
require __DIR__ . '/failover.inc';
$servers = fo_setup('sentinel');
ob_start();
// Each round kills the master that the one before promoted.
$victim = null;
foreach ([0, 1] as $replicas) {
    echo "-- rustredis.replicas=$replicas\n";
    [$report, $victim] = fo_round('sentinel', $servers, $replicas, $victim);
    fo_print_checks($report);
}
var_dump(fo_teardown($servers));
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
