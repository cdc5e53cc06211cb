--TEST--
session_abort, session_reset, session_destroy and session_regenerate_id behave as with files, and every path releases the lock
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
// Output would count as sent headers and make session_regenerate_id() refuse.
ob_start();
function locked(string $id): bool { return (bool)rr_cmd('EXISTS', rr_lock_key($id)); }

session_start();
$id = session_id();
$_SESSION['v'] = 1;
session_write_close();

echo "-- abort keeps the stored data and releases the lock\n";
session_id($id);
session_start();
var_dump(locked($id));
$_SESSION['v'] = 2;
session_abort();
var_dump(locked($id), rr_cmd('GET', rr_key($id)));

echo "-- reset re-reads under the lock it already holds\n";
session_id($id);
session_start();
$_SESSION['v'] = 99;
var_dump(session_reset(), $_SESSION['v'], locked($id));
session_write_close();
var_dump(locked($id));

echo "-- regenerate_id(false) keeps the old session, moves to a new locked one\n";
session_id($id);
session_start();
$_SESSION['v'] = 3;
var_dump(session_regenerate_id(false));
$new = session_id();
var_dump($new !== $id, locked($id), locked($new));
$_SESSION['w'] = 4;
session_write_close();
var_dump(rr_cmd('GET', rr_key($id)), rr_cmd('GET', rr_key($new)), locked($new));

echo "-- regenerate_id(true) deletes the old session\n";
session_id($new);
session_start();
var_dump(session_regenerate_id(true));
$newer = session_id();
session_write_close();
var_dump(rr_cmd('EXISTS', rr_key($new)), rr_cmd('GET', rr_key($newer)), locked($new), locked($newer));

echo "-- destroy deletes data and lock\n";
session_id($newer);
session_start();
var_dump(session_destroy(), rr_cmd('EXISTS', rr_key($newer)), locked($newer));
?>
--EXPECT--
-- abort keeps the stored data and releases the lock
bool(true)
bool(false)
string(6) "v|i:1;"
-- reset re-reads under the lock it already holds
bool(true)
int(1)
bool(true)
bool(false)
-- regenerate_id(false) keeps the old session, moves to a new locked one
bool(true)
bool(true)
bool(false)
bool(true)
string(6) "v|i:3;"
string(12) "v|i:3;w|i:4;"
bool(false)
-- regenerate_id(true) deletes the old session
bool(true)
int(0)
string(12) "v|i:3;w|i:4;"
bool(false)
bool(false)
-- destroy deletes data and lock
bool(true)
int(0)
bool(false)
