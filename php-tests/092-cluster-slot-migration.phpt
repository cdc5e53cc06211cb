--TEST--
Redis Cluster: a slot migrated back and forth between two masters while parallel requests lock, write and read_and_close its sessions: every request works (redirects and TRYAGAIN are followed) and every increment counts
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/failover.inc';
$servers = fo_start_servers('cluster');
putenv('RUSTREDIS_TEST_TOPOLOGY=cluster');
putenv('RUSTREDIS_TEST_CLUSTER=' . $servers['save_path']);
$save_path = $servers['save_path'] . '&prefix=' . rr_prefix();
rr_setup(['session.save_path' => $save_path]);

/** CLUSTER KEYSLOT, computed here (CRC16/XMODEM of the key's hash tag). */
function slot_of(string $key): int {
    if (preg_match('/\{([^}]+)\}/', $key, $m, PREG_OFFSET_CAPTURE) && $m[0][1] === strpos($key, '{')) $key = $m[1][0];
    $crc = 0;
    for ($i = 0, $n = strlen($key); $i < $n; $i++) {
        $crc ^= ord($key[$i]) << 8;
        for ($bit = 0; $bit < 8; $bit++) $crc = ($crc & 0x8000) ? (($crc << 1) ^ 0x1021) & 0xFFFF : ($crc << 1) & 0xFFFF;
    }
    return $crc % 16384;
}

/** Moves $slot's keys from the master $from to the master $to, as redis-cli --cluster reshard does. */
function migrate(int $slot, string $from, string $to): void {
    $from_id = rr_node_cmd($from, 'CLUSTER', 'MYID');
    $to_id = rr_node_cmd($to, 'CLUSTER', 'MYID');
    rr_node_cmd($to, 'CLUSTER', 'SETSLOT', (string)$slot, 'IMPORTING', $from_id);
    rr_node_cmd($from, 'CLUSTER', 'SETSLOT', (string)$slot, 'MIGRATING', $to_id);
    [$host, $port] = explode(':', substr($to, strlen('tcp://')));
    while ($keys = rr_node_cmd($from, 'CLUSTER', 'GETKEYSINSLOT', (string)$slot, '100')) {
        rr_node_cmd($from, 'MIGRATE', $host, $port, '', '0', '5000', 'KEYS', ...$keys);
    }
    foreach (rr_cluster_masters() as $master) {
        rr_node_cmd($master, 'CLUSTER', 'SETSLOT', (string)$slot, 'NODE', $to_id);
    }
}

$first = bin2hex(random_bytes(16));
$slot = slot_of(rr_key($first));
$second = fo_session_ids(1, fn($sid) => slot_of(rr_key($sid)) === $slot)[0];
var_dump(rr_cmd('CLUSTER', 'KEYSLOT', rr_key($second)) === $slot, rr_cmd('CLUSTER', 'KEYSLOT', '{' . rr_key($second) . '}_LOCK') === $slot);
$children = [];
foreach ([$first, $first, $second, $second] as $sid) {
    $children[] = rr_spawn('
        $warnings = [];
        set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
        [$acked, $failed] = [0, 0];
        while (!rr_cmd("EXISTS", rr_key("stop"))) {
            $before = count($warnings);
            session_id(' . var_export($sid, true) . ');
            if (session_start()) {
                $_SESSION["n"] = ($_SESSION["n"] ?? 0) + 1;
                session_write_close();
            }
            count($warnings) === $before ? $acked++ : $failed++;
            if ($acked % 5 === 0) {
                session_id(' . var_export($sid, true) . ');
                session_start(["read_and_close" => true]);
                count($warnings) === $before || $failed++;
            }
        }
        echo json_encode(["sid" => ' . var_export($sid, true) . ', "acked" => $acked, "failed" => $failed, "warnings" => array_slice(array_unique($warnings), 0, 3)]), "\n";
    ', ['session.save_path' => $save_path]);
}
usleep(500000);
$masters = rr_cluster_masters();
$owner = rr_cluster_node_of(rr_key($first));
$other = $owner === $masters[0] ? $masters[1] : $masters[0];
for ($i = 0; $i < 6; $i++) {
    migrate($slot, $owner, $other);
    [$owner, $other] = [$other, $owner];
    usleep(400000);
}
var_dump(rr_cluster_node_of(rr_key($first)) === $owner);
rr_cmd('SET', rr_key('stop'), '1');
$acked = [$first => 0, $second => 0];
$failed = 0;
foreach ($children as $child) {
    $out = rr_wait($child);
    $r = json_decode($out, true);
    if (!$r) { echo $out; continue; }
    $acked[$r['sid']] += $r['acked'];
    $failed += $r['failed'];
    foreach ($r['warnings'] as $w) echo "warning: $w\n";
}
var_dump($failed);
foreach ([$first, $second] as $sid) {
    session_id($sid);
    session_start(['read_and_close' => true]);
    var_dump($_SESSION['n'] === $acked[$sid] && $acked[$sid] > 20);
}
fo_stop_servers($servers);
?>
--EXPECT--
bool(true)
bool(true)
bool(true)
int(0)
bool(true)
bool(true)
