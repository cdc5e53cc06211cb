<?php
// Section 8 of the benchmark (included by bench.php): Redis one LAN hop away. A delay proxy of our
// own (examples/delay_proxy.rs) between php and Redis adds about 0.1, 0.25 and 0.5 ms of round-trip
// time, and one round trip to every new connection, as a TCP handshake does. The round trip it
// really adds is measured (PHP's PING through it against PING direct), and the proxy's own cost is
// taken off the requested delay first. Unpinned: the proxy needs a CPU of its own.

declare(strict_types=1);

/** Starts the proxy in front of Redis; returns [process, port]. */
function start_proxy(string $binary, int $redis_port, int $added_us): array
{
    $s = stream_socket_server('tcp://127.0.0.1:0');
    $port = (int) substr(strrchr(stream_socket_get_name($s, false), ':'), 1);
    fclose($s);
    $proc = proc_open([$binary, (string) $port, "127.0.0.1:$redis_port", (string) $added_us], [1 => ['pipe', 'w'], 2 => STDERR], $pipes);
    if (read_line($pipes[1], 10) !== 'ready') {
        throw new RuntimeException('the delay proxy did not start');
    }
    return [$proc, $port, $pipes[1]];
}

function stop_proxy(array $proxy): void
{
    proc_terminate($proxy[0], 9);
    @fclose($proxy[2]);
    proc_close($proxy[0]);
}

/** µs of a new connection plus its first PING (phpredis), median of 50. */
function connect_us(int $port): ?float
{
    $xs = [];
    for ($i = 0; $i < 50; $i++) {
        $t = hrtime(true);
        $redis = new Redis();
        $redis->connect('127.0.0.1', $port, 2.0);
        $redis->ping();
        $xs[] = (hrtime(true) - $t) / 1e3;
        $redis->close();
    }
    return median($xs);
}

function distance_bench(array $opt, int $redis_port): array
{
    $binary = dirname(__DIR__) . '/target/delay-proxy/release/examples/delay_proxy';
    if (!is_executable($binary)) {
        say("   skipped: $binary is missing (bench/run.sh builds it with cargo)");
        return ['skipped' => "$binary missing"];
    }
    pin(false);
    $cases = [['rr-locked', ''], ['rr-locked', 'rac'], ['rr-optimistic', ''], ['phpredis-off', ''], ['phpredis-lock', '']];
    $direct = ping_us($redis_port);
    $proxy = start_proxy($binary, $redis_port, 0);
    $overhead = max(0.0, ping_us($proxy[1]) - $direct);
    stop_proxy($proxy);
    $cycles = max(100, intdiv($opt['cycles'], 3));
    $out = ['direct_ping_us' => $direct, 'proxy_overhead_us' => $overhead, 'distances' => []];
    foreach ([100, 250, 500] as $target) {
        $proxy = start_proxy($binary, $redis_port, (int) max(0, $target - $overhead));
        $added = ping_us($proxy[1]) - $direct;
        $connect = connect_us($proxy[1]);
        putenv("RR_REDIS_PORT={$proxy[1]}");
        $us = [];
        for ($round = 0; $round < $opt['runs']; $round++) {
            foreach ($cases as $k => [$config, $pattern]) {
                $r = run_cycles($config, $pattern, rr_new_session_id('ds'), $cycles, 1, 60);
                $us[$k][] = $r['us'][0] ?? null;
            }
        }
        putenv("RR_REDIS_PORT=$redis_port");
        stop_proxy($proxy);
        $rows = [];
        foreach ($cases as $k => [$config, $pattern]) {
            $rows[] = ['config' => $config, 'pattern' => $pattern, 'median_us' => median(array_filter($us[$k])), 'runs' => $us[$k]];
        }
        $out['distances'][] = ['target_us' => $target, 'added_us' => $added, 'connect_us' => $connect, 'cycles' => $cycles, 'rows' => $rows];
        say(sprintf('   +%d µs requested (measured +%.0f µs RTT, connect+PING %.0f µs): %s', $target, $added, $connect,
            implode(', ', array_map(fn ($r) => $r['config'] . ($r['pattern'] ? " {$r['pattern']}" : '') . ' ' . round((float) $r['median_us']) . ' µs', $rows))));
    }
    return $out;
}
