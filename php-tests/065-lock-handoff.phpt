--TEST--
Lock handoff: requests queued behind a holder get the lock in the order they queued, each with the data the one before wrote; a waiter that gave up just before the release is passed over; one killed while queued does not strand the lock
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
$queued = fn(string $id) => rr_cmd('ZCARD', rr_key($id) . '_LOCK_QUEUE');
$holder = fn(string $id, string $name) => rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    $_SESSION["order"] = "";
    $_SESSION["n"] = 0;
    rr_cmd("SET", rr_key("' . $name . '_locked"), "1");
    rr_wait_for_key("' . $name . '_release", 60);
    echo session_write_close() ? "" : "holder: write failed\n";
');
$waiter = fn(string $id, string $name, array $ini = []) => rr_spawn('
    set_error_handler(function ($no, $message) { echo "' . $name . ': $message\n"; return true; });
    session_id(' . var_export($id, true) . ');
    if (!session_start()) {
        rr_cmd("SET", rr_key("' . $name . '_gave_up"), "1");
        exit;
    }
    $_SESSION["order"] .= "' . $name . ' ";
    $_SESSION["n"]++;
    echo session_write_close() ? "" : "' . $name . ': write failed\n";
', $ini);
$stored = function (string $id) {
    session_id($id);
    session_start();
    printf("n=%d, in order: %s\n", $_SESSION['n'], trim($_SESSION['order']));
    session_write_close();
};
$left = fn(string $id) => printf("queue %d, lock %d\n", $queued($id), rr_cmd('EXISTS', rr_key($id) . '_LOCK'));

echo "-- 8 requests queued one after another behind a holder\n";
$id = 'handoff-' . bin2hex(random_bytes(6));
$first = $holder($id, 'h1');
rr_wait_for_key('h1_locked');
$children = [];
for ($i = 1; $i <= 8; $i++) {
    $children[] = $waiter($id, "w$i");
    // The next one starts once this one is queued, so the order of arrival is known.
    if (!rr_wait_until(fn() => $queued($id) === $i, 30)) echo "w$i did not queue\n";
}
rr_cmd('SET', rr_key('h1_release'), '1');
$output = rr_wait($first);
foreach ($children as $child) $output .= rr_wait($child);
echo $output === '' ? "all 8 got the lock\n" : $output;
$stored($id);
$left($id);

echo "-- a waiter that gave up just before the release is passed over\n";
$id = 'gave-up-' . bin2hex(random_bytes(6));
$second = $holder($id, 'h2');
rr_wait_for_key('h2_locked');
$quitter = $waiter($id, 'quitter', ['rustredis.lock_wait_ms' => '2000']);
if (!rr_wait_until(fn() => $queued($id) === 1, 30)) echo "the quitter did not queue\n";
$patient = $waiter($id, 'patient');
if (!rr_wait_until(fn() => $queued($id) === 2, 30)) echo "the patient did not queue behind it\n";
rr_wait_for_key('quitter_gave_up', 30);
// At once: the patient was queued behind the one that left.
rr_cmd('SET', rr_key('h2_release'), '1');
echo preg_replace(['/after \d+ ms.*$/m', '/\(path: [^)]*\)/'], ['after N ms…', '(path: …)'], rr_wait($quitter));
echo rr_wait($second), rr_wait($patient);
$stored($id);
$left($id);

echo "-- a waiter killed while queued does not strand the lock\n";
$id = 'killed-' . bin2hex(random_bytes(6));
$third = $holder($id, 'h3');
rr_wait_for_key('h3_locked');
// Its lease is short: a lock handed to it after its death frees soon.
$victim = $waiter($id, 'victim', ['rustredis.lock_ttl_ms' => '300']);
if (!rr_wait_until(fn() => $queued($id) === 1, 30)) echo "the victim did not queue\n";
$survivor = $waiter($id, 'survivor');
if (!rr_wait_until(fn() => $queued($id) === 2, 30)) echo "the survivor did not queue behind it\n";
proc_terminate($victim['proc'], 9);
rr_wait($victim);
rr_cmd('SET', rr_key('h3_release'), '1');
echo rr_wait($third), rr_wait($survivor);
$stored($id);
$left($id);
?>
--EXPECT--
-- 8 requests queued one after another behind a holder
all 8 got the lock
n=8, in order: w1 w2 w3 w4 w5 w6 w7 w8
queue 0, lock 0
-- a waiter that gave up just before the release is passed over
quitter: session_start(): rustredis: gave up waiting for the session lock after N ms…
quitter: session_start(): Failed to read session data: rustredis (path: …)
n=1, in order: patient
queue 0, lock 0
-- a waiter killed while queued does not strand the lock
n=1, in order: survivor
queue 0, lock 0
