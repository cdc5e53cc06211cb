--TEST--
Optimistic mode: 20 parallel requests that all read, then all write at once, each a different key: all 20 keys survive
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup(['rustredis.locking' => 'optimistic']);
session_start();
$id = session_id();
$_SESSION['base'] = 'kept';
session_write_close();

$children = [];
for ($i = 0; $i < 20; $i++) {
    $children[] = rr_spawn('
        set_error_handler(function ($no, $message) { echo "warning: $message\n"; return true; });
        session_id(' . var_export($id, true) . ');
        session_start();
        // Barrier: all 20 have read before any writes, and then they all write at once.
        rr_cmd("INCR", rr_key("read"));
        for ($i = 0; $i < 1000 && (int)rr_cmd("GET", rr_key("read")) < 20; $i++) usleep(2000);
        $_SESSION["k' . $i . '"] = ' . $i . ';
        session_write_close();
    ', ['rustredis.locking' => 'optimistic']);
}
$output = '';
foreach ($children as $child) $output .= rr_wait($child);
echo $output === '' ? "no warnings\n" : $output;
session_id($id);
session_start();
ksort($_SESSION, SORT_NATURAL);
echo implode(',', array_keys($_SESSION)), "\n";
var_dump(count($_SESSION), $_SESSION['base']);
session_write_close();
?>
--EXPECT--
no warnings
base,k0,k1,k2,k3,k4,k5,k6,k7,k8,k9,k10,k11,k12,k13,k14,k15,k16,k17,k18,k19
int(21)
string(4) "kept"
