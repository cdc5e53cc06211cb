--TEST--
use_strict_mode: unknown ids are replaced by a fresh reserved id, known ids are kept, and validation costs no extra round trip
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup(['session.use_strict_mode' => '1']);
session_id('attackerchosenid123');
session_start();
$id = session_id();
var_dump($id !== 'attackerchosenid123');
// create_sid reserved the new id in Redis before anyone could take it.
var_dump(rr_cmd('EXISTS', rr_key($id)), rr_cmd('EXISTS', rr_key('attackerchosenid123')));
$_SESSION['a'] = 1;
session_write_close();

session_id($id);
session_start();
var_dump(session_id() === $id, $_SESSION['a']);
session_write_close();

// session_reset() on a session this request just created keeps its id (as with files).
session_id('');
session_start();
$created = session_id();
$_SESSION['b'] = 2;
var_dump(session_reset(), session_id() === $created, $_SESSION);
session_write_close();
?>
--EXPECT--
bool(true)
int(1)
int(0)
bool(true)
int(1)
bool(true)
bool(true)
array(0) {
}
