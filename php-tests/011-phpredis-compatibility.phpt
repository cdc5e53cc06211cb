--TEST--
Migration: a session written by phpredis is read by rustredis and the other way round, same keys
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
$phpredis = ['igbinary', 'redis'];

echo "-- phpredis writes, rustredis reads\n";
echo rr_wait(rr_spawn('
    session_start();
    $_SESSION["from"] = "phpredis";
    $_SESSION["list"] = [1, "two"];
    rr_cmd("SET", rr_key("phpredis_id"), session_id());
    session_write_close();
    echo ini_get("session.save_handler"), "\n";
', ['session.save_handler' => 'redis'], $phpredis));
$id = rr_cmd('GET', rr_key('phpredis_id'));
session_id($id);
session_start();
var_dump($_SESSION);
$_SESSION['from'] = 'rustredis';
session_write_close();

echo "-- rustredis writes, phpredis reads (with phpredis locking on, it respects our lock key)\n";
echo rr_wait(rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    echo ini_get("session.save_handler"), " read from=", $_SESSION["from"], "\n";
    session_write_close();
', ['session.save_handler' => 'redis', 'redis.session.locking_enabled' => '1'], $phpredis));
var_dump(rr_cmd('EXISTS', rr_key($id)));
?>
--EXPECT--
-- phpredis writes, rustredis reads
redis
array(2) {
  ["from"]=>
  string(8) "phpredis"
  ["list"]=>
  array(2) {
    [0]=>
    int(1)
    [1]=>
    string(3) "two"
  }
}
-- rustredis writes, phpredis reads (with phpredis locking on, it respects our lock key)
redis read from=rustredis
int(1)
