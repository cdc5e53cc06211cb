<?php
// Section 7 of the benchmark (included by bench.php): leases. How long the next request of a
// session waits after `kill -9` of the process holding its lock (rustredis against PHP's files
// handler and phpredis tuned to wait), and what the renewals cost: Redis commands per second per
// held lock, µs per CLI cycle and php-fpm throughput with and without locks held long enough to
// be renewed.

declare(strict_types=1);

/** Kills $child's process with SIGKILL; returns when the signal was sent (microtime). */
function kill9(array $child): float
{
    $pid = proc_get_status($child[0])['pid'];
    $at = microtime(true);
    posix_kill_compatible($pid);
    return $at;
}

function posix_kill_compatible(int $pid): void
{
    if (function_exists('posix_kill')) {
        posix_kill($pid, 9);
    } else {
        shell_exec('kill -9 ' . $pid);
    }
}

/** EVALSHA calls Redis counted over $seconds (CONFIG RESETSTAT first). */
function evalsha_per_second(float $seconds): float
{
    redis_cmd('CONFIG', 'RESETSTAT');
    usleep((int) ($seconds * 1e6));
    $stats = redis_cmd('INFO', 'commandstats');
    $calls = preg_match('/cmdstat_evalsha:calls=(\d+)/', $stats, $m) ? (int) $m[1] : 0;
    return $calls / $seconds;
}

function lease_bench(array $opt, int $http, callable $label): array
{
    $out = [];
    // 7a. Crash recovery: every configuration in each round at once, so a round lasts as long as
    // its slowest configuration (phpredis: its lock TTL).
    $crash_configs = ['files', 'rr-locked', 'phpredis-lock-crash'];
    $rounds = max(1, (int) (getenv('BENCH_CRASH_ROUNDS') ?: 3));
    $recovery = array_fill_keys($crash_configs, []);
    $failed = array_fill_keys($crash_configs, 0);
    say("== 7/10 leases: kill -9 of the lock holder ($rounds rounds), renewal cost");
    for ($round = 0; $round < $rounds; $round++) {
        $cases = [];
        foreach ($crash_configs as $config) {
            $sid = rr_new_session_id('cr');
            $holder = php_worker('holder', $config);
            fwrite($holder[1], "lock $sid\n");
            if (!str_starts_with((string) read_line($holder[2], 10), 'locked')) {
                $failed[$config]++;
                finish($holder);
                continue;
            }
            $waiter = php_worker('waiter', $config);
            fwrite($waiter[1], "wait $sid\n");
            read_line($waiter[2], 10);
            $cases[$config] = [$holder, $waiter];
        }
        usleep(300000); // every waiter is blocked in session_start() now
        $killed = [];
        foreach ($cases as $config => [$holder]) {
            $killed[$config] = kill9($holder);
        }
        foreach ($cases as $config => [$holder, $waiter]) {
            $acquired = explode(' ', (string) read_line($waiter[2], 90));
            if (count($acquired) < 3 || $acquired[2] !== '0') {
                $failed[$config]++;
            } else {
                $recovery[$config][] = ((float) $acquired[1] - $killed[$config]) * 1000;
            }
            finish($waiter);
            finish($holder);
        }
    }
    foreach ($crash_configs as $config) {
        $out['crash'][$config] = [
            'median_ms' => median($recovery[$config]),
            'max_ms' => $recovery[$config] ? max($recovery[$config]) : null,
            'runs_ms' => $recovery[$config],
            'failed' => $failed[$config],
        ];
        say(sprintf('   %-45s next request in %s ms after kill -9 (median of %d; max %s; %d failed)', $label($config), fmt(median($recovery[$config]), 0), count($recovery[$config]), fmt($out['crash'][$config]['max_ms'], 0), $failed[$config]));
    }

    // 7b. Renewal traffic: Redis commands per second for 1 and for 100 held locks.
    foreach ([1, 100] as $n) {
        $holder = php_worker('hold-many', 'rr-locked', (string) $n);
        read_line($holder[2], 30);
        usleep(600000);
        $per_second = evalsha_per_second(10.0);
        finish($holder);
        $out['renewals'][] = ['locks' => $n, 'per_second' => $per_second, 'per_lock_per_second' => $per_second / $n];
        say(sprintf('   %d held lock(s): %.1f renewals/s in Redis, %.2f per lock per second', $n, $per_second, $per_second / $n));
    }

    // 7c. µs per CLI cycle while the same process holds 100 locks that its thread renews, against
    // none; pinned like section 2, then unpinned. Rounds alternate the two.
    foreach ([true, false] as $pinned) {
        pin($pinned);
        $us = ['0' => [], '100' => []];
        for ($round = 0; $round < $opt['runs']; $round++) {
            foreach (($round % 2 === 0 ? ['0', '100'] : ['100', '0']) as $hold) {
                $child = php_worker('cycle', 'rr-locked', '', rr_new_session_id('lc'), (string) $opt['cycles'], '1', '60', $hold);
                $line = read_line($child[2], 120);
                finish($child);
                $r = json_decode((string) $line, true);
                $us[$hold] = array_merge($us[$hold], is_array($r) ? $r['us'] : []);
            }
        }
        $key = $pinned ? 'cycle_pinned' : 'cycle_unpinned';
        $out[$key] = ['none_us' => median($us['0']), 'held_us' => median($us['100']), 'none_runs' => $us['0'], 'held_runs' => $us['100']];
        say(sprintf('   CLI cycle (%s): %.1f µs, with 100 locks held and renewed in the process %.1f µs', $pinned ? 'pinned' : 'unpinned', median($us['0']), median($us['100'])));
    }
    pin(false);

    // 7d. php-fpm throughput with 100 locks held (and renewed) by another process, against none.
    $path = '/ajax.php?c=rr-locked&ms=0&op=inc';
    $seconds = max(1, intdiv($opt['wrk_seconds'], 2));
    $rps = ['none' => [], 'held' => []];
    for ($pass = 0; $pass < 2; $pass++) {
        foreach (['none', 'held'] as $case) {
            redis_cmd('FLUSHALL');
            $holder = $case === 'held' ? php_worker('hold-many', 'rr-locked', '100') : null;
            if ($holder !== null) {
                read_line($holder[2], 30);
            }
            $rps[$case][] = run_wrk($http, $path, $seconds, $opt['wrk_connections'])['rps'];
            if ($holder !== null) {
                finish($holder);
            }
        }
    }
    $out['wrk'] = ['none_rps' => median($rps['none']), 'held_rps' => median($rps['held']), 'passes' => $rps];
    say(sprintf('   php-fpm rustredis locked: %.0f req/s, with 100 locks held and renewed elsewhere %.0f req/s', median($rps['none']), median($rps['held'])));
    return $out;
}
