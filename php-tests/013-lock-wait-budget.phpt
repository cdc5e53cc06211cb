--TEST--
When the lock wait budget runs out: fail with a clear warning (default), or read-only without writing (on_lock_timeout=readonly)
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup(['rustredis.lock_wait_ms' => '300']);
ob_start();
session_start();
$id = session_id();
$_SESSION['v'] = 'committed';
session_write_close();
$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("locked"), (string) getmypid());
    rr_wait_for_key("release", 20);
    session_write_close();
');
rr_wait_for_key('locked');

echo "-- fail (default)\n";
session_id($id);
var_dump(session_start());
var_dump(session_status() === PHP_SESSION_NONE);

echo "-- readonly\n";
ini_set('rustredis.on_lock_timeout', 'readonly');
session_id($id);
var_dump(session_start());
var_dump($_SESSION['v']);
$_SESSION['v'] = 'lost?';
session_write_close();

echo "-- readonly: destroying or regenerating is a write too, and is refused\n";
session_id($id);
session_start();
var_dump(session_destroy());
session_id($id);
session_start();
var_dump(session_regenerate_id(true));
session_abort();

rr_cmd('SET', rr_key('release'), '1');
rr_wait($holder);
var_dump(rr_cmd('GET', rr_key($id)));
// The warning names the holder: its request (the CLI script), host and pid.
$holder_pid = rr_cmd('GET', rr_key('locked'));
echo preg_replace(['/ in \S+ on line \d+/', '/after \d+ ms/', '/\(path: [^)]*\)/', '/held for \d+\.\d s/',
    '/ on ' . preg_quote(php_uname('n'), '/') . ', pid ' . $holder_pid . '\b/'],
    ['', 'after N ms', '(path: …)', 'held for N s', ' on HOST, pid HOLDER'], ob_get_clean());
?>
--EXPECTF--
-- fail (default)

Warning: session_start(): rustredis: gave up waiting for the session lock after N ms (rustredis.lock_wait_ms); held for N s by php Standard input code on HOST, pid HOLDER

Warning: session_start(): Failed to read session data: rustredis (path: …)
bool(false)
bool(true)
-- readonly

Warning: session_start(): rustredis: gave up waiting for the session lock after N ms (rustredis.lock_wait_ms); held for N s by php Standard input code on HOST, pid HOLDER; continuing read-only (rustredis.on_lock_timeout=readonly): changes made by this request will not be saved
bool(true)
string(9) "committed"

Warning: session_write_close(): rustredis: write skipped: the session was opened read-only after a lock timeout (rustredis.on_lock_timeout=readonly)

Warning: session_write_close(): Failed to write session data (rustredis). Please verify that the current setting of session.save_path is correct (%s)
-- readonly: destroying or regenerating is a write too, and is refused

Warning: session_start(): rustredis: gave up waiting for the session lock after N ms (rustredis.lock_wait_ms); held for N s by php Standard input code on HOST, pid HOLDER; continuing read-only (rustredis.on_lock_timeout=readonly): changes made by this request will not be saved

Warning: session_destroy(): rustredis: write skipped: the session was opened read-only after a lock timeout (rustredis.on_lock_timeout=readonly)

Warning: session_destroy(): Session object destruction failed
bool(false)

Warning: session_start(): rustredis: gave up waiting for the session lock after N ms (rustredis.lock_wait_ms); held for N s by php Standard input code on HOST, pid HOLDER; continuing read-only (rustredis.on_lock_timeout=readonly): changes made by this request will not be saved

Warning: session_regenerate_id(): rustredis: write skipped: the session was opened read-only after a lock timeout (rustredis.on_lock_timeout=readonly)

Warning: session_regenerate_id(): Session object destruction failed. ID: rustredis (path: …)
bool(false)
string(18) "v|s:9:"committed";"
