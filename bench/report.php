<?php
// Turns the figures bench/bench.php measured into tables and target verdicts; prints them and
// writes bench/RESULTS.md. Every number shown comes from the run's results (bench/results.json,
// written by the same run):
//
//   php bench/report.php [bench/results.json]     rebuilds RESULTS.md from a run's results

declare(strict_types=1);

// null is a figure the run could not measure: shown as n/a, and never meets a target.
function fmt(?float $x, int $decimals = 2): string
{
    return $x === null ? 'n/a' : number_format($x, $decimals, '.', '');
}

function ratio(?float $x, ?float $base): string
{
    return ($x === null || !$base) ? 'n/a' : '×' . number_format($x / $base, 2, '.', '');
}

/** $a ≤ $b × $factor, false when either was not measured. */
function at_most(?float $a, ?float $b, float $factor = 1.0): bool
{
    return $a !== null && $b !== null && $a <= $b * $factor;
}

/**
 * Why 20 serialized requests cost rustredis more than files: their wall time includes 19
 * handoffs, and table 5 says what each costs over a handoff of files ($h: the handoff figures
 * of the mode the fpm requests ran in, unpinned where the run measured it).
 */
function serial_miss_why(array $serial, array $h): string
{
    $why = 'the wall time of 20 serialized requests includes 19 handoffs, each as in table 5, and the requests\' own work through nginx and php-fpm (see table 6)';
    [$hr, $hf] = [$h['rr-locked']['p50_ms'] ?? null, $h['files']['p50_ms'] ?? null];
    if ($hr === null || $hf === null) {
        return $why . '.';
    }
    $predicted = 19 * ($hr - $hf);
    $off = [$serial['rr-locked']['inc'] - $serial['files']['inc'], $serial['rr-locked']['key'] - $serial['files']['key']];
    return $why . sprintf(
        '. At table 5\'s p50 gap of %s ms a handoff, 19 handoffs put rustredis %s ms behind files; it is %+.0f / %+.0f ms off files (increments / distinct keys; + is behind). %s',
        fmt($hr - $hf, 3),
        fmt($predicted, 1),
        $off[0],
        $off[1],
        max(array_map('abs', $off)) <= 2 * max($predicted, 1.0)
            ? 'The gaps are of the size the handoffs predict, so this target is bound to the handoff target above, and its verdict turns on run-to-run variation of that size.'
            : 'The gaps are larger than the handoffs predict: the requests\' own work differed too.'
    );
}

/**
 * Why rustredis hands a lock over slower than files, with the floor row of table 5 in each mode
 * (pinned, unpinned): the same two processes handing a Redis list item over (a plain RPUSH waking
 * a BLPOP), no session.
 */
function handoff_miss_why(array $modes): string
{
    $why = 'files hands the lock over inside the kernel: flock wakes the blocked process directly, within the holder\'s own system call. Any lock kept in Redis goes holder → Redis → waiter, two process wake-ups where flock has one';
    $measured = [];
    foreach ($modes as $mode => $h) {
        [$floor, $hr, $hf] = [$h['redis-floor'] ?? null, $h['rr-locked'] ?? null, $h['files'] ?? null];
        if (!isset($floor['p50_ms'], $hr['p50_ms'], $hf['p50_ms'])) {
            continue;
        }
        $measured[$mode] = $floor['p50_ms'] > $hf['p50_ms'];
        $why .= sprintf(
            '%s %s: the floor p50 %s ms, p99 %s ms against files\' whole handoff, session work included, p50 %s ms, p99 %s ms (%s / %s); rustredis p50 %s ms',
            count($measured) === 1 ? '. The floor row of table 5 measures that trip alone (the same two processes, a plain RPUSH waking a BLPOP, no script and no session):' : ';',
            $mode,
            fmt($floor['p50_ms'], 3),
            fmt($floor['p99_ms'], 3),
            fmt($hf['p50_ms'], 3),
            fmt($hf['p99_ms'], 3),
            ratio($floor['p50_ms'], $hf['p50_ms']),
            ratio($floor['p99_ms'], $hf['p99_ms']),
            fmt($hr['p50_ms'], 3)
        );
    }
    if ($measured === []) {
        return $why . '. The floor row of table 5 was not measured in this run.';
    }
    $why .= '. The rest of rustredis\'s handoff is the owner-checked write script that hands the lock and the data over (about ten Redis calls) and the session work of both requests. ';
    $slower = array_keys(array_filter($measured));
    return $why . (count($slower) === count($measured)
        ? 'The trip alone is slower than files at the median, so no handler that keeps its lock in Redis can meet this target on this machine.'
        : 'Where the trip alone (' . implode(', ', array_keys(array_filter($measured, fn ($x) => !$x))) . ') is not slower than files at the median, the gap is the script and the session work.');
}

// A figure that could not be measured is null (never 0), and shows as n/a.
function median(array $xs): ?float
{
    return percentile($xs, 50);
}

function percentile(array $xs, float $p): ?float
{
    $xs = array_values(array_filter($xs, fn ($x) => $x !== null));
    if (!$xs) {
        return null;
    }
    sort($xs);
    $rank = $p / 100 * (count($xs) - 1);
    $lo = (int) floor($rank);
    $hi = (int) ceil($rank);
    return $xs[$lo] + ($xs[$hi] - $xs[$lo]) * ($rank - $lo);
}

/** Median of $a[i] / $b[i]: compares two series measured side by side, round by round. */
function paired_ratio(array $a, array $b): ?float
{
    $ratios = [];
    foreach ($a as $i => $x) {
        if ($x !== null && ($b[$i] ?? null)) {
            $ratios[] = $x / $b[$i];
        }
    }
    return median($ratios);
}

function show_ratio(?float $r): string
{
    return $r === null ? 'n/a' : '×' . number_format($r, 2, '.', '');
}

function md_table(array $header, array $rows): string
{
    $out = '| ' . implode(' | ', $header) . " |\n|" . str_repeat(' --- |', count($header)) . "\n";
    foreach ($rows as $row) {
        $out .= '| ' . implode(' | ', $row) . " |\n";
    }
    return $out;
}

/** The row of $rows for $config and $pattern (tables 1–4 and 6 are lists of such rows). */
function row_of(array $rows, string $config, string $pattern = '', array $extra = []): ?array
{
    foreach ($rows as $row) {
        if ($row['config'] === $config && $row['pattern'] === $pattern && array_intersect_assoc($extra, $row) == $extra) {
            return $row;
        }
    }
    return null;
}

/** 'SET, 2.00×GET, …': a request's commands as MONITOR counted them. */
function commands_text(array $commands): string
{
    $out = [];
    foreach ($commands as $cmd => $n) {
        $out[] = ($n == 1 ? '' : fmt($n, 2) . '×') . $cmd;
    }
    return implode(', ', $out);
}

/**
 * µs per cycle, one row per configuration: the median, each round, the median of the ratios
 * round by round (the rounds ran every row in turn) to each configuration of $bases (what the
 * header calls it => configuration, same pattern), and the counter check where $check.
 */
function cycles_table(array $rows, array $bases, callable $name, bool $check): string
{
    $header = ['configuration', 'µs / cycle (median)', 'each run', ...array_map(fn ($what) => "× $what", array_keys($bases))];
    $cells = [];
    foreach ($rows as $row) {
        $line = [$name($row), fmt($row['median_us'], 1), implode(' ', array_map(fn ($x) => fmt($x, 1), $row['us']))];
        foreach ($bases as $base) {
            $line[] = show_ratio(paired_ratio($row['us'], row_of($rows, $base, $row['pattern'])['us'] ?? []));
        }
        if ($check) {
            $line[] = ($row['pattern'] === 'rac' ? 'read only' : ($row['counter_ok'] ? 'ok' : '**counter wrong**'))
                . ($row['warnings'] ? ", {$row['warnings']} warnings" : '');
        }
        $cells[] = $line;
    }
    return md_table($check ? [...$header, 'counter check'] : $header, $cells);
}

/** req/s of each pass of a wrk row. */
function wrk_rps(?array $row): array
{
    return array_column($row['passes'] ?? [], 'rps');
}

/** wrk rows as cycles_table() has cycles: the ratios pass by pass, then errors. */
function wrk_table(array $rows, array $bases, callable $name): string
{
    $header = ['configuration', 'req/s (median)', 'req/s each pass', 'p50 ms', 'p99 ms', ...array_map(fn ($what) => "req/s × $what", array_keys($bases)), 'socket errors / non-2xx'];
    $cells = [];
    foreach ($rows as $row) {
        $line = [$name($row), fmt($row['rps'], 0), implode(' ', array_map(fn ($x) => fmt($x, 0), wrk_rps($row))), fmt($row['p50_ms']), fmt($row['p99_ms'])];
        foreach ($bases as $base) {
            $line[] = show_ratio(paired_ratio(wrk_rps($row), wrk_rps(row_of($rows, $base, $row['pattern']))));
        }
        $cells[] = [...$line, "{$row['errors']} / {$row['non2xx']}"];
    }
    return md_table($header, $cells);
}

function machine(): array
{
    $cpu = 'unknown';
    if (preg_match('/^model name\s*:\s*(.+)$/m', (string) @file_get_contents('/proc/cpuinfo'), $m)) {
        $cpu = trim($m[1]);
    }
    $first_line = fn (string $cmd) => trim(explode("\n", trim((string) shell_exec($cmd)))[0] ?? '');
    $mem = preg_match('/MemTotal:\s+(\d+)/', (string) @file_get_contents('/proc/meminfo'), $m) ? round($m[1] / 1048576, 1) . ' GiB' : 'unknown';
    return [
        'CPU' => "$cpu, nproc " . $first_line('nproc') . ", RAM $mem",
        'OS' => 'Debian ' . trim((string) @file_get_contents('/etc/debian_version')) . ', Linux ' . php_uname('r'),
        'PHP' => PHP_VERSION . ' (' . (PHP_ZTS ? 'ZTS' : 'NTS') . ', php-fpm + nginx ' . $first_line('nginx -v 2>&1 | sed "s|nginx version: nginx/||"') . ', opcache on in fpm)',
        'phpredis' => (phpversion('redis') ?: 'missing') . ' (Debian package php-redis)',
        'rustredis' => (phpversion('rustredis') ?: 'missing') . ', ' . (getenv('RR_BUILD_INFO') ?: 'build unknown'),
        'Redis' => $first_line('redis-server --version'),
        'wrk' => $first_line('wrk --version 2>&1'),
    ];
}

function write_report(array $R): void
{
    $label = fn (string $config, string $pattern = '') => $R['labels'][$config] . ($pattern === 'rac' ? ', read_and_close' : '');
    $o = $R['opt'];
    $name = fn (array $row) => $label($row['config'], $row['pattern']);

    // ---- 1. round trips
    $rt = $R['roundtrips'];
    $rt_base = fn (string $config, string $pattern) => row_of($rt, $config, $pattern)['per_request'] ?? null;
    $rows = [];
    foreach ($rt as $row) {
        $rows[] = [
            $name($row), fmt($row['per_request']), commands_text($row['commands']), fmt($row['lua_per_request']),
            ratio($row['per_request'], $rt_base('phpredis-off', $row['pattern'])),
            ratio($row['per_request'], $rt_base('phpredis-lock', $row['pattern'])),
        ];
    }
    $t1 = md_table(['configuration', 'round trips / request', 'client commands / request', 'run inside Lua', '× phpredis off', '× phpredis locking'], $rows);

    // ---- 2. cycles
    $cy = $R['cycles'];
    $cy_base = fn (string $config, string $pattern) => row_of($cy, $config, $pattern)['median_us'] ?? null;
    // Rounds ran every row in turn: compare each row with the baseline round by round.
    $cy_ratio = fn (array $row, string $base) => paired_ratio($row['us'], row_of($cy, $base, $row['pattern'])['us'] ?? []);
    $t2 = cycles_table($cy, ['phpredis off' => 'phpredis-off', 'phpredis locking' => 'phpredis-lock'], $name, true);

    // ---- 3. wrk
    $wk = $R['wrk'];
    // Passes ran every row in turn: compare each row with the baseline pass by pass.
    $wk_ratio = fn (array $row, string $base) => paired_ratio(wrk_rps($row), wrk_rps(row_of($wk, $base, $row['pattern'])));
    $t3 = wrk_table($wk, ['phpredis off' => 'phpredis-off', 'phpredis locking' => 'phpredis-lock'], $name);

    // ---- 4. parallel AJAX
    $rows = [];
    foreach ($R['ajax'] as $row) {
        $rows[] = [
            $name($row), fmt($row['wall']), fmt($row['single']), ratio($row['wall'], $row['single']),
            "{$row['kept']}/{$row['n']}", (string) $row['lost'], (string) $row['silent'],
        ];
    }
    $t4 = md_table(['configuration', 'N=10 wall s', 'one request alone s', 'N=10 / one', 'writes kept', 'lost', 'lost silently'], $rows);

    // ---- 5. handoff and readers
    $rows = [];
    $unpinned = $R['handoff_unpinned'] ?? [];
    foreach ($R['handoff'] as $config => $h) {
        $u = $unpinned[$config] ?? null;
        $rows[] = [
            $label($config), fmt($h['p50_ms'], 3), fmt($h['p99_ms'], 3), fmt($h['close_p50_ms'], 3), "{$h['rounds']} / {$h['failed']}",
            fmt($u['p50_ms'] ?? null, 3), fmt($u['p99_ms'] ?? null, 3), $u ? "{$u['rounds']} / {$u['failed']}" : 'n/a',
        ];
    }
    $first = $R['pinned_cpu'] === 'off' ? 'unpinned' : 'pinned';
    $t5 = md_table(['configuration', "$first: handoff p50 ms", 'p99 ms', "holder's session_write_close() p50 ms", 'rounds / failed', 'unpinned: handoff p50 ms', 'p99 ms', 'rounds / failed'], $rows);
    $rows = [];
    // Alone and held alternate round by round: compare them within each round.
    $rd_ratio = fn (array $r) => $r['blocked_ms'] !== null ? null : paired_ratio($r['held_runs'] ?? [], $r['free_runs'] ?? []);
    foreach ($R['readers'] as $config => $r) {
        $held = $r['blocked_ms'] !== null ? sprintf('blocked %s ms until the writer let go', fmt($r['blocked_ms'], 0)) : fmt($r['held_us'], 1);
        $rows[] = [
            $label($config, 'rac'), fmt($r['free_us'], 1), $held,
            $r['blocked_ms'] !== null ? 'n/a' : show_ratio($rd_ratio($r)),
            $r['warnings'] ? "{$r['warnings']}: " . $r['warning'] : '0',
        ];
    }
    $t5b = md_table(['reader', 'µs / read alone', 'µs / read while a writer holds the lock', 'held / alone', 'warnings'], $rows);

    // ---- 6. lost updates
    $rows = [];
    foreach ($R['ajax'] as $a) {
        $inc = row_of($R['lost'], $a['config'], $a['pattern'], ['op' => 'inc']);
        $key = row_of($R['lost'], $a['config'], $a['pattern'], ['op' => 'key']);
        if (!$inc || !$key) {
            continue;
        }
        $rows[] = [
            $name($a),
            "{$inc['kept']}/{$inc['n']}", (string) $inc['refused'], (string) $inc['silent'],
            "{$key['kept']}/{$key['n']}", (string) $key['refused'], (string) $key['silent'],
        ];
    }
    $t6 = md_table(['configuration', 'increments kept', 'reported (warning/false)', 'lost silently', 'distinct keys kept', 'reported', 'lost silently'], $rows);
    $t6 .= "\nFirst warning seen by a request, where there was one:\n\n";
    foreach ($R['lost'] as $l) {
        if ($l['warning'] !== null) {
            $t6 .= sprintf("- %s, %s: `%s`\n", $name($l), $l['op'] === 'inc' ? 'increments' : 'distinct keys', $l['warning']);
        }
    }

    // ---- targets
    $targets = [];
    $why = [];
    $target = function (string $what, string $measured, bool $met, string $explain = '') use (&$targets, &$why) {
        $targets[] = [$what, $measured, $met ? 'met' : '**MISSED**'];
        if (!$met && $explain !== '') {
            $why[] = "- **$what** — $explain";
        }
    };
    $rr_lock_rt = $rt_base('rr-locked', '');
    $rr_rac_rt = $rt_base('rr-locked', 'rac');
    $target(
        'round trips per locked request = 2',
        sprintf('%s (phpredis locking: %s)', fmt($rr_lock_rt), fmt($rt_base('phpredis-lock', ''))),
        at_most($rr_lock_rt, 2.0),
        'the MONITOR breakdown in table 1 lists the extra commands.'
    );
    $target(
        'round trips per read_and_close = 1',
        sprintf('%s (phpredis locking: %s)', fmt($rr_rac_rt), fmt($rt_base('phpredis-lock', 'rac'))),
        at_most($rr_rac_rt, 1.0),
        'the MONITOR breakdown in table 1 lists the extra commands.'
    );
    $c_lock = $cy_base('rr-locked', '');
    $c_off = $cy_base('phpredis-off', '');
    $c_row = row_of($cy, 'rr-locked');
    $c_ratio = $c_row ? $cy_ratio($c_row, 'phpredis-off') : null;
    $target(
        'locked rustredis cycle ≤ phpredis cycle with locking off',
        sprintf('%s µs vs %s µs (median of the per-round ratios: %s)', fmt($c_lock, 1), fmt($c_off, 1), show_ratio($c_ratio)),
        at_most($c_ratio, 1.0),
        sprintf(
            'a locked cycle is a pipeline (SET NX PX, GET, PTTL, GET) and one Lua script (EVALSHA write+release, owner-checked) where phpredis without locking sends a plain GET and SETEX; rustredis with locking off costs %s µs and phpredis with a persistent connection %s µs in the same run.',
            fmt($cy_base('rr-off', ''), 1),
            fmt($cy_base('phpredis-off-p', ''), 1)
        )
    );
    $t2u = '';
    if (isset($R['cycles_unpinned'])) {
        $cu = $R['cycles_unpinned'];
        $cu_ratio = fn (array $row, string $base) => paired_ratio($row['us'], row_of($cu, $base, $row['pattern'])['us'] ?? []);
        $t2u = "\nUnpinned (php and redis-server wherever the scheduler puts them), same rounds:\n\n"
            . cycles_table($cu, ['phpredis off' => 'phpredis-off'], $name, false);
        $u_row = row_of($cu, 'rr-locked');
        $u_ratio = $u_row ? $cu_ratio($u_row, 'phpredis-off') : null;
        $target(
            'locked rustredis cycle ≤ phpredis cycle with locking off, unpinned',
            sprintf('%s µs vs %s µs (median of the per-round ratios: %s)', fmt($u_row['median_us'] ?? null, 1), fmt(row_of($cu, 'phpredis-off')['median_us'] ?? null, 1), show_ratio($u_ratio)),
            at_most($u_ratio, 1.0),
            'unpinned, every round trip may wake a sleeping vCPU; see the unpinned table in section 2.'
        );
    }
    $w_row = row_of($wk, 'rr-locked');
    $w_off_row = row_of($wk, 'phpredis-off');
    $w_ratio = $w_row ? $wk_ratio($w_row, 'phpredis-off') : null;
    $pass_ratios = [];
    foreach (wrk_rps($w_row) as $i => $x) {
        $base = wrk_rps($w_off_row)[$i] ?? null;
        $pass_ratios[] = $base ? show_ratio($x / $base) : 'n/a';
    }
    $target(
        'php-fpm throughput, rustredis locked ≥ phpredis without locking',
        sprintf('%s vs %s req/s (median of the per-pass ratios: %s)', fmt($w_row['rps'] ?? null, 0), fmt($w_off_row['rps'] ?? null, 0), show_ratio($w_ratio)),
        at_most(1.0, $w_ratio),
        sprintf(
            'the ratio pass by pass was %s. These runs are CPU-bound: wrk, nginx, 24 php-fpm workers and Redis share %s, and a whole request costs far more PHP and nginx time than its two Redis round trips, so a handler difference of a few per cent is easily covered by other work on the machine (load average %s at the start, %s at the end).',
            implode(', ', $pass_ratios),
            $R['machine']['CPU'] ?? 'the CPUs',
            $R['load'][0],
            $R['load'][1]
        )
    );
    $rd = $R['readers']['rr-locked'] ?? null;
    $rd_r = $rd ? $rd_ratio($rd) : null;
    $rd_ok = $rd && $rd['blocked_ms'] === null && at_most($rd_r, 1.05) && $rd['warnings'] === 0;
    $target(
        'read_and_close reader not slowed by a writer holding the lock (≤ ×1.05)',
        $rd ? ($rd['blocked_ms'] !== null ? 'blocked' : sprintf('%s vs %s µs (median of the per-round ratios: %s)', fmt($rd['held_us'], 1), fmt($rd['free_us'], 1), show_ratio($rd_r))) : 'n/a',
        $rd_ok,
        $rd ? sprintf(
            'µs per read while held, round by round: %s; alone: %s; %d warnings. A read_and_close read is one GET that never looks at the lock key and the writer is an idle process, so a gap this size is run-to-run variation of the machine, not waiting; the other rows of the table show what waiting looks like.',
            implode(' ', array_map(fn ($x) => fmt($x, 1), $rd['held_runs'] ?? [])),
            implode(' ', array_map(fn ($x) => fmt($x, 1), $rd['free_runs'] ?? [])),
            $rd['warnings']
        ) : ''
    );
    $opt_run = row_of($R['ajax'], 'rr-optimistic');
    $target(
        'optimistic N=10 parallel ≤ ×1.3 one request, all 10 writes kept',
        $opt_run ? sprintf('%s s vs %s s (%s), kept %d/10', fmt($opt_run['wall']), fmt($opt_run['single']), ratio($opt_run['wall'], $opt_run['single']), $opt_run['kept']) : 'n/a',
        $opt_run && at_most($opt_run['wall'], $opt_run['single'], 1.3) && $opt_run['kept'] === 10,
        'see table 4.'
    );
    // Pinned, and (when the run pinned at all) unpinned: each target holds in both.
    $modes = [($R['pinned_cpu'] === 'off' ? 'unpinned' : 'pinned') => $R['handoff'] ?? []] + (isset($R['handoff_unpinned']) ? ['unpinned' => $R['handoff_unpinned']] : []);
    $handoff_of = function (array $h): string {
        [$hr, $hf] = [$h['rr-locked'] ?? null, $h['files'] ?? null];
        return ($hr && $hf) ? sprintf('p50 %s ms, p99 %s ms (files: p50 %s ms, p99 %s ms; %s / %s files)', fmt($hr['p50_ms'], 3), fmt($hr['p99_ms'], 3), fmt($hf['p50_ms'], 3), fmt($hf['p99_ms'], 3), ratio($hr['p50_ms'], $hf['p50_ms']), ratio($hr['p99_ms'], $hf['p99_ms'])) : 'n/a';
    };
    $measured = implode('; ', array_map(fn ($mode) => "$mode " . $handoff_of($modes[$mode]), array_keys($modes)));
    $all_modes = fn (callable $ok) => array_reduce($modes, fn (bool $carry, array $h) => $carry && isset($h['rr-locked'], $h['files']) && $h['rr-locked']['failed'] === 0 && $ok($h['rr-locked'], $h['files']), true);
    $target('lock handoff p50 ≤ 1 ms', $measured, $all_modes(fn ($hr, $hf) => at_most($hr['p50_ms'], 1.0)), 'see table 5.');
    $target(
        'lock handoff no slower than files (p50 and p99)',
        $measured,
        $all_modes(fn ($hr, $hf) => at_most($hr['p50_ms'], $hf['p50_ms']) && at_most($hr['p99_ms'], $hf['p99_ms'])),
        handoff_miss_why($modes)
    );
    // 20 requests of 50 ms on one session, serialized by the lock: overhead over 20 × 50 ms.
    $serial = [];
    foreach (['rr-locked', 'files'] as $config) {
        foreach (['inc', 'key'] as $op) {
            $row = row_of($R['lost'], $config, '', ['op' => $op]);
            $serial[$config][$op] = isset($row['wall_s']) ? ($row['wall_s'] - 1.0) * 1000 : null;
        }
    }
    $serial_measured = isset($serial['rr-locked']['inc'], $serial['rr-locked']['key'], $serial['files']['inc'], $serial['files']['key']);
    $target(
        '20 parallel fpm requests of 50 ms on one session (serialized): overhead ≤ files',
        $serial_measured ? sprintf('+%s / +%s ms over 20 × 50 ms (increments / distinct keys; files +%s / +%s ms)', fmt($serial['rr-locked']['inc'], 0), fmt($serial['rr-locked']['key'], 0), fmt($serial['files']['inc'], 0), fmt($serial['files']['key'], 0)) : 'n/a',
        $serial_measured && $serial['rr-locked']['inc'] <= $serial['files']['inc'] && $serial['rr-locked']['key'] <= $serial['files']['key'],
        // The fpm requests run unpinned: the unpinned handoffs say what theirs cost.
        $serial_measured ? serial_miss_why($serial, $R['handoff_unpinned'] ?? $R['handoff'] ?? []) : 'not measured in this run (section 6).'
    );
    $lost_rows = [];
    $lost_why = [];
    foreach ($R['lost'] as $l) {
        if (!in_array($l['config'], ['rr-locked', 'rr-optimistic'], true) || $l['lost'] === 0) {
            continue;
        }
        $what = sprintf('%s, %s', $label($l['config'], $l['pattern']), $l['op'] === 'inc' ? 'increments' : 'distinct keys');
        $lost_rows[] = sprintf('%s: %d of %d not saved (%d reported, %d silently)', $what, $l['lost'], $l['n'], $l['refused'], $l['silent']);
        // Optimistic increments of one key conflict by design: allowed when every one is reported.
        if ($l['config'] !== 'rr-optimistic' || $l['op'] !== 'inc' || $l['silent'] > 0) {
            $lost_why[] = sprintf('%s: first warning "%s"', $what, $l['warning'] ?? 'none');
        }
    }
    $lost_bad = (bool) $lost_why;
    $merge_limit = array_filter($lost_why, fn ($w) => str_contains($w, 'merge attempts'));
    $target(
        'zero lost updates in every rustredis locked or optimistic mode (optimistic increments may conflict, but every conflict is reported)',
        $lost_rows ? implode('; ', $lost_rows) : 'none lost',
        !$lost_bad,
        implode('; ', $lost_why) . '.' . ($merge_limit
            ? ' The 20 requests end their 50 ms together, so they all compare-and-set at once; a writer that loses the race merges and retries, and this one gave up with that warning before its turn came. Distinct keys always merge cleanly, so these writes were refused for contention alone: reported to the request, not silent, but not saved.'
            : '')
    );

    // ---- 7. leases
    $t7 = "Not measured in this run (section 7 was added later; run bench/run.sh again).\n";
    if (isset($R['leases'])) {
        $L = $R['leases'];
        $rows = [];
        foreach ($L['crash'] as $config => $c) {
            $runs = implode(', ', array_map(fn ($x) => fmt($x, 0), $c['runs_ms']));
            $rows[] = [$label($config), fmt($c['median_ms'], 0), fmt($c['max_ms'], 0), $runs, (string) $c['failed']];
        }
        $t7 = "**Next request after `kill -9` of the process holding the session's lock** (ms from the signal\n"
            . "to the waiting request's session_start() returning; the waiter was already blocked):\n\n"
            . md_table(['configuration', 'median ms', 'max ms', 'runs', 'failed'], $rows);
        $rows = [];
        foreach ($L['renewals'] as $r) {
            $rows[] = [(string) $r['locks'], fmt($r['per_second'], 1), fmt($r['per_lock_per_second'], 2)];
        }
        $t7 .= "\n**Renewal traffic** (EVALSHA calls Redis counted over 10 s while one process held N locks; the\n"
            . "lease is 2 s, renewed every 500 ms):\n\n" . md_table(['locks held', 'renewals/s', 'per lock per second'], $rows);
        $rows = [];
        foreach (['cycle_pinned' => 'CLI µs per cycle, pinned', 'cycle_unpinned' => 'CLI µs per cycle, unpinned'] as $k => $what) {
            $rows[] = [$what, fmt($L[$k]['none_us'], 1), fmt($L[$k]['held_us'], 1), show_ratio(paired_ratio($L[$k]['held_runs'], $L[$k]['none_runs']))];
        }
        $rows[] = ['php-fpm req/s (wrk, 100 locks held by another process)', fmt($L['wrk']['none_rps'], 0), fmt($L['wrk']['held_rps'], 0),
            show_ratio($L['wrk']['none_rps'] ? $L['wrk']['held_rps'] / $L['wrk']['none_rps'] : null)];
        $t7 .= "\n**Cost of renewals to requests** (rustredis locked; \"held\": while 100 other locks are held and\n"
            . "renewed, in the measuring process itself for the CLI rows):\n\n"
            . md_table(['what', 'no lock held', '100 locks held', 'ratio'], $rows);
        $rr = $L['crash']['rr-locked']['max_ms'] ?? null;
        $target(
            'next request within 3 s of `kill -9` of the lock holder (default settings)',
            sprintf('%s ms at most (files %s ms, phpredis tuned to wait %s ms)', fmt($rr, 0), fmt($L['crash']['files']['median_ms'] ?? null, 0), fmt($L['crash']['phpredis-lock-crash']['median_ms'] ?? null, 0)),
            $rr !== null && $rr <= 3000,
            'see table 7.'
        );
    }

    // ---- 10. large sessions and compression
    $t10 = "Not measured in this run.\n";
    if (isset($R['sizes']['sizes'])) {
        $S = $R['sizes'];
        $rows = [];
        foreach ($S['sizes'] as $size) {
            [$rr, $base, $rr_read, $base_read] = $size['rows'] + [2 => null, 3 => null];
            $ratio = paired_ratio($rr['us'], $base['us']);
            $read_ratio = $rr_read ? paired_ratio($rr_read['us'], $base_read['us']) : null;
            $kb = fmt($size['bytes'] / 1000, 0);
            $rows[] = [$kb . ' KB', fmt($rr['median_us'], 0), fmt($base['median_us'], 0), show_ratio($ratio),
                fmt($rr_read['median_us'] ?? null, 0), fmt($base_read['median_us'] ?? null, 0), show_ratio($read_ratio), (string) $size['cycles']];
            $target(
                sprintf('a %s KB session: locked rustredis cycle ≤ ×1.1 of phpredis without locking', $kb),
                sprintf('%s µs vs %s µs (median of the per-round ratios: %s)', fmt($rr['median_us'], 0), fmt($base['median_us'], 0), show_ratio($ratio)),
                $ratio !== null && $ratio <= 1.1,
                'both read and write the whole session every cycle: rustredis reads it straight from the socket into its buffer and writes it with one copy into a reused send buffer, a SET of a staging key and an owner-checked RENAME in one round trip, phpredis GETs and SETEXes it; see the read_and_close row of the same size, and table 10.'
            );
            $target(
                sprintf('a %s KB session: read_and_close ≤ ×1.1 of phpredis\'s', $kb),
                sprintf('%s µs vs %s µs (median of the per-round ratios: %s)', fmt($rr_read['median_us'] ?? null, 0), fmt($base_read['median_us'] ?? null, 0), show_ratio($read_ratio)),
                $read_ratio !== null && $read_ratio <= 1.1,
                'both are one GET of the whole session; rustredis reads a bulk reply of 64 KiB or more from the socket straight into its buffer (not through redis-rs\'s parser), phpredis through its 8 KB stream buffer; see table 10.'
            );
        }
        $crow = [];
        $plain = $S['compression'][0]['stored_bytes'] ?? null;
        foreach ($S['compression'] as $r) {
            $crow[] = [$label(explode('+', $r['config'])[0]) . (str_contains($r['config'], '+') ? ', ' . explode('+', $r['config'])[1] : ', none'),
                fmt($r['median_us'], 0), (string) $r['stored_bytes'], $plain ? show_ratio($r['stored_bytes'] / $plain) : '–'];
        }
        $t10 = md_table(['session', 'rustredis locked µs / cycle (median)', 'phpredis locking off µs / cycle', '× phpredis off (median of per-round ratios)',
            'rustredis read_and_close µs / read', 'phpredis read_and_close µs / read', '× phpredis', 'cycles per round'], $rows)
            . "\nA 100 KB shop cart (product rows of repeated fields), rustredis locked, by `rustredis.compression`\n(threshold 2048 bytes, zstd level 3):\n\n"
            . md_table(['compression', 'µs / cycle (median)', 'bytes stored in Redis', '× uncompressed'], $crow);
    }

    // ---- 8. network distance
    $t8 = "Not measured in this run.\n";
    if (isset($R['distance']['distances'])) {
        $D = $R['distance'];
        $rows = [];
        foreach ($D['distances'] as $d) {
            $base = null;
            foreach ($d['rows'] as $r) {
                if ($r['config'] === 'phpredis-off') {
                    $base = $r;
                }
            }
            foreach ($d['rows'] as $r) {
                $rows[] = [
                    sprintf('+%d µs (measured +%s)', $d['target_us'], fmt($d['added_us'], 0)),
                    $label($r['config'], $r['pattern']),
                    fmt($r['median_us'], 0),
                    $base ? show_ratio(paired_ratio($r['runs'], $base['runs'])) : '–',
                ];
            }
        }
        $t8 = sprintf("PHP's PING: %s µs direct; the proxy itself adds %s µs, which is taken off the requested delay. A new\n"
            . "connection plus its first PING through the proxy costs %s.\n\n",
            fmt($D['direct_ping_us'], 1), fmt($D['proxy_overhead_us'], 0),
            implode(', ', array_map(fn ($d) => sprintf('%s µs at +%d µs', fmt($d['connect_us'], 0), $d['target_us']), $D['distances'])))
            . md_table(['added round trip', 'configuration', 'µs per cycle', '× phpredis off (median of per-round ratios)'], $rows);
        foreach ($D['distances'] as $d) {
            if ($d['target_us'] !== 250) {
                continue;
            }
            $by = [];
            foreach ($d['rows'] as $r) {
                $by[$r['config'] . '/' . $r['pattern']] = $r;
            }
            $ratio = paired_ratio($by['rr-locked/']['runs'], $by['phpredis-off/']['runs']);
            $target(
                'at +0.25 ms round trip, locked rustredis cycle ≤ ×0.75 of phpredis without locking',
                sprintf('%s µs vs %s µs (%s)', fmt($by['rr-locked/']['median_us'], 0), fmt($by['phpredis-off/']['median_us'], 0), show_ratio($ratio)),
                $ratio !== null && $ratio <= 0.75,
                'see table 8.'
            );
        }
    }

    // ---- 9. Cluster and Sentinel
    $t9 = isset($R['topologies']) ? topology_report($R['topologies'], $name, $target) : "Not measured in this run.\n";

    $false_returns = array_sum(array_column($R['lost'], 'false_returns'));
    $closes = array_sum(array_column($R['lost'], 'n'));
    $targets_table = md_table(['target', 'measured in this run', 'verdict'], $targets);
    $why_text = $why ? "Where a target is missed, and why:\n\n" . implode("\n", $why) . "\n" : "Every target is met in this run.\n";
    $seconds = fmt($R['seconds'], 0);
    $m = $R['machine'];
    $pinned = $R['pinned_cpu'] === 'off'
        ? 'Sections 2 and 5 ran unpinned (BENCH_PIN_CPU=off).'
        : 'Sections 2 and 5 (cycles, handoff, readers) run php and redis-server pinned to one CPU with taskset: on this VM a process waking another on an idle vCPU waits for the vCPU to leave halt, which costs more than the session work itself and varies wildly from run to run; on one CPU every round trip is two context switches, so the figures measure the handlers rather than the hypervisor. php-fpm, nginx and wrk (sections 3, 4, 6) are not pinned. The cycles of section 2 and the handoffs of section 5 run once more unpinned, and their targets are checked both ways (the read_and_close readers of section 5 run pinned only).';
    $m['Redis PING from PHP, median of 2000'] = sprintf('%s µs at the start, %s µs at the end', fmt($R['ping_us'][0], 1), fmt($R['ping_us'][1] ?? null, 1));
    $m['Load average (1, 5, 15 min)'] = "{$R['load'][0]} at the start, {$R['load'][1]} at the end"
        . ((float) $R['load'][0] > 0.5 ? ' (other work was running on the machine, so figures are noisier than on an idle one)' : '');
    $machine = '';
    foreach ($m as $k => $v) {
        $machine .= "- $k: $v\n";
    }
    $cmd = getenv('RR_COMMAND') ?: 'bench/run.sh';
    $lock_defaults = $R['phpredis_lock_defaults'];
    $doc = <<<MD
# rustredis benchmark results

Measured in one run of `$cmd` (all figures below come from that run; it took $seconds s).

$machine
Configurations (all Redis ones use the same save_path `tcp://127.0.0.1:PORT?prefix=PHPREDIS_SESSION:`
on a private redis-server; `files` uses a temp dir):

- **phpredis off**: phpredis with `redis.session.locking_enabled=0` (its default), one new connection per request.
- **phpredis off, persistent=1**: the same with `&persistent=1` in the save_path (connection reused).
- **phpredis locking, default wait**: `redis.session.locking_enabled=1` and phpredis's own defaults
  ($lock_defaults): a waiter gives up after about 20 ms and goes on without the lock.
- **phpredis locking, tuned wait**: `locking_enabled=1`, `lock_wait_time=20000` µs, `lock_retries=500`
  (polls every 20 ms for up to 10 s).
- **rustredis**: `rustredis.locking=on` (lock per request), `off` (last write wins), `optimistic`
  (no lock, key-by-key merge); "read_and_close" rows use `session_start(['read_and_close' => true])`.
  In the parallel-AJAX and lost-update tables the read_and_close row does the slow part after a
  read_and_close and then calls `session_start()` again just to write, so the lock is held only for the write.

$pinned

## Targets

$targets_table
$why_text
## 1. Redis round trips per request

Counted by Redis itself during {$o['rt_requests']} sequential requests of one existing session
through nginx + php-fpm after a warm-up: round trips are the reads of client input Redis processed
(`total_reads_processed` in `INFO stats`; the commands of one pipeline arrive in one read), and the
commands are what `MONITOR` saw; commands run inside Lua scripts (`[0 lua]` lines) are listed
separately. Write requests open the session, increment a counter and close it; read_and_close
requests only read.

$t1
## 2. µs per session cycle (php CLI loop)

A php CLI process loops `session_start()`, `\$_SESSION['counter']++`, `session_write_close()`
(read_and_close rows: `session_start(['read_and_close' => true])` only): 20 warm-up cycles, then
{$o['cycles']} timed cycles on a fresh session. {$o['runs']} rounds, each running every row once in turn
(so a slow spell of the machine hits all rows alike); the median round is shown, then each round,
and the ratios are medians of the ratios within each round.
"Counter check": the counter read back after every round equals the number of cycles run.

$t2
$t2u
## 3. php-fpm + nginx throughput (wrk)

`wrk -t2 -c{$o['wrk_connections']} --latency` for {$o['wrk_seconds']} s per row, as {$o['wrk_passes']} passes over all rows in turn (a 1 s
warm-up before each row's first pass); req/s, p50 and p99 are the medians over the passes, and the
ratios are medians of the ratios within each pass, so a busy spell of the machine counts once. With
`bench/sessions.lua` sending a different session cookie on every request (2000 sessions per
thread); php-fpm has 24 static workers. Write rows: `ajax.php?ms=0&op=inc` (open, increment,
close); read_and_close rows: `state.php?do=show` (read only). wrk, nginx, php-fpm and Redis all run
on the same machine.

$t3
## 4. Parallel AJAX: 10 requests × 300 ms on one session

One session, 10 requests fired at once; each sleeps 300 ms (the slow back end) and writes one key
of its own. "One request alone" is the same request with nothing in parallel.

$t4
## 5. Lock handoff

A holder process takes a session's lock; a waiter process calls `session_start()` on the same
session and blocks; 5 ms later the holder calls `session_write_close()`. Handoff = waiter's
`session_start()` returning minus the holder's call to `session_write_close()` (so it includes
the holder's own write), {$o['handoff_rounds']} rounds, fresh session each round; every round hands over once
in each configuration in turn; then the same once more with nothing pinned. The last row is no
session handler: the same two processes hand a Redis list item over (the holder's plain RPUSH wakes
the waiter's BLPOP, phpredis), the least any lock kept in Redis costs to hand over on this machine.

$t5
read_and_close readers while a writer holds the lock of the same session: per round, 500 reads
alone and 500 reads (at most 1.5 s of them) while another process holds the lock, alternating which
goes first; median µs per read over {$o['reader_rounds']} rounds, and the median of the per-round ratios. The
writer lets go after 3 s at the latest; a reader that blocked is not made to block again.

$t5b
## 6. Lost updates

20 parallel php-fpm requests on one session, each taking 50 ms: "increments" all do
`\$_SESSION['counter']++` (20 expected), "distinct keys" each write a key of their own (20
expected); {$o['lost_trials']} trials per row, counts summed. Reported = the request saw `session_write_close()` return false or a warning while
closing; lost silently = neither kept nor reported. In this run `session_write_close()` returned
false {$false_returns} times out of {$closes}: PHP 8.2 returns true even when the save handler's write
fails, so a refused write reaches the request as a warning.

$t6
## 7. Leases: a crashed worker, and what renewals cost

$t7
## 8. Network distance: Redis one LAN hop away

A delay proxy of our own (`examples/delay_proxy.rs`) between php and Redis forwards every chunk half
the added round trip later in each direction, and a connection's first request one round trip
later still, as a TCP handshake costs. µs per CLI session cycle (as in section 2, unpinned);
phpredis connects anew for every request, rustredis keeps its connections per process.

$t8
## 9. Redis Cluster and Sentinel

A Redis Cluster of 3 masters with a replica each (`cluster-node-timeout 1000`) and a Sentinel set (a
master, its replica and 3 Sentinels, `down-after-milliseconds 1000`), private redis-servers on
loopback like the one above. **rustredis, Cluster** and **phpredis rediscluster** (phpredis's
`session.save_handler=rediscluster`, which does not lock) use the same phpredis-style save_path,
`seed[]=127.0.0.1:PORT&seed[]=…&timeout=1&read_timeout=2&persistent=1&failover=error`;
**rustredis, Sentinel** uses `sentinel://…?master=mymaster`; **rustredis, locking on** is the one
Redis of the sections above, for reference. Every rustredis row locks (`rustredis.locking=on`).

$t9
## 10. Large sessions and compression

µs per CLI session cycle as in section 2 (pinned), of a session that also holds 100 KB, 1 MB or 5 MB
of text (written whole every cycle: the counter changes), rustredis locked against phpredis
without locking; and µs per `session_start(['read_and_close' => true])` of the same session (one
GET each); then a realistic 100 KB cart by compression setting.

$t10
MD;
    file_put_contents(__DIR__ . '/RESULTS.md', $doc);
    echo $doc;
}

/**
 * Section 9's tables, and its targets through $target (write_report()'s): round trips counted by
 * the masters, CLI cycles and php-fpm throughput against phpredis's rediscluster and against
 * rustredis on one Redis, and the failover rounds.
 */
function topology_report(array $T, callable $name, callable $target): string
{
    $rt = $T['roundtrips'];
    $rt_of = fn (string $config, string $pattern) => row_of($rt, $config, $pattern)['per_request'] ?? null;
    $rows = [];
    foreach ($rt as $row) {
        $rows[] = [
            $name($row), fmt($row['per_request']) . ($row['figure'] === 'fewest' ? ' (fewest)' : ''),
            implode(' ', array_map(fn ($x) => fmt($x), $row['windows'])), commands_text($row['commands']),
            fmt($row['lua_per_request']), ratio($row['per_request'], $rt_of('phpredis-cluster', $row['pattern'])),
            (string) $row['failed_requests'],
        ];
    }
    $out = "**Round trips per request**, counted by the masters as in section 1: reads of client input\n"
        . "(`total_reads_processed`) summed over every master during " . count($rt[0]['windows'] ?? []) . " windows of sequential requests of one\n"
        . "session through nginx + php-fpm, after twice as many warm-up requests as php-fpm has workers; less\n"
        . "the replicas' reads (`REPLCONF ACK`, one a second each, counted by `INFO commandstats`) and the\n"
        . "`INFO` that reads the count. The figure is the mean of the windows, except on the Sentinels'\n"
        . "master (\"fewest\"): Sentinels send it PING, PUBLISH and INFO a few times a second, sometimes\n"
        . "several in one read, which cannot be taken off exactly, so a window can only count too many and\n"
        . "the fewest is the figure. Commands: what `MONITOR` on the masters saw from every client but\n"
        . "replicas, Sentinels and the benchmark.\n\n"
        . md_table(['configuration', 'round trips / request', 'each window', 'client commands / request', 'run inside Lua', '× phpredis rediscluster', 'failed requests'], $rows);
    foreach (['rr-cluster' => 'Cluster', 'rr-sentinel' => 'Sentinel'] as $config => $what) {
        foreach (['' => ['locked request', 2.0], 'rac' => ['read_and_close', 1.0]] as $pattern => [$kind, $want]) {
            $row = row_of($rt, $config, $pattern);
            $base = $rt_of('phpredis-cluster', $pattern);
            $target(
                sprintf('%s: round trips per %s = %d', $what, $kind, $want),
                sprintf('%s (rustredis on one Redis: %s; %s)', fmt($row['per_request'] ?? null), fmt($rt_of('rr-locked', $pattern)), $config === 'rr-cluster'
                    ? sprintf('phpredis rediscluster, no lock: %s, %s', fmt($base), ratio($row['per_request'] ?? null, $base))
                    : 'phpredis has no Sentinel session handler'),
                $row !== null && $row['failed_requests'] === 0 && at_most($row['per_request'], $want),
                $row ? sprintf('windows: %s, commands: %s, failed requests: %d (table 9).', implode(' ', array_map(fn ($x) => fmt($x), $row['windows'])), commands_text($row['commands']), $row['failed_requests']) : 'not measured.'
            );
        }
    }

    $bases = ['phpredis rediscluster' => 'phpredis-cluster', 'rustredis, one Redis' => 'rr-locked'];
    $out .= "\n**µs per CLI session cycle**, as in section 2 (a php CLI loop of `session_start()`,\n"
        . "`\$_SESSION['counter']++`, `session_write_close()`, in rounds that run every row in turn): pinned,\n"
        . "php and the masters on one CPU (replicas and Sentinels, which nothing waits for, are not), then\n"
        . "unpinned. The masters have a replica each, so every write is also copied to a replica's stream,\n"
        . "which the one Redis of the reference row does not do.\n\n"
        . cycles_table($T['cycles'], $bases, $name, true)
        . "\nUnpinned:\n\n" . cycles_table($T['cycles_unpinned'], $bases, $name, false);
    $rt_text = fn (string $config) => sprintf('%s round trips per fpm request (%s)', fmt($rt_of($config, '')), commands_text(row_of($rt, $config)['commands'] ?? []));
    foreach (['cycles' => 'pinned', 'cycles_unpinned' => 'unpinned'] as $key => $how) {
        $row = row_of($T[$key], 'rr-cluster');
        $base = row_of($T[$key], 'phpredis-cluster');
        $r = $row && $base ? paired_ratio($row['us'], $base['us']) : null;
        $target(
            "Cluster: locked rustredis cycle ≤ phpredis rediscluster cycle (which does not lock), $how",
            sprintf('%s µs vs %s µs (median of the per-round ratios: %s)', fmt($row['median_us'] ?? null, 1), fmt($base['median_us'] ?? null, 1), show_ratio($r)),
            at_most($r, 1.0),
            sprintf('rustredis: %s, locking; phpredis rediscluster: %s, no lock. Each run, rustredis: %s µs; rediscluster: %s µs.',
                $rt_text('rr-cluster'), $rt_text('phpredis-cluster'),
                implode(' ', array_map(fn ($x) => fmt($x, 1), $row['us'] ?? [])), implode(' ', array_map(fn ($x) => fmt($x, 1), $base['us'] ?? [])))
        );
    }

    $out .= "\n**php-fpm + nginx throughput**, as in section 3 (wrk, a new session per request, passes over\n"
        . "every row in turn; the ratios are medians of the ratios within each pass):\n\n"
        . wrk_table($T['wrk'], $bases, $name);
    $row = row_of($T['wrk'], 'rr-cluster');
    $base = row_of($T['wrk'], 'phpredis-cluster');
    $r = $row && $base ? paired_ratio(wrk_rps($row), wrk_rps($base)) : null;
    $target(
        'Cluster: php-fpm throughput, rustredis locked ≥ phpredis rediscluster (which does not lock)',
        sprintf('%s vs %s req/s (median of the per-pass ratios: %s)', fmt($row['rps'] ?? null, 0), fmt($base['rps'] ?? null, 0), show_ratio($r)),
        at_most(1.0, $r),
        sprintf('req/s pass by pass, rustredis: %s; rediscluster: %s. As in section 3 the runs are CPU-bound: wrk, nginx, 24 php-fpm workers and 11 redis-servers share the machine.',
            implode(' ', array_map(fn ($x) => fmt($x, 0), wrk_rps($row))), implode(' ', array_map(fn ($x) => fmt($x, 0), wrk_rps($base))))
    );

    $F = $T['failover'];
    if (!isset($F['rounds'])) {
        $target('failover figures measured', $F['skipped'] ?? 'n/a', false, 'bench/failover.php gave no result; its output is quoted in the measured column.');
        return $out . "\n**Failover**: not measured in this run: " . ($F['skipped'] ?? 'no result') . "\n";
    }
    $rows = [];
    foreach ($F['rounds'] as $f) {
        $rows[] = [
            $f['topology'] === 'cluster' ? 'Cluster' : 'Sentinel',
            $f['replicas'] ? '1 (WAIT on)' : '0 (WAIT off)',
            (string) $f['requests'], (string) $f['failed'], (string) $f['acknowledged'], (string) $f['lost'],
            fmt($f['promoted_after_kill']), fmt($f['replica_back_after_kill']), fmt($f['resumed_after_promotion']),
            "{$f['fpm_crashes']} / {$f['not_json']} / {$f['duplicates']}",
        ];
    }
    $out .= "\n**Failover under load**, the rounds of `php-tests/failover.inc` that `php-tests/090` and `091` run,\n"
        . "on a cluster and a Sentinel set of their own: 8 sessions, each one request at a time 20 ms apart\n"
        . "through a php-fpm of 8 workers, every request appending its id to its session (so a lost write\n"
        . "is counted exactly); 1.5 s in, `kill -9` of a master (in the cluster it serves 4 of the 8\n"
        . "sessions); once its replica is promoted the old master is started again and comes back as a\n"
        . "replica; the load runs until 3 s after the sessions can be written again. Failed: requests that\n"
        . "were not acknowledged (a warning, or the session not saved). Written again: from the promotion\n"
        . "to the first acknowledged request of a session on the killed master. With\n"
        . "`rustredis.replicas=1` (`WAIT 1` behind every write) nothing can be acknowledged until a replica\n"
        . "is back, so that round's recovery waits for it.\n\n"
        . md_table(['topology', 'rustredis.replicas', 'requests', 'failed', 'acknowledged', 'acknowledged writes lost', 'promoted after the kill s', 'replica back after the kill s', 'written again after the promotion s', 'crashed workers / not the app\'s answer / saved twice'], $rows);
    $by = fn (int $replicas) => array_filter($F['rounds'], fn ($f) => $f['replicas'] === $replicas);
    $summary = fn (array $rounds, callable $what) => implode('; ', array_map(fn ($f) => ($f['topology'] === 'cluster' ? 'Cluster' : 'Sentinel') . ' ' . $what($f), $rounds));
    $target(
        'failover with rustredis.replicas=1 (WAIT on): no acknowledged write lost',
        $summary($by(1), fn ($f) => "{$f['lost']} of {$f['acknowledged']}") . ' (WAIT off: ' . $summary($by(0), fn ($f) => "{$f['lost']} of {$f['acknowledged']}") . ')',
        count($by(1)) === 2 && array_sum(array_column($by(1), 'lost')) === 0,
        'see the failover table in section 9.'
    );
    // Ready: the promotion; with WAIT on, a replica back (resumed_after counts from there).
    $resumed = array_map(fn ($f) => $f['resumed_after'], $F['rounds']);
    $target(
        'failover: the failed master\'s sessions written again within 2 s of being writable (the promotion; WAIT on: a replica back)',
        $summary($F['rounds'], fn ($f) => sprintf('replicas=%d %s s', $f['replicas'], fmt($f['resumed_after']))),
        !in_array(null, $resumed, true) && max($resumed) < 2.0,
        'see the failover table in section 9.'
    );
    $broken = array_sum(array_map(fn ($f) => $f['fpm_crashes'] + $f['not_json'] + $f['duplicates'], $F['rounds']));
    $target(
        'failover: no crashed worker, no answer that is not the application\'s, no write saved twice',
        $summary($F['rounds'], fn ($f) => sprintf('replicas=%d %d / %d / %d', $f['replicas'], $f['fpm_crashes'], $f['not_json'], $f['duplicates'])),
        $broken === 0,
        'php-fpm\'s log or the answers of the rounds show it; see the failover table in section 9.'
    );
    return $out;
}

if (realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) {
    $results = json_decode((string) @file_get_contents($argv[1] ?? __DIR__ . '/results.json'), true);
    if (!is_array($results)) {
        fwrite(STDERR, "usage: php bench/report.php [bench/results.json]\n");
        exit(2);
    }
    write_report($results);
}
