<?php
// Section 9 of the benchmark (included by bench.php): Redis Cluster (3 masters, 3 replicas) and
// Sentinel (a master, its replica, 3 Sentinels), which bench/run.sh starts through
// scripts/lib-servers.sh. Round trips per request as the masters count them, µs per CLI cycle and
// php-fpm throughput, each against rustredis on one Redis and against phpredis's `rediscluster`
// handler (which does not lock) on the same save_path; then the failover rounds of
// php-tests/failover.inc (bench/failover.php), on servers of their own.

declare(strict_types=1);

/** Windows of round-trip counting per configuration. */
const TOPOLOGY_WINDOWS = 5;

/** This process's phpredis connection to the redis-server on 127.0.0.1:$port, named so that
 * the counts can leave it out. */
function topology_conn(int $port): Redis
{
    static $conns = [];
    if (!isset($conns[$port])) {
        $redis = new Redis();
        $redis->connect('127.0.0.1', $port, 2.0);
        $redis->client('setname', 'rr-bench');
        $conns[$port] = $redis;
    }
    return $conns[$port];
}

/** Ports of the cluster's masters (as its first seed sees them) and of the Sentinels' master. */
function topology_masters(): array
{
    preg_match('/seed\[\]=[^&:]+:(\d+)/', rr_env('RR_CLUSTER_SAVE_PATH'), $seed);
    $cluster = [];
    foreach (explode("\n", trim((string) topology_conn((int) $seed[1])->rawCommand('CLUSTER', 'NODES'))) as $line) {
        $f = explode(' ', $line);
        if (str_contains($f[2], 'master') && count($f) > 8) {
            $cluster[] = (int) substr(strrchr(explode('@', $f[1])[0], ':'), 1);
        }
    }
    preg_match('~^sentinel://[^:]+:(\d+)[^?]*\?master=([^&]+)~', rr_env('RR_SENTINEL_SAVE_PATH'), $sentinel);
    $redis = new Redis();
    $redis->connect('127.0.0.1', (int) $sentinel[1], 2.0);
    [, $port] = $redis->rawCommand('SENTINEL', 'get-master-addr-by-name', $sentinel[2]);
    $redis->close();
    sort($cluster);
    return ['cluster' => $cluster, 'sentinel' => [(int) $port]];
}

/**
 * Reads of client input the servers on $ports processed so far (a pipeline is one), summed, less
 * those of their replicas: a replica's REPLCONF ACK, every second, is a read of its own.
 */
function topology_reads(array $ports): int
{
    $sum = 0;
    foreach ($ports as $port) {
        $info = (string) topology_conn($port)->rawCommand('INFO', 'stats', 'commandstats');
        preg_match('/total_reads_processed:(\d+)/', $info, $reads);
        preg_match('/cmdstat_replconf:calls=(\d+)/', $info, $acks);
        $sum += (int) $reads[1] - (int) ($acks[1] ?? 0);
    }
    return $sum;
}

/** Addresses of the clients of the servers on $ports that are not sessions: replicas, the
 * Sentinels, this process; and whether there were Sentinels. */
function topology_background(array $ports): array
{
    $addresses = [];
    $sentinels = false;
    foreach ($ports as $port) {
        foreach (topology_conn($port)->client('list') as $client) {
            // phpredis turns numeric fields into integers, an empty name into 0.
            $name = (string) $client['name'];
            $sentinels = $sentinels || str_starts_with($name, 'sentinel-');
            if (str_contains((string) $client['flags'], 'S') || str_starts_with($name, 'sentinel-') || $name === 'rr-bench') {
                $addresses[] = $client['addr'];
            }
        }
    }
    return [$addresses, $sentinels];
}

/**
 * Round trips per request of each [configuration, pattern] of $cases through nginx + php-fpm, as
 * the masters count them ($ports_of: configuration => ports): reads the masters processed during
 * N sequential requests of one session, less their replicas' and the INFO that reads the count
 * (one per master), in TOPOLOGY_WINDOWS windows; the figure is their mean. Sentinels also talk to
 * their master (PING, PUBLISH, INFO, a few a second, at times several in one read, so they cannot
 * be taken off exactly): where they are, a window can only count too many, and the
 * figure is the fewest. Commands: what MONITOR saw from every client but replicas, Sentinels and
 * this process.
 */
function topology_round_trips(array $cases, array $ports_of, int $http, int $n, callable $label): array
{
    $rows = [];
    foreach ($cases as [$config, $pattern]) {
        $ports = $ports_of[$config];
        $cookie = rr_cookie(rr_new_session_id('tr'));
        $path = $pattern === 'rac' ? "/state.php?do=show&c=$config" : "/ajax.php?c=$config&ms=0&op=inc";
        rr_http_get($http, "/state.php?do=reset&c=$config", $cookie);
        // Twice php-fpm's 24 workers: each has its connections and slot map before counting starts.
        for ($i = 0; $i < 48; $i++) {
            rr_http_get($http, $path, $cookie);
        }
        $monitors = monitor_start($ports);
        [$skip, $sentinels] = topology_background($ports);
        $windows = [];
        $bad = 0;
        for ($w = 0; $w < TOPOLOGY_WINDOWS; $w++) {
            $before = topology_reads($ports);
            for ($i = 0; $i < $n; $i++) {
                $bad += rr_http_get($http, $path, $cookie)['status'] === 200 ? 0 : 1;
            }
            $windows[] = (topology_reads($ports) - $before - count($ports)) / $n;
        }
        [$by_command, $client, $lua] = monitor_stop($monitors, $skip);
        $total = $n * TOPOLOGY_WINDOWS;
        $per_request = $sentinels ? min($windows) : array_sum($windows) / count($windows);
        $rows[] = [
            'config' => $config,
            'pattern' => $pattern,
            'per_request' => $per_request,
            'figure' => $sentinels ? 'fewest' : 'mean',
            'windows' => $windows,
            'masters' => count($ports),
            'commands_per_request' => $client / $total,
            'lua_per_request' => $lua / $total,
            'commands' => array_map(fn ($c) => $c / $total, $by_command),
            'failed_requests' => $bad,
        ];
        $commands = implode(' ', array_map(fn ($cmd, $c) => round($c / $total, 2) . "×$cmd", array_keys($by_command), $by_command));
        say(sprintf('   %-45s %.2f round trips/request (windows: %s); %s', $label($config, $pattern), $per_request, implode(' ', array_map(fn ($x) => round($x, 2), $windows)), $commands));
    }
    return $rows;
}

/** bench/failover.php in a php of its own (php-tests/common.inc cannot share one with
 * scripts/demo-lib.php); its rounds, or why there are none. */
function topology_failover(): array
{
    $child = spawn([PHP_BINARY, '-n', '-d', 'extension=' . rr_env('RUSTREDIS_EXT'), __DIR__ . '/failover.php']);
    $line = read_line($child[2], 900);
    finish($child);
    $rounds = json_decode((string) $line, true);
    return is_array($rounds) ? ['rounds' => $rounds] : ['skipped' => 'bench/failover.php gave no result: ' . substr((string) $line, 0, 300)];
}

function topology_bench(array $opt, int $http, callable $label): array
{
    global $pin_ports, $redis_port;
    $masters = topology_masters();
    $ports_of = ['rr-locked' => [$redis_port], 'rr-cluster' => $masters['cluster'], 'phpredis-cluster' => $masters['cluster'], 'rr-sentinel' => $masters['sentinel']];
    $out = [];
    say('   round trips per request, counted by the masters:');
    $out['roundtrips'] = topology_round_trips([
        ['rr-locked', ''], ['rr-locked', 'rac'], ['rr-cluster', ''], ['rr-cluster', 'rac'],
        ['rr-sentinel', ''], ['rr-sentinel', 'rac'], ['phpredis-cluster', ''], ['phpredis-cluster', 'rac'],
    ], $ports_of, $http, $opt['rt_requests'], $label);

    $cases = [['rr-locked', ''], ['rr-cluster', ''], ['rr-sentinel', ''], ['phpredis-cluster', '']];
    // Pinned as section 2 is: php and the masters it talks to on one CPU (replicas and Sentinels
    // are not pinned; nothing waits for them).
    $pin_ports = [...$masters['cluster'], ...$masters['sentinel']];
    pin(true);
    say('   µs per CLI cycle, pinned:');
    $out['cycles'] = cycle_rounds($cases, 'tc', $opt, $label);
    pin(false);
    say('   µs per CLI cycle, unpinned:');
    $out['cycles_unpinned'] = cycle_rounds($cases, 'tu', $opt, $label);
    $pin_ports = [];

    say("   php-fpm throughput (wrk, {$opt['wrk_seconds']} s per configuration):");
    $all = [$redis_port, ...$masters['cluster'], ...$masters['sentinel']];
    $out['wrk'] = wrk_rows(
        $cases,
        $http,
        $opt,
        $label,
        fn () => array_map(fn ($port) => topology_conn($port)->flushAll(), $all),
        fn () => array_sum(array_map(fn ($port) => topology_conn($port)->dbSize(), $all))
    );

    say('   failover under load (php-tests/failover.inc, servers of its own):');
    $out['failover'] = topology_failover();
    foreach ($out['failover']['rounds'] ?? [] as $r) {
        say(sprintf('   %-8s rustredis.replicas=%d: %d requests, %d failed, %d acknowledged, %d lost; promoted %s s after the kill, affected sessions written %s s after the promotion',
            $r['topology'], $r['replicas'], $r['requests'], $r['failed'], $r['acknowledged'], $r['lost'], fmt($r['promoted_after_kill']), fmt($r['resumed_after_promotion'])));
    }
    if (isset($out['failover']['skipped'])) {
        say('   failover: ' . $out['failover']['skipped']);
    }
    return $out;
}
