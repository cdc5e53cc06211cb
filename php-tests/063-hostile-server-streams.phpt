--TEST--
A hostile RESP server, the cases the connection layer bounds: a huge bulk string or array whose bytes do keep coming (the reply budget stops it), a reply dripped one byte per 100 ms (the reply deadline stops it), and a stray reply of the right shape before the real one (bytes left after a reply retire the connection)
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/hostile.inc';
$server = rr_hostile_start();
$cases = [
    ['pipeline', 'hugestream'], ['acquire', 'hugestream'], ['get', 'hugestream'], ['write', 'hugestream'],
    ['acquire', 'hugearraystream'], ['get', 'hugearraystream'],
    ['pipeline', 'drip'], ['acquire', 'drip'], ['get', 'drip'], ['write', 'drip'],
    ['pipeline', 'validstray'], ['acquire', 'validstray'], ['get', 'validstray'],
];
foreach ($cases as [$slot, $mode]) {
    // read_timeout is 0.5 s: 10 s is a generous "did not hang".
    echo rr_hostile_verdict($server, $slot, $mode, rr_hostile_run($server, $slot, $mode, 10.0)), "\n";
}
rr_hostile_stop($server);
?>
--EXPECTF--
pipeline/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
get/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
write/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/hugearraystream: Redis at tcp://127.0.0.1:PORT failed: %s
get/hugearraystream: Redis at tcp://127.0.0.1:PORT failed: %s
pipeline/drip: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/drip: Redis at tcp://127.0.0.1:PORT failed: %s
get/drip: Redis at tcp://127.0.0.1:PORT failed: %s
write/drip: Redis at tcp://127.0.0.1:PORT failed: %s
pipeline/validstray: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/validstray: Redis at tcp://127.0.0.1:PORT failed: %s
get/validstray: Redis at tcp://127.0.0.1:PORT failed: %s
