--TEST--
A malformed save_path gives one clear warning naming what is wrong, and session_start() fails
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
// Buffer: output would count as sent headers and freeze the session ini settings.
ob_start();
foreach (['', 'tcp://127.0.0.1:99999', 'tcp://127.0.0.1:6379?database=abc', 'tcp://127.0.0.1?colour=blue',
          'http://127.0.0.1', 'unix://relative/redis.sock', 'tcp://a:1,tcp://b:2',
          'tcp://127.0.0.1?timeout=1e-300', 'tcp://127.0.0.1?read_timeout=inf'] as $path) {
    ini_set('session.save_path', $path);
    echo "-- '$path'\n";
    var_dump(session_start());
}
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECT--
-- ''

Warning: session_start(): rustredis: invalid session.save_path: it is empty; set it to tcp://host:port or unix:///path/to/redis.sock

Warning: session_start(): Failed to initialize storage module: rustredis (path: )
bool(false)
-- 'tcp://127.0.0.1:99999'

Warning: session_start(): rustredis: invalid session.save_path: port '99999' is not a number from 1 to 65535

Warning: session_start(): Failed to initialize storage module: rustredis (path: tcp://127.0.0.1:99999)
bool(false)
-- 'tcp://127.0.0.1:6379?database=abc'

Warning: session_start(): rustredis: invalid session.save_path: database 'abc' is not a number 0 or greater

Warning: session_start(): Failed to initialize storage module: rustredis (path: tcp://127.0.0.1:6379?database=abc)
bool(false)
-- 'tcp://127.0.0.1?colour=blue'

Warning: session_start(): rustredis: invalid session.save_path: unknown parameter 'colour' (known: auth, user, database, prefix, timeout, read_timeout, stream[...])

Warning: session_start(): Failed to initialize storage module: rustredis (path: tcp://127.0.0.1?colour=blue)
bool(false)
-- 'http://127.0.0.1'

Warning: session_start(): rustredis: invalid session.save_path: unknown scheme 'http://' (use tcp://, tls://, unix://, redis:// or rediss://)

Warning: session_start(): Failed to initialize storage module: rustredis (path: http://127.0.0.1)
bool(false)
-- 'unix://relative/redis.sock'

Warning: session_start(): rustredis: invalid session.save_path: unix socket path 'relative/redis.sock' must be absolute (unix:///path/to/redis.sock)

Warning: session_start(): Failed to initialize storage module: rustredis (path: unix://relative/redis.sock)
bool(false)
-- 'tcp://a:1,tcp://b:2'

Warning: session_start(): rustredis: invalid session.save_path: 'tcp://a:1,tcp://b:2' lists several servers; for Redis Cluster use cluster://h1:port,h2:port or seed[]=h1:port&seed[]=h2:port, for Sentinel sentinel://h1:port,h2:port?master=<name>

Warning: session_start(): Failed to initialize storage module: rustredis (path: tcp://a:1,tcp://b:2)
bool(false)
-- 'tcp://127.0.0.1?timeout=1e-300'

Warning: session_start(): rustredis: invalid session.save_path: timeout '1e-300' is less than 1 ms; give seconds from 0.001 to 31536000

Warning: session_start(): Failed to initialize storage module: rustredis (path: tcp://127.0.0.1?timeout=1e-300)
bool(false)
-- 'tcp://127.0.0.1?read_timeout=inf'

Warning: session_start(): rustredis: invalid session.save_path: read_timeout 'inf' is not a number of seconds from 0.001 to 31536000

Warning: session_start(): Failed to initialize storage module: rustredis (path: tcp://127.0.0.1?read_timeout=inf)
bool(false)
