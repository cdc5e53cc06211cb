--TEST--
Userland wrappers around \SessionHandler: an open() that skips parent::open() cannot crash PHP, and a write of an id the wrapper never read takes that id's lock and lands (as with files)
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
ob_start();

echo "-- open() without parent::open(): create_sid and validate_sid get no handler\n";
foreach (['0', '1'] as $strict) {
    echo rr_wait(rr_spawn('
        class NoParentOpen extends SessionHandler { public function open($path, $name): bool { return true; } }
        session_set_save_handler(new NoParentOpen);
        ' . ($strict === '1' ? 'session_id("unknownsession00000000000000000001");' : '') . '
        var_dump(@session_start());
        echo "alive\n";
    ', ['session.use_strict_mode' => $strict]));
}

// Reads one fixed session whatever id PHP asks for, as a caching or id-mapping wrapper may.
$wrapper = '
    class ReadsFixed extends SessionHandler {
        public function read($id): string|false { return parent::read(rr_prefix() === "" ? "" : "fixedsession0000000000000000001"); }
    }
    session_set_save_handler(new ReadsFixed);
';
rr_cmd('SET', rr_key('fixedsession0000000000000000001'), 'a|i:1;');

echo "-- a changed session written under an id that was never read\n";
echo rr_wait(rr_spawn($wrapper . '
    session_id("othersession0000000000000000001");
    session_start();
    $_SESSION["b"] = 2;
    var_dump(session_write_close());
'));
var_dump(rr_cmd('GET', rr_key('othersession0000000000000000001')));
var_dump(rr_cmd('GET', rr_key('fixedsession0000000000000000001')));
var_dump(rr_keys());

echo "-- an unchanged session (lazy_write: update_timestamp) under an id that was never read\n";
echo rr_wait(rr_spawn($wrapper . '
    session_id("thirdsession0000000000000000001");
    session_start();
    var_dump(session_write_close());
'));
var_dump(rr_cmd('GET', rr_key('thirdsession0000000000000000001')));

echo "-- that write waits for a request holding the id's lock, then lands after it\n";
$holder = rr_spawn('
    session_id("othersession0000000000000000001");
    session_start();
    rr_cmd("SET", rr_key("held"), "1");
    rr_wait_for_key("release", 20);
    $_SESSION["holder"] = 1;
    session_write_close();
');
var_dump(rr_wait_for_key('held'));
$writer = rr_spawn($wrapper . '
    session_id("othersession0000000000000000001");
    session_start();
    $_SESSION["writer"] = 1;
    var_dump(session_write_close());
    rr_cmd("SET", rr_key("written"), "1");
');
usleep(500000);
var_dump(rr_cmd('EXISTS', rr_key('written')));
rr_cmd('SET', rr_key('release'), '1');
echo rr_wait($holder), rr_wait($writer);
var_dump(rr_cmd('GET', rr_key('othersession0000000000000000001')), rr_cmd('EXISTS', rr_key('othersession0000000000000000001') . '_LOCK'));
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECT--
-- open() without parent::open(): create_sid and validate_sid get no handler
bool(false)
alive
bool(false)
alive
-- a changed session written under an id that was never read
bool(true)
string(12) "a|i:1;b|i:2;"
string(6) "a|i:1;"
array(2) {
  [0]=>
  string(31) "fixedsession0000000000000000001"
  [1]=>
  string(31) "othersession0000000000000000001"
}
-- an unchanged session (lazy_write: update_timestamp) under an id that was never read
bool(true)
string(6) "a|i:1;"
-- that write waits for a request holding the id's lock, then lands after it
bool(true)
int(0)
bool(true)
string(17) "a|i:1;writer|i:1;"
int(0)
