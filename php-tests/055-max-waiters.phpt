--TEST--
rustredis.max_waiters=4 with 20 parallel requests behind a held lock: 4 wait and get in after the holder, the 16 others fail at once with a warning naming the setting and the holder
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
$id = 'waiters-' . bin2hex(random_bytes(6));
$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("locked"), (string) getmypid());
    rr_wait_for_key("release", 60);
    session_write_close();
');
rr_wait_for_key('locked');
$pid = rr_cmd('GET', rr_key('locked'));
$children = [];
for ($i = 0; $i < 20; $i++) {
    $children[] = rr_spawn('
        set_error_handler(function ($no, $message) { rr_cmd("SET", rr_key("warning"), $message, "NX"); return true; });
        session_id(' . var_export($id, true) . ');
        if (session_start()) {
            $_SESSION["in"] = ($_SESSION["in"] ?? 0) + 1;
            session_write_close();
            rr_cmd("INCR", rr_key("entered"));
        } else {
            rr_cmd("INCR", rr_key("refused"));
        }
    ', ['rustredis.max_waiters' => '4', 'rustredis.lock_wait_ms' => '60000']);
}
// The holder lets go only once every newcomer has been either turned away or counted as waiting.
var_dump(rr_wait_for_count('refused', 16, 60));
var_dump(rr_cmd('ZCARD', rr_key($id) . '_LOCK_QUEUE'), rr_cmd('GET', rr_key('entered')));
rr_cmd('SET', rr_key('release'), '1');
rr_wait($holder);
foreach ($children as $child) rr_wait($child);
var_dump(rr_cmd('GET', rr_key('entered')), rr_cmd('GET', rr_key('refused')), rr_cmd('GET', rr_key($id)));
echo preg_replace(['/held for [\d.]+ s/', '/ on ' . preg_quote(php_uname('n'), '/') . ', pid ' . $pid . '$/'],
    ['held for N s', ' on HOST, pid HOLDER'], rr_cmd('GET', rr_key('warning'))), "\n";
?>
--EXPECT--
bool(true)
int(4)
NULL
string(1) "4"
string(2) "16"
string(7) "in|i:4;"
session_start(): rustredis: session not started: 4 requests already wait for this session's lock (rustredis.max_waiters); it is held for N s by php Standard input code on HOST, pid HOLDER
