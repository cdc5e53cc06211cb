--TEST--
Round trips on a Redis Cluster and on a Sentinel master: 2 per locked request (new, changed, unchanged, strict mode), 1 per read_and_close, as rustredis counts them and as MONITOR on the masters sees them
--FILE--
<?php
require __DIR__ . '/common.inc';
ob_start();

/** The commands on this test's keys that the servers at $addresses ran while $run ran (script
 * internals excluded), in the order of one server's stream after another. */
function monitored(array $addresses, callable $run): array {
    $monitors = [];
    foreach ($addresses as $address) {
        $monitor = stream_socket_client($address, $errno, $errstr, 2);
        fwrite($monitor, "*1\r\n\$7\r\nMONITOR\r\n");
        fgets($monitor); // +OK
        $monitors[$address] = $monitor;
    }
    $run();
    $commands = [];
    foreach ($monitors as $address => $monitor) {
        $marker = rr_prefix() . 'marker' . bin2hex(random_bytes(4));
        rr_node_cmd($address, 'ECHO', $marker);
        while (($line = fgets($monitor)) !== false && !str_contains($line, $marker)) {
            if (str_contains($line, rr_prefix()) && !str_contains($line, ' lua]') && preg_match('/\] "(\w+)"/', $line, $m)) {
                $commands[] = $m[1];
            }
        }
        fclose($monitor);
    }
    return $commands;
}

/** One request cycle: its session id and its round trips, as rustredis counted them. */
function cycle(?string $id, array $options = [], ?callable $change = null): array {
    $before = rustredis_session_info()['round_trips'];
    session_id($id ?? '');
    session_start($options);
    if ($change) $change();
    if (session_status() === PHP_SESSION_ACTIVE) session_write_close();
    return [session_id(), rustredis_session_info()['round_trips'] - $before];
}

$topologies = [
    'cluster' => rr_env('RUSTREDIS_TEST_CLUSTER') . '&prefix=' . rr_prefix(),
    'sentinel' => rr_env('RUSTREDIS_TEST_SENTINEL') . '&prefix=' . rr_prefix(),
];
foreach ($topologies as $topology => $save_path) {
    putenv("RUSTREDIS_TEST_TOPOLOGY=$topology");
    rr_setup(['session.save_path' => $save_path]);
    $masters = $topology === 'cluster' ? rr_cluster_masters() : [rr_sentinel_master()];
    // Warm up: every script loaded on every master (a first EVALSHA may answer NOSCRIPT), every
    // connection made.
    for ($i = 0; $i < 6; $i++) {
        [$id] = cycle(null, [], fn() => $_SESSION['n'] = 1);
        cycle($id, [], fn() => $_SESSION['n']++);
        cycle($id);
        cycle($id, ['read_and_close' => true]);
    }
    $report = function (string $what, callable $run) use ($masters, &$id) {
        $commands = monitored($masters, function () use ($run, &$trips, &$id) {
            [$new_id, $trips] = $run();
            $id ??= $new_id;
        });
        printf("%-36s %d: %s\n", $what, $trips, implode(' ', $commands));
    };
    echo "-- $topology\n";
    $id = null;
    $report('new session, locked', fn() => cycle(null, [], fn() => $_SESSION['n'] = 1));
    [$id] = cycle(null, [], fn() => $_SESSION['n'] = 1);
    $report('known session, changed, locked', fn() => cycle($id, [], fn() => $_SESSION['n']++));
    $report('known session, unchanged, locked', fn() => cycle($id));
    $report('read_and_close', fn() => cycle($id, ['read_and_close' => true]));
    ini_set('session.use_strict_mode', '1');
    $report('strict mode, known session, locked', fn() => cycle($id, [], fn() => $_SESSION['n']++));
    ini_set('session.use_strict_mode', '0');
}
echo ob_get_clean();
?>
--EXPECT--
-- cluster
new session, locked                  2: EVALSHA EVALSHA
known session, changed, locked       2: EVALSHA EVALSHA
known session, unchanged, locked     2: EVALSHA EVALSHA
read_and_close                       1: GET
strict mode, known session, locked   2: EVALSHA EVALSHA
-- sentinel
new session, locked                  2: EVALSHA EVALSHA
known session, changed, locked       2: SET GET PTTL GET EVALSHA
known session, unchanged, locked     2: SET GET PTTL GET EVALSHA
read_and_close                       1: GET
strict mode, known session, locked   2: SET GET PTTL GET EVALSHA
