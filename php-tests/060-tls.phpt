--TEST--
TLS with a real TLS Redis and certificates made here: a private CA via stream[cafile], no CA or a wrong host name fails closed unless stream[peer_name] names the certificate, mutual TLS with stream[local_cert]/stream[local_pk], stream[verify_peer]=0 refused; tls:// to a plain port or a silent server fails within the connect timeout
--FILE--
<?php
require __DIR__ . '/common.inc';
$dir = sys_get_temp_dir() . '/rr-tls-' . bin2hex(random_bytes(4));
mkdir($dir);
function openssl_cli(array $args): void {
    $proc = proc_open(['openssl', ...$args], [1 => ['file', '/dev/null', 'w'], 2 => ['pipe', 'w']], $pipes);
    $errors = stream_get_contents($pipes[2]);
    if (proc_close($proc) !== 0) {
        echo "FATAL: openssl ", implode(' ', $args), ": $errors\n";
        exit(1);
    }
}
// A CA of the test's own, a server certificate for redis.test and 127.0.0.1, a client certificate.
$ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
openssl_cli(['req', '-x509', ...$ec, '-keyout', "$dir/ca.key", '-out', "$dir/ca.pem", '-days', '2', '-subj', '/CN=rustredis test CA']);
foreach (['server' => "subjectAltName=DNS:redis.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
          'client' => "extendedKeyUsage=clientAuth\n"] as $name => $extensions) {
    file_put_contents("$dir/$name.ext", $extensions);
    openssl_cli(['req', ...$ec, '-keyout', "$dir/$name.key", '-out', "$dir/$name.csr", '-subj', "/CN=rustredis test $name"]);
    openssl_cli(['x509', '-req', '-in', "$dir/$name.csr", '-CA', "$dir/ca.pem", '-CAkey', "$dir/ca.key", '-CAcreateserial',
        '-out', "$dir/$name.pem", '-days', '2', '-extfile', "$dir/$name.ext"]);
}
file_put_contents("$dir/client-and-key.pem", file_get_contents("$dir/client.pem") . file_get_contents("$dir/client.key"));

function free_port(): int {
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int)substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    return $port;
}
// Two TLS-only servers: one that needs no client certificate, one that requires it.
$servers = [];
foreach (['plain' => 'no', 'mutual' => 'yes'] as $name => $auth_clients) {
    $port = free_port();
    $servers[$name] = ['port' => $port, 'proc' => proc_open([rr_redis_server(), '--bind', '127.0.0.1', '--port', '0',
        '--tls-port', (string)$port, '--tls-cert-file', "$dir/server.pem", '--tls-key-file', "$dir/server.key",
        '--tls-ca-cert-file', "$dir/ca.pem", '--tls-auth-clients', $auth_clients,
        '--save', '', '--appendonly', 'no', '--dir', $dir],
        [1 => ['file', "$dir/$name.log", 'w'], 2 => ['redirect', 1]], $pipes)];
    if (!rr_wait_until(fn() => @stream_socket_client("tcp://127.0.0.1:$port"), 10)) {
        echo "FATAL: the TLS Redis did not start: ", file_get_contents("$dir/$name.log");
        exit(1);
    }
}
$tls = $servers['plain']['port'];
$mtls = $servers['mutual']['port'];
$ca = "stream[cafile]=$dir/ca.pem";
$client = "stream[local_cert]=$dir/client.pem&stream[local_pk]=$dir/client.key";

rr_setup(['rustredis.connect_timeout_ms' => '1000']);
ob_start();
/** A whole session round trip over $path: write, then read back in a second request. */
function round_trip(string $what, string $path): void {
    echo "-- $what\n";
    ini_set('session.save_path', "$path&prefix=" . rr_prefix());
    if (!session_start()) {
        echo "session_start() failed\n";
        return;
    }
    $_SESSION['over'] = $what;
    $id = session_id();
    session_write_close();
    session_id($id);
    session_start(['read_and_close' => true]);
    echo ($_SESSION['over'] ?? null) === $what ? "ok\n" : "read back wrong data\n";
}

round_trip('private CA via stream[cafile]', "tls://127.0.0.1:$tls?$ca");
round_trip('the same as a rediss:// URL', "rediss://127.0.0.1:$tls/0?$ca");
round_trip('no cafile: the system store does not know the CA', "tls://127.0.0.1:$tls?database=0");
round_trip('a cafile that does not exist', "tls://127.0.0.1:$tls?stream[cafile]=$dir/missing.pem");
round_trip('a host name the certificate does not carry', "tls://localhost:$tls?$ca");
round_trip('... unless stream[peer_name] names the certificate', "tls://localhost:$tls?$ca&stream[peer_name]=redis.test");
round_trip('... or stream[verify_peer_name]=0 (still signed by the CA)', "tls://localhost:$tls?$ca&stream[verify_peer_name]=0");
round_trip('stream[peer_name] naming another host', "tls://127.0.0.1:$tls?$ca&stream[peer_name]=other.example");
round_trip('mutual TLS with local_cert and local_pk', "tls://127.0.0.1:$mtls?$ca&$client");
round_trip('mutual TLS with the key inside local_cert', "tls://127.0.0.1:$mtls?$ca&stream[local_cert]=$dir/client-and-key.pem");
round_trip('mutual TLS without a client certificate', "tls://127.0.0.1:$mtls?$ca");
round_trip('stream[verify_peer]=0', "tls://127.0.0.1:$tls?stream[verify_peer]=0");

// Not TLS at the other end: a plain Redis port (which waits for more, or answers in plain text,
// depending on the bytes of the ClientHello) and a server that accepts and stays silent.
$silent = stream_socket_server('tcp://127.0.0.1:0');
$plain = parse_url(rr_env('RUSTREDIS_TEST_REDIS'));
$unanswered = ['a plain Redis port' => "tls://{$plain['host']}:{$plain['port']}?database=0",
               'a server that accepts and stays silent' => 'tls://' . stream_socket_get_name($silent, false) . '?database=0'];
$log = ob_get_clean();
foreach ($unanswered as $what => $path) {
    ob_start();
    $started = hrtime(true);
    ini_set('session.save_path', $path);
    $started_ok = session_start();
    $seconds = (hrtime(true) - $started) / 1e9;
    $warnings = ob_get_clean();
    $log .= "-- tls:// to $what\n";
    $log .= !$started_ok && $seconds < 10
        && preg_match('/failed: (TLS handshake timed out: connecting took longer than 1000 ms \(rustredis.connect_timeout_ms|TLS failed: )/', $warnings)
        ? "failed within the connect timeout\n" : "unexpected ($seconds s): $warnings\n";
}

foreach ($servers as $server) {
    proc_terminate($server['proc']);
    proc_close($server['proc']);
}
array_map('unlink', glob("$dir/*"));
rmdir($dir);
echo preg_replace(['/ in \S+ on line \d+/', '/(127\.0\.0\.1|localhost):\d+/', '/rr-tls-[0-9a-f]+/', '/prefix=phpt_[0-9a-f]+:/'],
    ['', '$1:PORT', 'rr-tls-X', 'prefix=P'], $log);
?>
--EXPECTF--
-- private CA via stream[cafile]
ok
-- the same as a rediss:// URL
ok
-- no cafile: the system store does not know the CA

Warning: session_start(): rustredis: Redis at tls://127.0.0.1:PORT failed: TLS failed: %scertificate verify failed%s; the server's certificate is not signed by a CA in the system's store: trust its CA with stream[cafile]=/path/to/ca.pem

Warning: session_start(): Failed to read session data: rustredis (path: %s)
session_start() failed
-- a cafile that does not exist

Warning: session_start(): rustredis: Redis at tls://127.0.0.1:PORT failed: stream[cafile] '/tmp/rr-tls-X/missing.pem': cannot read it: No such file or directory (os error 2)

Warning: session_start(): Failed to read session data: rustredis (path: %s)
session_start() failed
-- a host name the certificate does not carry

Warning: session_start(): rustredis: Redis at tls://localhost:PORT failed: TLS failed: %scertificate verify failed%s(hostname mismatch); the server's certificate is not issued to this host: set stream[peer_name] to the name it carries

Warning: session_start(): Failed to read session data: rustredis (path: %s)
session_start() failed
-- ... unless stream[peer_name] names the certificate
ok
-- ... or stream[verify_peer_name]=0 (still signed by the CA)
ok
-- stream[peer_name] naming another host

Warning: session_start(): rustredis: Redis at tls://127.0.0.1:PORT failed: TLS failed: %scertificate verify failed%s(hostname mismatch); the server's certificate is not issued to stream[peer_name]

Warning: session_start(): Failed to read session data: rustredis (path: %s)
session_start() failed
-- mutual TLS with local_cert and local_pk
ok
-- mutual TLS with the key inside local_cert
ok
-- mutual TLS without a client certificate

Warning: session_start(): rustredis: Redis at tls://127.0.0.1:PORT failed: TLS failed: %s; the server %s client certificate%sset stream[local_cert] and stream[local_pk]

Warning: session_start(): Failed to read session data: rustredis (path: %s)
session_start() failed
-- stream[verify_peer]=0

Warning: session_start(): rustredis: invalid session.save_path: stream[verify_peer]=0 is refused: rustredis always verifies the server's certificate. For a private or self-signed CA set stream[cafile]=/path/to/ca.pem, for a certificate issued to another name stream[peer_name]=<that name>

Warning: session_start(): Failed to initialize storage module: rustredis (path: %s)
session_start() failed
-- tls:// to a plain Redis port
failed within the connect timeout
-- tls:// to a server that accepts and stays silent
failed within the connect timeout
