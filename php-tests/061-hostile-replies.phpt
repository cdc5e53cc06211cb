--TEST--
Replies have a deadline and a size cap: a server dripping bytes fails at read_timeout, an endless bulk string at max_data_bytes plus 1 MiB, a reply of millions of elements at once, each with a warning naming the setting and without the worker's memory growing; a stored session over the cap is refused on read
--FILE--
<?php
require __DIR__ . '/common.inc';
// A tiny fake server per behaviour: it reads a command and answers it badly, forever.
$servers = [];
foreach (['drip' => 'fwrite($c, "\$1000000\r\n"); while (@fwrite($c, "x")) usleep(100000);',
          'endless bulk string' => 'fwrite($c, "\$99999999999\r\n"); $chunk = str_repeat("x", 65536); while (@fwrite($c, $chunk)) {}',
          '64 Mi integers' => 'fwrite($c, "*67108864\r\n"); $chunk = str_repeat(":1\r\n", 16384); while (@fwrite($c, $chunk)) {}',
         ] as $what => $answer) {
    $child = rr_spawn('$server = stream_socket_server("tcp://127.0.0.1:0");
        echo stream_socket_get_name($server, false), "\n";
        while ($c = @stream_socket_accept($server, 60)) { fread($c, 65536); ' . $answer . ' fclose($c); }');
    $servers[$what] = ['child' => $child, 'address' => trim(fgets($child['out']))];
}

rr_setup(['rustredis.read_timeout_ms' => '1000', 'rustredis.max_data_bytes' => '1048576']);
ob_start();
$rss_before = getrusage()['ru_maxrss'];
foreach ($servers as $what => $server) {
    echo "-- $what\n";
    ini_set('session.save_path', "tcp://{$server['address']}?prefix=hostile:");
    $started = hrtime(true);
    var_dump(session_start());
    $seconds = (hrtime(true) - $started) / 1e9;
    echo $seconds < 10 ? "did not hang\n" : "took $seconds s\n";
}
$grown_mb = (getrusage()['ru_maxrss'] - $rss_before) / 1024;
echo $grown_mb < 100 ? "memory bounded\n" : "peak memory grew by $grown_mb MB\n";

// A real Redis holding a session larger than the cap (written by another client): the read is
// refused with the same warning, and the process keeps working.
echo "-- stored session over the cap\n";
ini_set('session.save_path', rr_save_path());
rr_cmd('SET', rr_key('toolarge'), str_repeat('x', 2_200_000));
session_id('toolarge');
var_dump(session_start());
session_id('fine');
var_dump(session_start());
session_write_close();

foreach ($servers as $server) {
    proc_terminate($server['child']['proc']);
    rr_wait($server['child']);
}
echo preg_replace(['/ in \S+ on line \d+/', '/127\.0\.0\.1:\d+/'], ['', '127.0.0.1:PORT'], ob_get_clean());
?>
--EXPECTF--
-- drip

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 1000 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:PORT?prefix=hostile:)
bool(false)
did not hang
-- endless bulk string

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: reply larger than 2097152 bytes (rustredis.max_data_bytes plus 1 MiB for the protocol); stopped reading it and closed the connection

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:PORT?prefix=hostile:)
bool(false)
did not hang
-- 64 Mi integers

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: reply with more than 1024 elements, more than any command of a session handler gets (is this a Redis server?); stopped reading it and closed the connection

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:PORT?prefix=hostile:)
bool(false)
did not hang
memory bounded
-- stored session over the cap

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: reply larger than 2097152 bytes (rustredis.max_data_bytes plus 1 MiB for the protocol); stopped reading it and closed the connection

Warning: session_start(): Failed to read session data: rustredis (path: %s)
bool(false)
bool(true)
