<?php
// The benchmark proper, run by bench/run.sh once Redis, php-fpm and nginx are up (it passes
// RR_REDIS_PORT, RR_HTTP_PORT, RR_FILES_DIR, RR_PHP_INI and RR_COMMAND). Measures every handler
// configuration side by side in this one run, prints the tables and writes bench/RESULTS.md.
// Nothing here is a constant figure: every number printed comes from this run.

declare(strict_types=1);
require __DIR__ . '/../scripts/demo-lib.php';
require __DIR__ . '/report.php';

const WORKER = __DIR__ . '/worker.php';

$started = microtime(true);
$loadavg = fn () => implode(' ', array_slice(explode(' ', (string) file_get_contents('/proc/loadavg')), 0, 3));
$load_start = $loadavg();
$http = (int) rr_env('RR_HTTP_PORT');
$redis_port = (int) rr_env('RR_REDIS_PORT');
$opt = [
    'wrk_seconds' => (int) (getenv('BENCH_WRK_SECONDS') ?: 8),
    'wrk_connections' => (int) (getenv('BENCH_WRK_CONNECTIONS') ?: 16),
    'cycles' => (int) (getenv('BENCH_CYCLES') ?: 1000),
    'runs' => (int) (getenv('BENCH_RUNS') ?: 5),
    'handoff_rounds' => (int) (getenv('BENCH_HANDOFF_ROUNDS') ?: 100),
    'rt_requests' => 20,
];

function say(string $line): void
{
    fwrite(STDERR, $line . "\n");
}

function median(array $xs): float
{
    return percentile($xs, 50);
}

function percentile(array $xs, float $p): float
{
    if (!$xs) {
        return NAN;
    }
    sort($xs);
    $rank = $p / 100 * (count($xs) - 1);
    $lo = (int) floor($rank);
    $hi = (int) ceil($rank);
    return $xs[$lo] + ($xs[$hi] - $xs[$lo]) * ($rank - $lo);
}

function redis_cmd(string ...$args): string
{
    global $redis_port;
    $cmd = 'redis-cli -p ' . $redis_port . ' ' . implode(' ', array_map('escapeshellarg', $args));
    return trim((string) shell_exec($cmd));
}

/** Starts a child process; returns [process, stdin, stdout]. stderr goes to ours. */
function spawn(array $command): array
{
    $env = getenv(); // PHP_INI_SCAN_DIR included: the benchmark's php.ini only, no conf.d
    $proc = proc_open($command, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], $pipes, null, $env);
    if (!is_resource($proc)) {
        throw new RuntimeException('cannot start ' . implode(' ', $command));
    }
    return [$proc, $pipes[0], $pipes[1]];
}

function php_worker(string ...$args): array
{
    return spawn([PHP_BINARY, '-c', rr_env('RR_PHP_INI'), WORKER, ...$args]);
}

/** One line from $pipe within $timeout seconds, or null. */
function read_line($pipe, float $timeout): ?string
{
    $deadline = microtime(true) + $timeout;
    $line = '';
    stream_set_blocking($pipe, false);
    while (microtime(true) < $deadline) {
        $read = [$pipe];
        $write = $except = null;
        if (stream_select($read, $write, $except, 0, 100000) > 0) {
            $chunk = fgets($pipe);
            if ($chunk === false) {
                if (feof($pipe)) {
                    return null;
                }
                continue;
            }
            $line .= $chunk;
            if (str_ends_with($line, "\n")) {
                return trim($line);
            }
        }
    }
    return null;
}

function finish(array $child): void
{
    [$proc, $in, $out] = $child;
    @fclose($in);
    $deadline = microtime(true) + 5;
    while (proc_get_status($proc)['running'] && microtime(true) < $deadline) {
        usleep(20000);
    }
    if (proc_get_status($proc)['running']) {
        proc_terminate($proc, 9);
    }
    @fclose($out);
    proc_close($proc);
}

/** Runs worker.php cycle … to completion (bounded) and returns its JSON. */
function run_cycles(string $config, string $pattern, string $sid, int $cycles, int $runs, float $max_seconds): array
{
    $child = php_worker('cycle', $config, $pattern, $sid, (string) $cycles, (string) $runs, (string) $max_seconds);
    $line = read_line($child[2], $max_seconds + 60);
    finish($child);
    $result = json_decode((string) $line, true);
    if (!is_array($result)) {
        throw new RuntimeException("cycle worker for $config $pattern gave no result");
    }
    return $result;
}

$configs = rr_configs();
$label = fn (string $config, string $pattern = '') => $configs[$config]['label'] . ($pattern === 'rac' ? ', read_and_close' : '');
$R = ['opt' => $opt, 'labels' => array_map(fn ($c) => $c['label'], $configs)];

// ---------------------------------------------------------------------------------------------
// 1. Redis commands per request, counted by Redis (MONITOR lines not issued from Lua)
// ---------------------------------------------------------------------------------------------
say('== 1/6 Redis round trips per request (MONITOR)');
$rt_cases = [
    ['rr-locked', ''], ['rr-locked', 'rac'], ['rr-off', ''], ['rr-optimistic', ''], ['rr-optimistic', 'rac'],
    ['phpredis-off', ''], ['phpredis-off', 'rac'], ['phpredis-off-p', ''],
    ['phpredis-lock', ''], ['phpredis-lock', 'rac'],
];
foreach ($rt_cases as [$config, $pattern]) {
    $sid = rr_new_session_id('rt');
    $cookie = rr_cookie($sid);
    $path = $pattern === 'rac' ? "/state.php?do=show&c=$config" : "/ajax.php?c=$config&ms=0&op=inc";
    rr_http_get($http, "/state.php?do=reset&c=$config", $cookie);
    for ($i = 0; $i < 30; $i++) {
        rr_http_get($http, $path, $cookie);
    }
    $log = tempnam(sys_get_temp_dir(), 'monitor');
    $monitor = proc_open(['redis-cli', '-p', (string) $redis_port, 'monitor'], [1 => ['file', $log, 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
    for ($i = 0; $i < 100 && !str_contains((string) file_get_contents($log), 'OK'); $i++) {
        usleep(20000);
    }
    $bad = 0;
    for ($i = 0; $i < $opt['rt_requests']; $i++) {
        $r = rr_http_get($http, $path, $cookie);
        $bad += $r['status'] === 200 ? 0 : 1;
    }
    usleep(300000);
    proc_terminate($monitor);
    proc_close($monitor);
    $by_command = [];
    $client = 0;
    $lua = 0;
    foreach (file($log) ?: [] as $line) {
        if (!preg_match('/^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/', $line, $m)) {
            continue;
        }
        if ($m[1] === 'lua') {
            $lua++;
            continue;
        }
        $client++;
        $cmd = strtoupper($m[2]);
        $by_command[$cmd] = ($by_command[$cmd] ?? 0) + 1;
    }
    unlink($log);
    $n = $opt['rt_requests'];
    $R['roundtrips'][] = [
        'config' => $config,
        'pattern' => $pattern,
        'per_request' => $client / $n,
        'lua_per_request' => $lua / $n,
        'commands' => array_map(fn ($c) => $c / $n, $by_command),
        'failed_requests' => $bad,
    ];
    say(sprintf('   %-45s %.2f round trips/request', $label($config, $pattern), $client / $n));
}

// ---------------------------------------------------------------------------------------------
// 2. µs per session cycle in a php CLI loop
// ---------------------------------------------------------------------------------------------
say('== 2/6 µs per session cycle (php CLI loop)');
$cycle_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-off-p', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-off', ''], ['rr-optimistic', ''],
    ['phpredis-off', 'rac'], ['phpredis-lock', 'rac'], ['rr-locked', 'rac'],
];
foreach ($cycle_cases as [$config, $pattern]) {
    $result = run_cycles($config, $pattern, rr_new_session_id('cy'), $opt['cycles'], $opt['runs'], 60);
    $R['cycles'][] = ['config' => $config, 'pattern' => $pattern, 'median_us' => median($result['us'])] + $result;
    say(sprintf('   %-45s %.1f µs (runs: %s)', $label($config, $pattern), median($result['us']), implode(' ', array_map(fn ($x) => round($x, 1), $result['us']))));
}

// ---------------------------------------------------------------------------------------------
// 3. php-fpm + nginx throughput under wrk, a different session per request
// ---------------------------------------------------------------------------------------------
say("== 3/6 php-fpm throughput (wrk, {$opt['wrk_seconds']} s per configuration)");

function wrk_seconds(string $value, string $unit): float
{
    return (float) $value * ['us' => 1e-6, 'ms' => 1e-3, 's' => 1.0, 'm' => 60.0][$unit];
}

function run_wrk(int $port, string $path, int $seconds, int $connections): array
{
    $cmd = sprintf(
        'WRK_SESSIONS=2000 wrk -t2 -c%d -d%ds --timeout 10s --latency -s %s %s 2>&1',
        $connections,
        $seconds,
        escapeshellarg(__DIR__ . '/sessions.lua'),
        escapeshellarg("http://127.0.0.1:$port$path")
    );
    $out = (string) shell_exec($cmd);
    $result = ['rps' => NAN, 'p50_ms' => NAN, 'p99_ms' => NAN, 'requests' => 0, 'errors' => 0, 'non2xx' => 0];
    if (preg_match('/Requests\/sec:\s+([\d.]+)/', $out, $m)) {
        $result['rps'] = (float) $m[1];
    }
    foreach (['50' => 'p50_ms', '99' => 'p99_ms'] as $p => $key) {
        if (preg_match("/^\s+$p%\s+([\d.]+)(us|ms|s|m)\s*$/m", $out, $m)) {
            $result[$key] = wrk_seconds($m[1], $m[2]) * 1000;
        }
    }
    if (preg_match('/(\d+) requests in/', $out, $m)) {
        $result['requests'] = (int) $m[1];
    }
    if (preg_match('/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/', $out, $m)) {
        $result['errors'] = (int) $m[1] + (int) $m[2] + (int) $m[3] + (int) $m[4];
    }
    if (preg_match('/Non-2xx or 3xx responses: (\d+)/', $out, $m)) {
        $result['non2xx'] = (int) $m[1];
    }
    return $result;
}

$wrk_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-off-p', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-off', ''], ['rr-optimistic', ''],
    ['phpredis-off', 'rac'], ['rr-locked', 'rac'],
];
foreach ($wrk_cases as [$config, $pattern]) {
    redis_cmd('FLUSHALL');
    $path = $pattern === 'rac' ? "/state.php?do=show&c=$config" : "/ajax.php?c=$config&ms=0&op=inc";
    run_wrk($http, $path, 1, $opt['wrk_connections']); // warm-up: workers, connections, sessions
    $result = run_wrk($http, $path, $opt['wrk_seconds'], $opt['wrk_connections']);
    $result['sessions_in_redis'] = (int) redis_cmd('DBSIZE');
    $R['wrk'][] = ['config' => $config, 'pattern' => $pattern] + $result;
    say(sprintf('   %-45s %7.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d non-2xx %d', $label($config, $pattern), $result['rps'], $result['p50_ms'], $result['p99_ms'], $result['errors'], $result['non2xx']));
}

// ---------------------------------------------------------------------------------------------
// 4. The parallel-AJAX case: N = 10 requests of 300 ms on one session, vs one request alone
// ---------------------------------------------------------------------------------------------
say('== 4/6 parallel AJAX, N = 10 × 300 ms on one session');
$ajax_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-locked', 'rac'], ['rr-off', ''], ['rr-optimistic', ''],
];
foreach ($ajax_cases as [$config, $pattern]) {
    $single = rr_parallel_ajax($http, $config, $pattern, 1, 300);
    $run = rr_parallel_ajax($http, $config, $pattern, 10, 300);
    unset($run['requests']);
    $R['ajax'][] = $run + ['single' => $single['wall']];
    say(sprintf('   %-45s %.2f s (one alone %.2f s), kept %d/10, lost %d (%d silently)', $label($config, $pattern), $run['wall'], $single['wall'], $run['kept'], $run['lost'], $run['silent']));
}

// ---------------------------------------------------------------------------------------------
// 5. Lock handoff: holder calls session_write_close() → waiter's session_start() returns
// ---------------------------------------------------------------------------------------------
say("== 5/6 lock handoff ({$opt['handoff_rounds']} rounds each)");
foreach (['files', 'rr-locked', 'phpredis-lock', 'phpredis-lock-wait'] as $config) {
    $holder = php_worker('holder', $config);
    $waiter = php_worker('waiter', $config);
    $handoff = [];
    $close = [];
    $failed = 0;
    for ($round = 0; $round < $opt['handoff_rounds']; $round++) {
        $sid = rr_new_session_id('ho');
        fwrite($holder[1], "lock $sid\n");
        if (!str_starts_with((string) read_line($holder[2], 10), 'locked')) {
            $failed++;
            break;
        }
        fwrite($waiter[1], "wait $sid\n");
        read_line($waiter[2], 10); // "waiting": it is about to call session_start()
        usleep(5000);              // … and is now blocked in it
        fwrite($holder[1], "release\n");
        $released = explode(' ', (string) read_line($holder[2], 10));
        $acquired = explode(' ', (string) read_line($waiter[2], 40));
        if (count($released) < 3 || count($acquired) < 3 || $acquired[2] !== '0') {
            $failed++;
            continue;
        }
        $handoff[] = ((float) $acquired[1] - (float) $released[1]) * 1000;
        $close[] = ((float) $released[2] - (float) $released[1]) * 1000;
    }
    finish($holder);
    finish($waiter);
    $R['handoff'][$config] = [
        'p50_ms' => percentile($handoff, 50),
        'p99_ms' => percentile($handoff, 99),
        'close_p50_ms' => percentile($close, 50),
        'rounds' => count($handoff),
        'failed' => $failed,
    ];
    say(sprintf('   %-45s p50 %.3f ms  p99 %.3f ms  (%d rounds, %d failed)', $label($config), percentile($handoff, 50), percentile($handoff, 99), count($handoff), $failed));
}

// read_and_close readers while a writer holds the lock of the same session
say('== 5b/6 read_and_close readers while a writer holds the lock');
foreach (['rr-locked', 'phpredis-off', 'phpredis-lock', 'files'] as $config) {
    $sid = rr_new_session_id('rd');
    $free = run_cycles($config, 'rac', $sid, 200, $opt['runs'], 20);
    $holder = php_worker('holder', $config);
    fwrite($holder[1], "lock $sid\n");
    read_line($holder[2], 10);
    // The reader runs while the lock is held; the holder lets go after 3 s at the latest, so a
    // reader that blocks is measured as blocked instead of hanging the benchmark.
    $reader = php_worker('cycle', $config, 'rac', $sid, '200', (string) $opt['runs'], '2.5');
    $t0 = microtime(true);
    $line = read_line($reader[2], 3.5);
    $blocked_ms = null;
    if ($line === null) {
        fwrite($holder[1], "release\n");
        $line = read_line($reader[2], 60);
        $blocked_ms = (microtime(true) - $t0) * 1000;
    } else {
        fwrite($holder[1], "release\n");
    }
    read_line($holder[2], 10);
    finish($reader);
    finish($holder);
    $held = json_decode((string) $line, true) ?: ['us' => [], 'warnings' => 0];
    $R['readers'][$config] = [
        'free_us' => median($free['us']),
        'held_us' => median($held['us']),
        'blocked_ms' => $blocked_ms,
        'warnings' => $held['warnings'],
        'warning' => $held['warning'] ?? null,
    ];
    say(sprintf('   %-45s alone %.1f µs, writer holding the lock %s', $label($config, 'rac'), median($free['us']), $blocked_ms !== null ? sprintf('blocked %.0f ms until the writer let go', $blocked_ms) : sprintf('%.1f µs', median($held['us']))));
}

// ---------------------------------------------------------------------------------------------
// 6. Lost updates: 20 parallel increments of one counter, 20 parallel distinct-key writes
// ---------------------------------------------------------------------------------------------
say('== 6/6 lost updates (20 parallel fpm requests, 50 ms each)');
$lost_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-locked', 'rac'], ['rr-off', ''], ['rr-optimistic', ''],
];
foreach ($lost_cases as [$config, $pattern]) {
    foreach (['inc', 'key'] as $op) {
        $run = rr_parallel_ajax($http, $config, $pattern, 20, 50, $op);
        $R['lost'][] = [
            'config' => $config, 'pattern' => $pattern, 'op' => $op, 'kept' => $run['kept'], 'lost' => $run['lost'],
            'refused' => $run['refused'], 'silent' => $run['silent'], 'wall' => $run['wall'],
            'warning' => $run['warnings'][0] ?? null,
        ];
        say(sprintf('   %-45s %-3s kept %2d/20, reported %2d, silently lost %2d', $label($config, $pattern), $op, $run['kept'], $run['refused'], $run['silent']));
    }
}

$R['seconds'] = microtime(true) - $started;
$R['load'] = [$load_start, $loadavg()];
write_report($R, $label);
