--TEST--
Leases across pcntl_fork: a child renews its own locks only; when the parent dies, the parent's lock frees within the lease although the child (which inherited a copy of it) lives on
--FILE--
<?php
require __DIR__ . '/common.inc';
$s1 = 'lease-fork-parent-' . bin2hex(random_bytes(4));
$s2 = 'lease-fork-child-' . bin2hex(random_bytes(4));
$child = rr_spawn('
    session_id(' . var_export($s1, true) . ');
    session_start();
    $pid = pcntl_fork();
    if ($pid === 0) {
        // The child leaves the parent\'s session alone (its lock stays the parent\'s), and opens
        // one of its own, which it holds for many leases.
        session_abort();
        echo "parent lock kept: ", var_export((bool) rr_cmd("EXISTS", rr_key(' . var_export($s1, true) . ') . "_LOCK"), true), "\n";
        $h = new RustRedis\SessionHandler(["lock_ttl_ms" => "300"]);
        $h->open(rr_save_path(), "PHPSESSID");
        $h->read(' . var_export($s2, true) . ');
        rr_cmd("SET", rr_key("child_locked"), "1");
        rr_wait_for_key("parent_lock_gone", 20);
        usleep(1000000);
        echo "child write: ", var_export($h->write(' . var_export($s2, true) . ', "by|s:5:\"child\";"), true), "\n";
        $h->close();
        exit(0);
    }
    rr_wait_for_key("child_locked");
    // The parent dies holding its lock.
    proc_close(proc_open(["kill", "-9", (string) getmypid()], [], $pipes));
', ['rustredis.lock_ttl_ms' => '300']);
var_dump(rr_wait_for_key('child_locked'));
echo "-- the dead parent's lock frees within its lease; the child's own lock lives on\n";
var_dump(rr_wait_until(fn() => !rr_cmd('EXISTS', rr_key($s1) . '_LOCK'), 10));
var_dump((bool) rr_cmd('EXISTS', rr_key($s2) . '_LOCK'));
rr_cmd('SET', rr_key('parent_lock_gone'), '1');
echo rr_wait($child);
var_dump(rr_cmd('GET', rr_key($s2)));
?>
--EXPECT--
bool(true)
-- the dead parent's lock frees within its lease; the child's own lock lives on
bool(true)
bool(true)
parent lock kept: true
child write: true
string(15) "by|s:5:"child";"
