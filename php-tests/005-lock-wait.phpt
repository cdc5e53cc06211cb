--TEST--
A request waits while another holds the session lock, then sees that request's write
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
session_start();
$id = session_id();
$_SESSION['by'] = 'nobody';
session_write_close();

$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("holder_locked"), "1");
    usleep(300000);
    $_SESSION["by"] = "holder";
    session_write_close();
    echo "holder done\n";
');
rr_wait_for_key('holder_locked');
var_dump(rr_cmd('EXISTS', rr_lock_key($id)));
session_id($id);
var_dump(session_start());
// We only get here after the holder released: its write is what we read.
var_dump($_SESSION['by']);
session_write_close();
echo rr_wait($holder);
?>
--EXPECT--
int(1)
bool(true)
string(6) "holder"
holder done
