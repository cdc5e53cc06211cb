<?php
// Shared by the demo (scripts/demo.php, scripts/demo-www/*.php) and the benchmark (bench/*.php):
// the handler configurations compared, and a small parallel HTTP client for the CLI drivers.
// The servers are started by scripts/lib-servers.sh, which passes RR_REDIS_PORT and RR_FILES_DIR.

declare(strict_types=1);

function rr_env(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        throw new RuntimeException("$name is not set (start the servers with scripts/lib-servers.sh)");
    }
    return $value;
}

/**
 * Every session handler configuration compared, by short name. `ini` is applied with ini_set()
 * before session_start(); phpredis-lock keeps phpredis's own lock defaults on purpose.
 */
function rr_configs(): array
{
    $redis = 'tcp://127.0.0.1:' . rr_env('RR_REDIS_PORT') . '?prefix=PHPREDIS_SESSION:';
    $phpredis = fn (string $label, array $ini, string $path = '') => [
        'label' => $label,
        'handler' => 'redis',
        'path' => $redis . $path,
        'ini' => $ini,
    ];
    $rustredis = fn (string $label, string $locking) => [
        'label' => $label,
        'handler' => 'rustredis',
        'path' => $redis,
        'ini' => ['rustredis.locking' => $locking],
    ];
    return [
        'files' => ['label' => 'PHP files (flock)', 'handler' => 'files', 'path' => rr_env('RR_FILES_DIR'), 'ini' => []],
        'phpredis-off' => $phpredis('phpredis, locking off', ['redis.session.locking_enabled' => '0']),
        'phpredis-off-p' => $phpredis('phpredis, locking off, persistent=1', ['redis.session.locking_enabled' => '0'], '&persistent=1'),
        'phpredis-lock' => $phpredis('phpredis, locking on, default wait', ['redis.session.locking_enabled' => '1']),
        'phpredis-lock-wait' => $phpredis('phpredis, locking on, tuned wait', [
            'redis.session.locking_enabled' => '1',
            'redis.session.lock_wait_time' => '20000',
            'redis.session.lock_retries' => '500',
        ]),
        // The crash case: a waiter patient enough to outlast the holder's lock (40 s), and phpredis's
        // lock TTL as php-fpm has it (lock_expire 0 means max_execution_time, 30 s by default).
        'phpredis-lock-crash' => $phpredis('phpredis, locking on, tuned to outwait a crash', [
            'redis.session.locking_enabled' => '1',
            'redis.session.lock_wait_time' => '20000',
            'redis.session.lock_retries' => '2000',
            'redis.session.lock_expire' => '30',
        ]),
        'rr-locked' => $rustredis('rustredis, locking on', 'on'),
        'rr-off' => $rustredis('rustredis, locking off', 'off'),
        'rr-optimistic' => $rustredis('rustredis, optimistic', 'optimistic'),
    ] + rr_topology_configs();
}

/**
 * The Cluster and Sentinel configurations (bench section 9), where bench/run.sh started those
 * servers: rustredis and phpredis's `rediscluster` handler (which does not lock) on the same
 * phpredis-style `seed[]=` save_path, and rustredis on a `sentinel://` one.
 */
function rr_topology_configs(): array
{
    $configs = [];
    $cluster = getenv('RR_CLUSTER_SAVE_PATH');
    if ($cluster !== false && $cluster !== '') {
        $configs['rr-cluster'] = ['label' => 'rustredis, locking on, Cluster', 'handler' => 'rustredis', 'path' => $cluster, 'ini' => ['rustredis.locking' => 'on']];
        $configs['phpredis-cluster'] = ['label' => 'phpredis rediscluster (no locking)', 'handler' => 'rediscluster', 'path' => $cluster, 'ini' => []];
    }
    $sentinel = getenv('RR_SENTINEL_SAVE_PATH');
    if ($sentinel !== false && $sentinel !== '') {
        $configs['rr-sentinel'] = ['label' => 'rustredis, locking on, Sentinel', 'handler' => 'rustredis', 'path' => $sentinel, 'ini' => ['rustredis.locking' => 'on']];
    }
    return $configs;
}

/** The demo's cases, in order: [configuration, pattern ('' or 'rac'), what it shows]. */
function rr_demo_runs(): array
{
    return [
        ['files', '', 'PHP files handler: flock held for the whole request'],
        ['phpredis-lock', '', 'phpredis ' . phpversion('redis') . ', locking on at its defaults (' . rr_phpredis_lock_settings() . ')'],
        ['phpredis-lock-wait', '', 'phpredis ' . phpversion('redis') . ', locking on, tuned to wait (lock_wait_time=20000 us, lock_retries=500)'],
        ['rr-locked', '', 'rustredis, rustredis.locking=on: lock held for the whole request'],
        ['rr-locked', 'rac', 'rustredis, read_and_close for the slow part, then session_start() just to write'],
        ['rr-optimistic', '', 'rustredis, rustredis.locking=optimistic: no lock, writes merged key by key'],
    ];
}

/** Points the session extension at configuration $name; returns it. */
function rr_apply_config(string $name): array
{
    $config = rr_configs()[$name] ?? throw new InvalidArgumentException("unknown configuration '$name'");
    ini_set('session.save_handler', $config['handler']);
    ini_set('session.save_path', $config['path']);
    foreach ($config['ini'] as $setting => $value) {
        ini_set($setting, $value);
    }
    return $config;
}

/**
 * The browser page passes the session id as ?sid= (it spreads its requests over two origins to get
 * past the six connections a browser opens per host, and cookies do not cross origins).
 */
function rr_use_requested_session_id(): void
{
    $sid = (string) ($_GET['sid'] ?? '');
    if (preg_match('/^[a-zA-Z0-9,-]{8,128}$/', $sid)) {
        session_id($sid);
    }
    header('Access-Control-Allow-Origin: *');
}

/** The phpredis lock settings in force, to say what "default wait" means on this machine. */
function rr_phpredis_lock_settings(): string
{
    return sprintf(
        'lock_wait_time=%s us, lock_retries=%s, lock_expire=%s',
        ini_get('redis.session.lock_wait_time'),
        ini_get('redis.session.lock_retries'),
        ini_get('redis.session.lock_expire')
    );
}

/**
 * Sends every request at once to nginx on 127.0.0.1:$port (HTTP/1.0, one connection each) and
 * waits at most $timeout seconds for all answers. Returns, in order, ['status' => int (0: no
 * answer), 'body' => string, 'json' => decoded body or null, 'sent' => float, 'done' => float].
 */
function rr_http_parallel(int $port, array $paths, array $headers = [], float $timeout = 60.0): array
{
    $head = '';
    foreach ($headers as $name => $value) {
        $head .= "$name: $value\r\n";
    }
    $results = [];
    $open = [];
    foreach (array_values($paths) as $i => $path) {
        $results[$i] = ['status' => 0, 'body' => '', 'json' => null, 'sent' => microtime(true), 'done' => 0.0];
        $sock = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $errstr, 5.0);
        if ($sock === false) {
            $results[$i]['body'] = "connect failed: $errstr";
            continue;
        }
        fwrite($sock, "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n{$head}Connection: close\r\n\r\n");
        stream_set_blocking($sock, false);
        $open[$i] = $sock;
    }
    $raw = array_fill_keys(array_keys($open), '');
    $deadline = microtime(true) + $timeout;
    while ($open && microtime(true) < $deadline) {
        $read = $open;
        $write = $except = null;
        if (stream_select($read, $write, $except, 0, 200000) === false) {
            break;
        }
        foreach ($read as $sock) {
            $i = array_search($sock, $open, true);
            $chunk = fread($sock, 65536);
            if ($chunk !== false && $chunk !== '') {
                $raw[$i] .= $chunk;
            }
            if (feof($sock)) {
                fclose($sock);
                unset($open[$i]);
                $results[$i]['done'] = microtime(true);
                [$header, $body] = array_pad(explode("\r\n\r\n", $raw[$i], 2), 2, '');
                $results[$i]['status'] = (int) (explode(' ', $header)[1] ?? 0);
                $results[$i]['body'] = $body;
                $results[$i]['json'] = json_decode($body, true);
            }
        }
    }
    foreach ($open as $sock) {
        fclose($sock);
    }
    return $results;
}

function rr_http_get(int $port, string $path, array $headers = [], float $timeout = 60.0): array
{
    return rr_http_parallel($port, [$path], $headers, $timeout)[0];
}

/** A fresh session id PHP would accept (use_strict_mode is off in our php.ini). */
function rr_new_session_id(string $tag): string
{
    return preg_replace('/[^a-zA-Z0-9]/', '', $tag) . bin2hex(random_bytes(10));
}

function rr_cookie(string $sid): array
{
    return ['Cookie' => "PHPSESSID=$sid"];
}

/**
 * The classic case: one browser session fires $n parallel AJAX requests (scripts/demo-www/ajax.php),
 * each waiting $ms on a slow back end and then writing one key of its own (op 'key') or
 * incrementing the shared counter (op 'inc'). Afterwards the session is read back to count what
 * survived. Returns wall time, per-request timings (seconds from the first request's start) and
 * what was kept, reported as not saved (session_write_close() false or a warning while closing),
 * and lost without a word.
 */
function rr_parallel_ajax(int $port, string $config, string $pattern, int $n, int $ms, string $op = 'key'): array
{
    $sid = rr_new_session_id($config);
    $cookie = rr_cookie($sid);
    $reset = rr_http_get($port, "/state.php?do=reset&c=$config", $cookie);
    if (($reset['json']['saved'] ?? false) !== true) {
        throw new RuntimeException("could not reset the session for $config: {$reset['body']}");
    }
    $paths = [];
    for ($i = 1; $i <= $n; $i++) {
        $paths[] = "/ajax.php?c=$config&i=$i&ms=$ms&op=$op&pattern=$pattern";
    }
    $responses = rr_http_parallel($port, $paths, $cookie, 30.0 + $n * $ms / 1000);
    $session = rr_http_get($port, "/state.php?do=show&c=$config", $cookie)['json']['session'] ?? [];

    $sent = min(array_column($responses, 'sent'));
    $done = max(array_column($responses, 'done'));
    $starts = array_filter(array_map(fn ($r) => $r['json']['t']['start'] ?? null, $responses));
    $origin = $starts ? min($starts) : 0.0;
    $requests = [];
    $refused = 0;
    $false_returns = 0;
    $warnings = [];
    foreach ($responses as $i => $r) {
        $json = $r['json'];
        if (!is_array($json)) {
            $requests[] = ['i' => $i + 1, 'ok' => false, 'error' => "HTTP {$r['status']}: " . substr($r['body'], 0, 200)];
            $refused++;
            continue;
        }
        $ok = $json['saved'] && !$json['write_warned'];
        $false_returns += $json['saved'] ? 0 : 1;
        $refused += $ok ? 0 : 1;
        foreach ($json['warnings'] as $w) {
            $warnings[] = "#{$json['i']}: $w";
        }
        $requests[] = [
            'i' => $json['i'],
            'ok' => $ok,
            'start' => $json['t']['start'] - $origin,
            'end' => $json['t']['end'] - $origin,
            'phases' => array_map(fn ($p) => [$p[0] - $origin, $p[1] - $origin, $p[2]], $json['phases']),
        ];
    }
    $kept = $op === 'inc'
        ? (int) ($session['counter'] ?? 0)
        : count(array_filter(array_keys($session), fn ($k) => str_starts_with((string) $k, 'req')));
    return [
        'config' => $config,
        'pattern' => $pattern,
        'n' => $n,
        'op' => $op,
        'wall' => $done - $sent,
        'requests' => $requests,
        'kept' => $kept,
        'lost' => max(0, $n - $kept),
        // Lost and nobody told: neither kept nor reported to the request that made it.
        'silent' => max(0, $n - $kept - $refused),
        'refused' => $refused,
        'false_returns' => $false_returns,
        'warnings' => $warnings,
    ];
}
