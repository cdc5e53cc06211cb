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
// Let the machine settle (a build may just have run): wait, 60 s at most, for the 1-minute load
// average to drop below 1.
for ($i = 0; $i < 12 && (float) $loadavg() >= 1.0; $i++) {
    if ($i === 0) {
        say('waiting for the load average to settle (at most 60 s)');
    }
    sleep(5);
}
$load_start = $loadavg();

/** Median µs of a Redis PING from PHP (phpredis): how fast a loopback round trip is right now. */
function ping_us(int $port): ?float
{
    $redis = new Redis();
    $redis->connect('127.0.0.1', $port, 2.0);
    $xs = [];
    for ($i = 0; $i < 2000; $i++) {
        $t = hrtime(true);
        $redis->ping();
        $xs[] = (hrtime(true) - $t) / 1e3;
    }
    $redis->close();
    return median($xs);
}
$http = (int) rr_env('RR_HTTP_PORT');
$redis_port = (int) rr_env('RR_REDIS_PORT');
$opt = [
    'wrk_seconds' => (int) (getenv('BENCH_WRK_SECONDS') ?: 8),
    'wrk_connections' => (int) (getenv('BENCH_WRK_CONNECTIONS') ?: 16),
    'cycles' => (int) (getenv('BENCH_CYCLES') ?: 1000),
    'runs' => (int) (getenv('BENCH_RUNS') ?: 5),
    'handoff_rounds' => (int) (getenv('BENCH_HANDOFF_ROUNDS') ?: 100),
    // Section 5b: a round is two short reader processes (about 30 ms of reads each), so one
    // busy moment of the machine moves a round's ratio a lot; many rounds give a steady median.
    'reader_rounds' => (int) (getenv('BENCH_READER_ROUNDS') ?: 15),
    'wrk_passes' => max(1, (int) (getenv('BENCH_WRK_PASSES') ?: 4)),
    'lost_trials' => max(1, (int) (getenv('BENCH_LOST_TRIALS') ?: 3)),
    'rt_requests' => 20,
];

function say(string $line): void
{
    fwrite(STDERR, $line . "\n");
}

function redis_cmd(string ...$args): string
{
    global $redis_port;
    return redis_cli($redis_port, ...$args);
}

/** One command through redis-cli to the server on 127.0.0.1:$port; its output. */
function redis_cli(int $port, string ...$args): string
{
    $cmd = 'redis-cli -p ' . $port . ' ' . implode(' ', array_map('escapeshellarg', $args));
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

/**
 * Latency sections run php and redis-server pinned to one CPU. On a small VM a process waking
 * another on an idle vCPU waits for that vCPU to come out of halt, which costs more than the
 * session work and varies from run to run; on one CPU each round trip is two context switches,
 * so the figures measure the handlers, not the hypervisor. BENCH_PIN_CPU=off disables this.
 */
$pin_cpu = null;
/** Ports of more redis-servers that pin() pins with the standalone one (section 9: the masters). */
$pin_ports = [];

/** BENCH_SECTIONS="2 5" runs only those sections (for work on the benchmark; no report is written). */
function want(int $section): bool
{
    $only = trim((string) getenv('BENCH_SECTIONS'));
    return $only === '' || ($section > 0 && in_array((string) $section, preg_split('/[\s,]+/', $only), true));
}

/** The CPU the latency sections pin to (BENCH_PIN_CPU, the last one by default), or null. */
function pin_target(): ?string
{
    $cpu = getenv('BENCH_PIN_CPU') ?: (string) max(0, (int) shell_exec('nproc') - 1);
    return ($cpu !== 'off' && (int) shell_exec('nproc') > 1) ? $cpu : null;
}

function pin(bool $on): void
{
    global $pin_cpu, $pin_ports, $redis_port;
    $pin_cpu = $on ? pin_target() : null;
    foreach ([$redis_port, ...$pin_ports] as $port) {
        $redis_pid = (int) (preg_match('/process_id:(\d+)/', redis_cli($port, 'INFO', 'server'), $m) ? $m[1] : 0);
        if ($redis_pid > 0) {
            shell_exec(sprintf('taskset -pc %s %d >/dev/null 2>&1', escapeshellarg($pin_cpu ?? '0-' . ((int) shell_exec('nproc') - 1)), $redis_pid));
        }
    }
}

function php_worker(string ...$args): array
{
    global $pin_cpu;
    $taskset = $pin_cpu === null ? [] : ['taskset', '-c', $pin_cpu];
    return spawn([...$taskset, PHP_BINARY, '-c', rr_env('RR_PHP_INI'), WORKER, ...$args]);
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

/**
 * µs per CLI session cycle of each [configuration, pattern] of $cases, in $opt['runs'] rounds that
 * each run every case once, so a slow spell of the machine hits them all alike. One row per case:
 * the median, each round's figure, whether the counter counted every cycle, warnings.
 */
function cycle_rounds(array $cases, string $tag, array $opt, callable $label): array
{
    $results = [];
    for ($round = 0; $round < $opt['runs']; $round++) {
        foreach ($cases as $k => [$config, $pattern]) {
            $results[$k][] = run_cycles($config, $pattern, rr_new_session_id($tag), $opt['cycles'], 1, 60);
        }
    }
    $rows = [];
    foreach ($cases as $k => [$config, $pattern]) {
        $us = array_merge(...array_column($results[$k], 'us'));
        $rows[] = [
            'config' => $config,
            'pattern' => $pattern,
            'median_us' => median($us),
            'us' => $us,
            // Fresh session each round: the counter must equal that round's 20 warm-up + measured cycles.
            'counter_ok' => array_reduce($results[$k], fn ($ok, $r) => $ok && $r['counter'] === $r['cycles'] + 20, true),
            'warnings' => array_sum(array_column($results[$k], 'warnings')),
        ];
        say(sprintf('   %-45s %.1f µs (runs: %s)', $label($config, $pattern), median($us), implode(' ', array_map(fn ($x) => round($x, 1), $us))));
    }
    return $rows;
}

/** Starts redis-cli MONITOR on each of $ports, each into a temp file; returns them once they run. */
function monitor_start(array $ports): array
{
    $monitors = [];
    foreach ($ports as $port) {
        $log = tempnam(sys_get_temp_dir(), 'monitor');
        $monitor = proc_open(['redis-cli', '-p', (string) $port, 'monitor'], [1 => ['file', $log, 'w'], 2 => ['file', '/dev/null', 'w']], $pipes);
        for ($i = 0; $i < 100 && !str_contains((string) file_get_contents($log), 'OK'); $i++) {
            usleep(20000);
        }
        $monitors[] = [$monitor, $log];
    }
    return $monitors;
}

/**
 * Stops the MONITORs of monitor_start(); returns what they saw: [client commands by name, client
 * commands, commands run inside Lua], leaving out the clients at the addresses $skip.
 */
function monitor_stop(array $monitors, array $skip = []): array
{
    usleep(300000);
    $by_command = [];
    $client = 0;
    $lua = 0;
    foreach ($monitors as [$monitor, $log]) {
        proc_terminate($monitor);
        proc_close($monitor);
        foreach (file($log) ?: [] as $line) {
            if (!preg_match('/^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/', $line, $m)) {
                continue;
            }
            if (in_array($m[1], $skip, true)) {
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
    }
    return [$by_command, $client, $lua];
}

$configs = rr_configs();
// Section 5's floor: no session handler, the least a lock kept in Redis costs to hand over.
$configs['redis-floor'] = ['label' => 'floor: a plain RPUSH waking a BLPOP, no session (phpredis)'];
$label = fn (string $config, string $pattern = '') => $configs[$config]['label'] . ($pattern === 'rac' ? ', read_and_close' : '');
$R = [
    'ping_us' => [ping_us($redis_port)],
    // What pin(true) pins to ('off': nothing, by BENCH_PIN_CPU=off or on a single CPU).
    'pinned_cpu' => pin_target() ?? 'off',
    'opt' => $opt,
    'labels' => array_map(fn ($c) => $c['label'], $configs),
    'phpredis_lock_defaults' => rr_phpredis_lock_settings(),
];

// ---------------------------------------------------------------------------------------------
// 1. Redis commands per request, counted by Redis (MONITOR lines not issued from Lua)
// ---------------------------------------------------------------------------------------------
if (want(1)):
say('== 1/10 Redis round trips per request (reads Redis processed; commands by MONITOR)');
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
    $monitors = monitor_start([$redis_port]);
    $bad = 0;
    // Round trips as Redis counts them: reads of client input it processed (a pipeline is one).
    $reads = fn () => (int) (preg_match('/total_reads_processed:(\d+)/', redis_cmd('INFO', 'stats'), $m) ? $m[1] : 0);
    $reads_before = $reads();
    for ($i = 0; $i < $opt['rt_requests']; $i++) {
        $r = rr_http_get($http, $path, $cookie);
        $bad += $r['status'] === 200 ? 0 : 1;
    }
    // Less the INFO that read it, and the close of the redis-cli that read it before (run 2026-12-01
    // counted that close in the window: 2.05 and 1.05).
    $trips = $reads() - $reads_before - 2;
    [$by_command, $client, $lua] = monitor_stop($monitors);
    $n = $opt['rt_requests'];
    $R['roundtrips'][] = [
        'config' => $config,
        'pattern' => $pattern,
        'per_request' => $trips / $n,
        'commands_per_request' => $client / $n,
        'lua_per_request' => $lua / $n,
        'commands' => array_map(fn ($c) => $c / $n, $by_command),
        'failed_requests' => $bad,
    ];
    say(sprintf('   %-45s %.2f round trips/request (%.2f commands)', $label($config, $pattern), $trips / $n, $client / $n));
}

endif;

// ---------------------------------------------------------------------------------------------
// 2. µs per session cycle in a php CLI loop
// ---------------------------------------------------------------------------------------------
if (want(2)):
say('== 2/10 µs per session cycle (php CLI loop)');
pin(true);
$cycle_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-off-p', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-off', ''], ['rr-optimistic', ''],
    ['phpredis-off', 'rac'], ['phpredis-lock', 'rac'], ['rr-locked', 'rac'],
];
$R['cycles'] = cycle_rounds($cycle_cases, 'cy', $opt, $label);

// The same, unpinned (php and Redis wherever the scheduler puts them), for the main rows.
pin(false);
say('   unpinned:');
$unpinned_cases = [['phpredis-off', ''], ['phpredis-off-p', ''], ['rr-locked', ''], ['rr-off', ''], ['rr-optimistic', ''], ['rr-locked', 'rac']];
$R['cycles_unpinned'] = cycle_rounds($unpinned_cases, 'cu', $opt, $label);
endif;

// ---------------------------------------------------------------------------------------------
// 3. php-fpm + nginx throughput under wrk, a different session per request
// ---------------------------------------------------------------------------------------------
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
    $result = ['rps' => null, 'p50_ms' => null, 'p99_ms' => null, 'requests' => 0, 'errors' => 0, 'non2xx' => 0];
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

/**
 * php-fpm throughput of each [configuration, pattern] of $cases: several short passes over every
 * case instead of one long run each, so a busy spell of the machine hits all of them alike; the
 * report takes medians over the passes and pairs ratios within a pass. $flush() empties the
 * servers before each run, $sessions() counts the sessions they hold after it.
 */
function wrk_rows(array $cases, int $http, array $opt, callable $label, callable $flush, callable $sessions): array
{
    $passes = $opt['wrk_passes'];
    $pass_seconds = max(1, intdiv($opt['wrk_seconds'], $passes));
    $results = [];
    for ($pass = 0; $pass < $passes; $pass++) {
        foreach ($cases as $k => [$config, $pattern]) {
            $flush();
            $path = $pattern === 'rac' ? "/state.php?do=show&c=$config" : "/ajax.php?c=$config&ms=0&op=inc";
            if ($pass === 0) {
                run_wrk($http, $path, 1, $opt['wrk_connections']); // warm-up: workers, connections
            }
            $results[$k][] = run_wrk($http, $path, $pass_seconds, $opt['wrk_connections']) + ['sessions_in_redis' => $sessions()];
        }
    }
    $rows = [];
    foreach ($cases as $k => [$config, $pattern]) {
        $runs = $results[$k];
        $result = [
            'rps' => median(array_column($runs, 'rps')),
            'p50_ms' => median(array_column($runs, 'p50_ms')),
            'p99_ms' => median(array_column($runs, 'p99_ms')),
            'requests' => array_sum(array_column($runs, 'requests')),
            'errors' => array_sum(array_column($runs, 'errors')),
            'non2xx' => array_sum(array_column($runs, 'non2xx')),
            'passes' => $runs,
        ];
        $rows[] = ['config' => $config, 'pattern' => $pattern] + $result;
        say(sprintf('   %-45s %7.0f req/s  p50 %.2f ms  p99 %.2f ms  errors %d non-2xx %d  (passes: %s)', $label($config, $pattern), $result['rps'], $result['p50_ms'], $result['p99_ms'], $result['errors'], $result['non2xx'], implode(' ', array_map(fn ($r) => round((float) $r['rps']), $runs))));
    }
    return $rows;
}

if (want(3)):
say("== 3/10 php-fpm throughput (wrk, {$opt['wrk_seconds']} s per configuration)");

$wrk_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-off-p', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-off', ''], ['rr-optimistic', ''],
    ['phpredis-off', 'rac'], ['rr-locked', 'rac'],
];
$R['wrk'] = wrk_rows($wrk_cases, $http, $opt, $label, fn () => redis_cmd('FLUSHALL'), fn () => (int) redis_cmd('DBSIZE'));

endif;

// ---------------------------------------------------------------------------------------------
// 4. The parallel-AJAX case: N = 10 requests of 300 ms on one session, vs one request alone
// ---------------------------------------------------------------------------------------------
if (want(4)):
say('== 4/10 parallel AJAX, N = 10 × 300 ms on one session');
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

endif;

// ---------------------------------------------------------------------------------------------
// 5. Lock handoff: holder calls session_write_close() → waiter's session_start() returns
// ---------------------------------------------------------------------------------------------
/**
 * Section 5's handoff rounds in every configuration, with php (and Redis) pinned as pin() last
 * set them: per configuration p50/p99 of the handoff, the holder's session_write_close() p50,
 * rounds and failures.
 */
function handoff_rounds(array $configs, int $rounds, callable $label): array
{
    // One holder and one waiter process per configuration; each round hands over once in every
    // configuration, so a slow spell of the machine hits them all alike.
    $pairs = [];
    foreach ($configs as $config) {
        $pairs[$config] = [php_worker('holder', $config), php_worker('waiter', $config)];
    }
    $handoff = array_fill_keys($configs, []);
    $close = array_fill_keys($configs, []);
    $failed = array_fill_keys($configs, 0);
    for ($round = 0; $round < $rounds; $round++) {
        foreach ($pairs as $config => [$holder, $waiter]) {
            $sid = rr_new_session_id('ho');
            fwrite($holder[1], "lock $sid\n");
            if (!str_starts_with((string) read_line($holder[2], 10), 'locked')) {
                $failed[$config]++;
                continue;
            }
            fwrite($waiter[1], "wait $sid\n");
            read_line($waiter[2], 10); // "waiting": it is about to call session_start()
            usleep(5000);              // … and is now blocked in it
            fwrite($holder[1], "release\n");
            $released = explode(' ', (string) read_line($holder[2], 10));
            $acquired = explode(' ', (string) read_line($waiter[2], 40));
            if (count($released) < 3 || count($acquired) < 3 || $acquired[2] !== '0') {
                $failed[$config]++;
                continue;
            }
            $handoff[$config][] = ((float) $acquired[1] - (float) $released[1]) * 1000;
            $close[$config][] = ((float) $released[2] - (float) $released[1]) * 1000;
        }
    }
    $out = [];
    foreach ($pairs as $config => [$holder, $waiter]) {
        finish($holder);
        finish($waiter);
        $out[$config] = [
            'p50_ms' => percentile($handoff[$config], 50),
            'p99_ms' => percentile($handoff[$config], 99),
            'close_p50_ms' => percentile($close[$config], 50),
            'rounds' => count($handoff[$config]),
            'failed' => $failed[$config],
        ];
        say(sprintf('   %-45s p50 %.3f ms  p99 %.3f ms  (%d rounds, %d failed)', $label($config), $out[$config]['p50_ms'], $out[$config]['p99_ms'], $out[$config]['rounds'], $failed[$config]));
    }
    return $out;
}

if (want(5)):
// redis-floor is no handler: two processes hand a Redis list item over (RPUSH → BLPOP), so
// the report can say how much of a handoff is the trip through Redis itself.
$handoff_configs = ['files', 'rr-locked', 'phpredis-lock', 'phpredis-lock-wait', 'redis-floor'];
pin(true);
say("== 5/10 lock handoff ({$opt['handoff_rounds']} rounds each)" . ($pin_cpu === null ? ', unpinned' : ", pinned to CPU $pin_cpu"));
$R['handoff'] = handoff_rounds($handoff_configs, $opt['handoff_rounds'], $label);
if ($pin_cpu !== null) {
    say("== 5/10 lock handoff, unpinned ({$opt['handoff_rounds']} rounds each)");
    pin(false);
    $R['handoff_unpinned'] = handoff_rounds($handoff_configs, $opt['handoff_rounds'], $label);
    pin(true);
}

// read_and_close readers while a writer holds the lock of the same session
say('== 5b/10 read_and_close readers while a writer holds the lock');
// Per round and configuration: 500 reads alone and 500 reads while a holder process keeps the
// lock (alternating which comes first). The holder lets go after 3 s at the latest, so a reader
// that blocks is measured as blocked instead of hanging the benchmark (and is not made to block
// again in later rounds).
$reader_configs = ['rr-locked', 'phpredis-off', 'phpredis-lock', 'files'];
$readers = [];
foreach ($reader_configs as $config) {
    $readers[$config] = ['sid' => rr_new_session_id('rd'), 'holder' => php_worker('holder', $config), 'free' => [], 'held' => [], 'blocked_ms' => null, 'warnings' => 0, 'warning' => null];
}
$read_alone = function (string $config, array &$r): void {
    $r['free'] = array_merge($r['free'], run_cycles($config, 'rac', $r['sid'], 500, 1, 20)['us']);
};
$read_held = function (string $config, array &$r): void {
    if ($r['blocked_ms'] !== null) {
        return;
    }
    fwrite($r['holder'][1], "lock {$r['sid']}\n");
    read_line($r['holder'][2], 10);
    $reader = php_worker('cycle', $config, 'rac', $r['sid'], '500', '1', '1.5');
    $t0 = microtime(true);
    $line = read_line($reader[2], 3.0);
    fwrite($r['holder'][1], "release\n");
    if ($line === null) {
        $line = read_line($reader[2], 60);
        $r['blocked_ms'] = (microtime(true) - $t0) * 1000;
    }
    read_line($r['holder'][2], 10);
    finish($reader);
    $held = json_decode((string) $line, true) ?: ['us' => [], 'warnings' => 0];
    $r['held'] = array_merge($r['held'], $r['blocked_ms'] === null ? $held['us'] : []);
    $r['warnings'] += $held['warnings'];
    $r['warning'] ??= $held['warning'] ?? null;
};
for ($round = 0; $round < $opt['reader_rounds']; $round++) {
    foreach ($readers as $config => &$r) {
        // Alternate which goes first, so neither side always runs on a just-woken machine.
        if ($round % 2 === 0) {
            $read_alone($config, $r);
            $read_held($config, $r);
        } else {
            $read_held($config, $r);
            $read_alone($config, $r);
        }
    }
    unset($r);
}
foreach ($readers as $config => $r) {
    finish($r['holder']);
    $R['readers'][$config] = [
        'free_us' => median($r['free']),
        'held_us' => median($r['held']),
        'free_runs' => $r['free'],
        'held_runs' => $r['held'],
        'blocked_ms' => $r['blocked_ms'],
        'warnings' => $r['warnings'],
        'warning' => $r['warning'],
    ];
    say(sprintf('   %-45s alone %.1f µs, writer holding the lock %s', $label($config, 'rac'), median($r['free']), $r['blocked_ms'] !== null ? sprintf('blocked %.0f ms until the writer let go', $r['blocked_ms']) : sprintf('%.1f µs', median($r['held']))));
}

pin(false);
endif;

// ---------------------------------------------------------------------------------------------
// 6. Lost updates: 20 parallel increments of one counter, 20 parallel distinct-key writes
// ---------------------------------------------------------------------------------------------
if (want(6)):
say("== 6/10 lost updates ({$opt['lost_trials']} trials of 20 parallel fpm requests, 50 ms each)");
$lost_cases = [
    ['files', ''], ['phpredis-off', ''], ['phpredis-lock', ''], ['phpredis-lock-wait', ''],
    ['rr-locked', ''], ['rr-locked', 'rac'], ['rr-off', ''], ['rr-optimistic', ''],
];
// Races are timing-dependent: every case runs several trials (in turn) and the counts are summed.
$lost = [];
for ($trial = 0; $trial < $opt['lost_trials']; $trial++) {
    foreach ($lost_cases as $k => [$config, $pattern]) {
        foreach (['inc', 'key'] as $op) {
            $lost["$k $op"][] = rr_parallel_ajax($http, $config, $pattern, 20, 50, $op);
        }
    }
}
foreach ($lost_cases as $k => [$config, $pattern]) {
    foreach (['inc', 'key'] as $op) {
        $runs = $lost["$k $op"];
        $sum = fn (string $field) => array_sum(array_column($runs, $field));
        $warnings = array_merge(...array_column($runs, 'warnings'));
        $R['lost'][] = [
            'config' => $config, 'pattern' => $pattern, 'op' => $op, 'n' => $sum('n'),
            'kept' => $sum('kept'), 'lost' => $sum('lost'), 'refused' => $sum('refused'), 'silent' => $sum('silent'),
            'false_returns' => $sum('false_returns'), 'per_trial_kept' => array_column($runs, 'kept'),
            'warning' => $warnings[0] ?? null,
            // Wall time of the 20 requests, first sent to last done: for serialized ones (files,
            // locking on) 20 × 50 ms plus the overhead of 19 handoffs and of the requests.
            'wall_s' => median(array_column($runs, 'wall')),
        ];
        say(sprintf('   %-45s %-3s kept %3d/%d, reported %3d, silently lost %3d, wall %.3f s (median; %+.0f ms over 20 × 50 ms)', $label($config, $pattern), $op, $sum('kept'), $sum('n'), $sum('refused'), $sum('silent'), median(array_column($runs, 'wall')), (median(array_column($runs, 'wall')) - 1.0) * 1000));
    }
}

endif;

// ---------------------------------------------------------------------------------------------
// 7. Leases: crash recovery, renewal cost (bench/leases.php)
// ---------------------------------------------------------------------------------------------
if (want(7)):
require __DIR__ . '/leases.php';
$R['leases'] = lease_bench($opt, $http, $label);
endif;

// ---------------------------------------------------------------------------------------------
// 8. Network distance: Redis one LAN hop away (bench/distance.php)
// ---------------------------------------------------------------------------------------------
if (want(8)):
say('== 8/10 network distance (delay proxy; unpinned)');
require __DIR__ . '/distance.php';
$R['distance'] = distance_bench($opt, $redis_port);
endif;

// ---------------------------------------------------------------------------------------------
// 9. Redis Cluster and Sentinel (bench/topologies.php)
// ---------------------------------------------------------------------------------------------
if (want(9)):
say('== 9/10 Cluster and Sentinel');
require __DIR__ . '/topologies.php';
$R['topologies'] = topology_bench($opt, $http, $label);
endif;

// ---------------------------------------------------------------------------------------------
// 10. Large sessions and compression (bench/sizes.php)
// ---------------------------------------------------------------------------------------------
if (want(10)):
say('== 10/10 large sessions and compression (pinned)');
require __DIR__ . '/sizes.php';
pin(true);
$R['sizes'] = sizes_bench($opt, $label);
pin(false);
endif;

if (!want(0)) {
    say('partial run (BENCH_SECTIONS): bench/RESULTS.md and bench/results.json left as they were');
    exit(0);
}
$R['seconds'] = microtime(true) - $started;
$R['load'] = [$load_start, $loadavg()];
$R['ping_us'][] = ping_us($redis_port);
$R['machine'] = machine();
file_put_contents(__DIR__ . '/results.json', json_encode($R, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION) . "\n");
write_report($R);
