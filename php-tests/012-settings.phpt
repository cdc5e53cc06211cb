--TEST--
Settings: visible with defaults in ini_get_all and php --ri, a bad value is named at startup and at session_start and the default is used
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
ob_start();
// The defaults (global values: rr_setup() sets a few for the test suite).
foreach (ini_get_all('rustredis') as $name => $value) echo "$name = {$value['global_value']}\n";

echo "-- php --ri rustredis\n";
$proc = proc_open([PHP_BINARY, '-n', '-d', 'extension=' . rr_env('RUSTREDIS_EXT'), '--ri', 'rustredis'],
    [1 => ['pipe', 'w'], 2 => ['redirect', 1]], $pipes);
$ri = stream_get_contents($pipes[1]);
proc_close($proc);
foreach (['rustredis session save handler => enabled', 'rustredis.locking => on => on',
          'rustredis.lock_wait_ms => 30000 => 30000'] as $line) {
    echo str_contains($ri, $line) ? "has '$line'\n" : "MISSING '$line' in:\n$ri";
}

echo "-- a bad value in php.ini is reported at startup\n";
echo rr_wait(rr_spawn('echo "started\n";', ['rustredis.lock_wait_ms' => 'soon', 'display_startup_errors' => '1']));

echo "-- a bad value set at runtime is reported at session_start, which goes on with the default\n";
ini_set('rustredis.locking', 'maybe');
var_dump(session_start());
var_dump(rr_cmd('EXISTS', rr_key(session_id()) . '_LOCK'));
session_write_close();
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECT--
rustredis.compression = none
rustredis.compression_level = 3
rustredis.compression_threshold = 2048
rustredis.connect_timeout_ms = 1000
rustredis.lock_max_hold_ms = 0
rustredis.lock_ttl_ms = 2000
rustredis.lock_wait_ms = 30000
rustredis.locking = on
rustredis.max_data_bytes = 67108864
rustredis.max_waiters = 32
rustredis.on_conflict = keep_theirs
rustredis.on_lock_timeout = fail
rustredis.read_timeout_ms = 3000
rustredis.replicas = 0
rustredis.replicas_timeout_ms = 500
rustredis.slow_lock_ms = 1000
-- php --ri rustredis
has 'rustredis session save handler => enabled'
has 'rustredis.locking => on => on'
has 'rustredis.lock_wait_ms => 30000 => 30000'
-- a bad value in php.ini is reported at startup

Warning: PHP Startup: rustredis: rustredis.lock_wait_ms: invalid value 'soon' (expected milliseconds from 0 to 86400000); using the default '30000'
started
-- a bad value set at runtime is reported at session_start, which goes on with the default

Warning: session_start(): rustredis: rustredis.locking: invalid value 'maybe' (expected on, off or optimistic); using the default 'on'
bool(true)
int(1)
