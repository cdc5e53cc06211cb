--TEST--
A Redis Cluster's node connections are rustredis's own, like one Redis's and a Sentinel master's: a stored session over rustredis.max_data_bytes plus 1 MiB is refused on read on a cluster and on a Sentinel master; a cluster seed that drips its reply fails at read_timeout; clusters:// to a server that accepts and stays silent fails within the connect timeout (TLS handshake)
--FILE--
<?php
require __DIR__ . '/common.inc';
// A fake seed: it reads a command and drips its reply, a byte every 100 ms, forever.
$drip = rr_spawn('$server = stream_socket_server("tcp://127.0.0.1:0");
    echo stream_socket_get_name($server, false), "\n";
    while ($c = @stream_socket_accept($server, 60)) { fread($c, 65536); fwrite($c, "\$1000000\r\n"); while (@fwrite($c, "x")) usleep(100000); fclose($c); }');
$drip_address = trim(fgets($drip['out']));
$silent = stream_socket_server('tcp://127.0.0.1:0');
$silent_address = stream_socket_get_name($silent, false);

rr_setup(['rustredis.read_timeout_ms' => '1000', 'rustredis.connect_timeout_ms' => '1000', 'rustredis.max_data_bytes' => '1048576']);
ob_start();
foreach (['cluster' => rr_env('RUSTREDIS_TEST_CLUSTER'), 'sentinel' => rr_env('RUSTREDIS_TEST_SENTINEL')] as $topology => $base) {
    echo "-- $topology: a stored session over the cap, then one within it\n";
    putenv("RUSTREDIS_TEST_TOPOLOGY=$topology");
    ini_set('session.save_path', $base . '&prefix=' . rr_prefix());
    rr_cmd('SET', rr_key('toolarge'), str_repeat('x', 2_200_000));
    session_id('toolarge');
    var_dump(session_start());
    session_id('fine');
    var_dump(session_start());
    $_SESSION['n'] = 1;
    session_write_close();
    var_dump(strlen(rr_cmd('GET', rr_key('fine'))) > 0);
    rr_cmd('DEL', rr_key('toolarge'), rr_key('fine'));
}
foreach (['a cluster seed that drips its reply' => "cluster://$drip_address",
          'clusters:// to a server that accepts and stays silent' => "clusters://$silent_address"] as $what => $path) {
    echo "-- $what\n";
    ini_set('session.save_path', $path);
    $started = hrtime(true);
    var_dump(session_start());
    $seconds = (hrtime(true) - $started) / 1e9;
    echo $seconds < 10 ? "did not hang\n" : "took $seconds s\n";
}
proc_terminate($drip['proc']);
rr_wait($drip);
echo preg_replace(['/ in \S+ on line \d+/', '/127\.0\.0\.1:\d+/'], ['', '127.0.0.1:PORT'], ob_get_clean());
?>
--EXPECTF--
-- cluster: a stored session over the cap, then one within it

Warning: session_start(): rustredis: Redis at cluster://%s failed: reply larger than 2097152 bytes (rustredis.max_data_bytes plus 1 MiB for the protocol); stopped reading it and closed the connection

Warning: session_start(): Failed to read session data: rustredis (path: %s)
bool(false)
bool(true)
bool(true)
-- sentinel: a stored session over the cap, then one within it

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT (master 'mymaster' named by the Sentinels) failed: reply larger than 2097152 bytes (rustredis.max_data_bytes plus 1 MiB for the protocol); stopped reading it and closed the connection

Warning: session_start(): Failed to read session data: rustredis (path: %s)
bool(false)
bool(true)
bool(true)
-- a cluster seed that drips its reply

Warning: session_start(): rustredis: Redis at cluster://127.0.0.1:PORT failed: %s127.0.0.1:PORT: rustredis connection - Client: no complete reply within 1000 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)%s

Warning: session_start(): Failed to read session data: rustredis (path: cluster://127.0.0.1:PORT)
bool(false)
did not hang
-- clusters:// to a server that accepts and stays silent

Warning: session_start(): rustredis: Redis at clusters://127.0.0.1:PORT failed: %s127.0.0.1:PORT: rustredis connection - Client: TLS handshake timed out: connecting took longer than 1000 ms (rustredis.connect_timeout_ms%s

Warning: session_start(): Failed to read session data: rustredis (path: clusters://127.0.0.1:PORT)
bool(false)
did not hang
