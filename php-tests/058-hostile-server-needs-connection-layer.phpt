--TEST--
A hostile RESP server, the cases only the connection layer can bound (FAILS until it caps reply sizes, bounds each reply by a deadline and notices bytes left over after a reply): a huge bulk string or array whose bytes do keep coming (memory grows with them), a reply dripped one byte per 100 ms (the read timeout never fires), and a stray reply of the right shape before the real one (it is taken as the answer)
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/hostile.inc';
$server = rr_hostile_start();
$cases = [
    ['acquire', 'hugestream'], ['get', 'hugestream'], ['write', 'hugestream'],
    ['acquire', 'hugearraystream'], ['get', 'hugearraystream'],
    ['acquire', 'drip'], ['get', 'drip'], ['write', 'drip'],
    ['acquire', 'validstray'], ['get', 'validstray'],
];
foreach ($cases as [$slot, $mode]) {
    // read_timeout is 0.5 s: 10 s is a generous "did not hang".
    echo rr_hostile_verdict($server, $slot, $mode, rr_hostile_run($server, $slot, $mode, 10.0)), "\n";
}
rr_hostile_stop($server);
?>
--EXPECTF--
acquire/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
get/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
write/hugestream: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/hugearraystream: Redis at tcp://127.0.0.1:PORT failed: %s
get/hugearraystream: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/drip: Redis at tcp://127.0.0.1:PORT failed: %s
get/drip: Redis at tcp://127.0.0.1:PORT failed: %s
write/drip: Redis at tcp://127.0.0.1:PORT failed: %s
acquire/validstray: Redis at tcp://127.0.0.1:PORT failed: %s
get/validstray: Redis at tcp://127.0.0.1:PORT failed: %s
