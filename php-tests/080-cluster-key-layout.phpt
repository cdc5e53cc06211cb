--TEST--
Redis Cluster (cluster:// and phpredis's seed[] syntax): the data key is phpredis's, the lock and its waiters' keys are hash-tagged to it, all in one slot (CLUSTER KEYSLOT) on one master; sessions spread over every master; phpredis's cluster prefix is the default
--FILE--
<?php
require __DIR__ . '/common.inc';
putenv('RUSTREDIS_TEST_TOPOLOGY=cluster');
$url = rr_env('RUSTREDIS_TEST_CLUSTER_URL');
rr_setup(['session.save_path' => "$url&prefix=" . rr_prefix()]);
ob_start();
$seed = 'tcp://' . rr_cluster_seeds()[0];
$slot = fn(string $key) => rr_node_cmd($seed, 'CLUSTER', 'KEYSLOT', $key);

echo "-- 30 sessions: each in one slot, together on every master\n";
$masters = [];
$same_slot = 0;
for ($i = 0; $i < 30; $i++) {
    session_id('');
    session_start();
    $id = session_id();
    $_SESSION['i'] = $i;
    $lock_while_held = rr_cmd('EXISTS', '{' . rr_key($id) . '}_LOCK') . rr_cmd('EXISTS', rr_key($id) . '_LOCK');
    session_write_close();
    $node = rr_cluster_node_of(rr_key($id));
    $masters[$node] = true;
    $keys = [rr_key($id), '{' . rr_key($id) . '}_LOCK', '{' . rr_key($id) . '}_LOCK_WAKE', '{' . rr_key($id) . '}_LOCK_WAITING'];
    $slots = array_unique(array_map($slot, $keys));
    // The data is on the master of its slot, read without any redirect.
    $stored = rr_node_cmd($node, 'GET', rr_key($id));
    $same_slot += (count($slots) === 1 && $stored === "i|i:$i;" && $lock_while_held === '10') ? 1 : 0;
}
var_dump($same_slot, count($masters), count(rr_cluster_masters()));

echo "-- a waiting request's queue lives beside the lock\n";
session_start();
$id = session_id();
$_SESSION['by'] = 'nobody';
session_write_close();
$node = rr_cluster_node_of(rr_key($id));
$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("holder_locked"), "1");
    rr_wait_for_key("waiter_seen");
    $_SESSION["by"] = "holder";
    session_write_close();
', ['session.save_path' => "$url&prefix=" . rr_prefix()]);
rr_wait_for_key('holder_locked');
$waiter = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    echo "waiter read ", $_SESSION["by"], "\n";
    session_write_close();
', ['session.save_path' => "$url&prefix=" . rr_prefix()]);
$queue = '{' . rr_key($id) . '}_LOCK_QUEUE';
var_dump(rr_wait_until(fn() => rr_node_cmd($node, 'EXISTS', $queue, "{$queue}_INFO") === 2));
var_dump($slot($queue) === $slot(rr_key($id)), $slot("{$queue}_INFO") === $slot(rr_key($id)));
rr_cmd('SET', rr_key('waiter_seen'), '1');
rr_wait($holder);
echo rr_wait($waiter);

echo "-- a large session (written through Lua, not staged) round-trips\n";
session_id($id);
session_start();
$_SESSION['big'] = str_repeat('x', 200000);
session_write_close();
session_id($id);
session_start(['read_and_close' => true]);
var_dump(strlen($_SESSION['big']), count(array_filter(rr_keys(), fn($k) => str_contains($k, '_WRITE_'))));

echo "-- phpredis's seed[] syntax, no prefix: phpredis's cluster prefix\n";
ini_set('session.save_path', rr_env('RUSTREDIS_TEST_CLUSTER'));
session_id('');
session_start();
$id = session_id();
$_SESSION['x'] = 1;
session_write_close();
var_dump(rr_cmd('GET', "PHPREDIS_CLUSTER_SESSION:$id"), $slot("PHPREDIS_CLUSTER_SESSION:$id") === $slot("{PHPREDIS_CLUSTER_SESSION:$id}_LOCK"));
session_id($id);
session_start();
session_destroy();
var_dump(rr_cmd('EXISTS', "PHPREDIS_CLUSTER_SESSION:$id"));
echo ob_get_clean();
?>
--EXPECT--
-- 30 sessions: each in one slot, together on every master
int(30)
int(3)
int(3)
-- a waiting request's queue lives beside the lock
bool(true)
bool(true)
bool(true)
waiter read holder
-- a large session (written through Lua, not staged) round-trips
int(200000)
int(0)
-- phpredis's seed[] syntax, no prefix: phpredis's cluster prefix
string(6) "x|i:1;"
bool(true)
int(0)
