<?php
// One PHP process of the benchmark, started by bench/bench.php with the benchmark's php.ini.
//
//   worker.php cycle  CONFIG PATTERN SID CYCLES RUNS MAX_SECONDS
//       times session cycles in a loop (session_start, change, session_write_close; with PATTERN
//       'rac' just session_start(['read_and_close' => true])) and prints JSON: µs per cycle of
//       each run of CYCLES (at most RUNS runs, stopping after MAX_SECONDS).
//   worker.php holder CONFIG      reads lines "lock SID" / "release" on stdin: takes the session
//                                 (and its lock), then releases it with session_write_close().
//   worker.php waiter CONFIG      reads lines "wait SID": says "waiting", then opens the session,
//                                 which blocks until the holder releases it.
//   worker.php hold-many CONFIG N locks N fresh sessions (RustRedis\SessionHandler objects), says
//                                 "held", and keeps them (renewed) until stdin closes.
//   CONFIG "redis-floor" (holder and waiter only) has no session at all: the holder's "release"
//                                 is a plain RPUSH (phpredis) that wakes the waiter's BLPOP, the
//                                 least any lock kept in Redis can cost to hand over.
//   cycle takes a 7th argument HOLD: that many sessions are held (renewed) during the loop.
//   PATTERN "bytes:N" / "cart:N" also keeps N bytes of text / a shop cart of about N bytes in the
//   session (written whole every cycle); "rac-bytes:N" times read_and_close cycles of a session
//   written once with it. CONFIG "NAME+lz4" / "NAME+zstd" sets rustredis.compression.
// holder and waiter answer each line with one line of microtime(true) stamps.

declare(strict_types=1);
require __DIR__ . '/../scripts/demo-lib.php';

$warnings = [];
set_error_handler(function (int $no, string $message) use (&$warnings): bool {
    $warnings[] = $message;
    return true;
});

[, $role, $config] = $argv + [null, '', ''];
// "CONFIG+lz4" / "CONFIG+zstd": that configuration with rustredis.compression set.
[$config, $compression] = explode('+', $config, 2) + [1 => null];
if ($config === 'redis-floor') {
    redis_floor($role);
    exit;
}
rr_apply_config($config);
if ($compression !== null) {
    ini_set('rustredis.compression', $compression);
}
ini_set('session.use_cookies', '0');
ini_set('session.use_only_cookies', '0');
ini_set('session.cache_limiter', '');

/** microtime(true) with all its digits (string interpolation would keep only 100 µs). */
function now(): string
{
    return sprintf('%.6f', microtime(true));
}

function say(string $line): void
{
    fwrite(STDOUT, $line . "\n");
    fflush(STDOUT);
}

/** Locks $n fresh sessions through RustRedis\SessionHandler objects; keep the result alive. */
function hold_sessions(int $n): array
{
    $held = [];
    for ($i = 0; $i < $n; $i++) {
        $handler = new RustRedis\SessionHandler();
        $handler->read('held' . bin2hex(random_bytes(12)));
        $held[] = $handler;
    }
    return $held;
}

/** The holder and waiter of CONFIG "redis-floor": one Redis round trip hands over, no script. */
function redis_floor(string $role): void
{
    $redis = new Redis();
    $redis->connect('127.0.0.1', (int) rr_env('RR_REDIS_PORT'), 2.0);
    while (($line = fgets(STDIN)) !== false) {
        $words = explode(' ', trim($line));
        if ($role === 'holder' && $words[0] === 'lock') {
            $key = "floor:{$words[1]}";
            say('locked ' . now());
        } elseif ($role === 'holder' && $words[0] === 'release' && isset($key)) {
            $t0 = now();
            $redis->rPush($key, '1');
            say("released $t0 " . now());
        } elseif ($role === 'waiter' && $words[0] === 'wait') {
            say('waiting');
            $popped = $redis->blPop(["floor:{$words[1]}"], 30);
            $acquired = now();
            say("acquired $acquired " . ($popped ? 0 : 1));
        }
    }
}

function cycle(bool $rac, ?array $payload = null): void
{
    if ($rac) {
        session_start(['read_and_close' => true]);
        return;
    }
    session_start();
    $_SESSION['counter'] = ($_SESSION['counter'] ?? 0) + 1;
    if ($payload !== null) {
        $_SESSION['payload'] ??= $payload;
    }
    session_write_close();
}

/**
 * What PATTERN "bytes:N" or "cart:N" puts in the session besides the counter: N bytes of random
 * text, or a shop cart of about N bytes (product rows of repeated fields, as shops store them).
 */
function payload(string $pattern): ?array
{
    if (!preg_match('/^(bytes|cart):(\d+)$/', $pattern, $m)) {
        return null;
    }
    $n = (int) $m[2];
    if ($m[1] === 'bytes') {
        return ['blob' => substr(base64_encode(random_bytes(intdiv($n * 3, 4) + 3)), 0, $n)];
    }
    $cart = [];
    for ($i = 0; strlen(serialize($cart)) < $n; $i++) {
        $cart[] = ['sku' => sprintf('SKU-%06d', 100000 + $i), 'name' => "Product number $i, colour blue, size M",
            'qty' => 1 + $i % 3, 'price' => 1999 + $i, 'currency' => 'EUR', 'tax_class' => 'standard',
            'options' => ['gift_wrap' => false, 'engraving' => ''], 'added_at' => 1764547200 + $i];
    }
    return ['cart' => $cart];
}

switch ($role) {
    case 'cycle':
        [$pattern, $sid, $cycles, $runs, $max_seconds, $hold] = array_slice($argv, 3) + ['', '', '1000', '5', '30', '0'];
        // "rac-bytes:N": read_and_close cycles of a session written once with that payload.
        $rac = $pattern === 'rac' || str_starts_with($pattern, 'rac-');
        $payload = payload(str_starts_with($pattern, 'rac-') ? substr($pattern, 4) : $pattern);
        $held = hold_sessions((int) $hold);
        session_id($sid);
        if ($rac && $payload !== null) {
            cycle(false, $payload);
        }
        $deadline = microtime(true) + (float) $max_seconds;
        for ($i = 0; $i < 20; $i++) {
            cycle($rac, $payload);
        }
        $per_run = [];
        $done = 0;
        for ($run = 0; $run < (int) $runs && microtime(true) < $deadline; $run++) {
            $t0 = hrtime(true);
            for ($i = 0; $i < (int) $cycles && microtime(true) < $deadline; $i++) {
                cycle($rac, $payload);
            }
            if ($i > 0) {
                $per_run[] = (hrtime(true) - $t0) / 1e3 / $i;
                $done += $i;
            }
        }
        session_start(['read_and_close' => true]);
        echo json_encode([
            'us' => $per_run,
            'cycles' => $done,
            'counter' => $_SESSION['counter'] ?? null,
            'warnings' => count($warnings),
            'warning' => $warnings[0] ?? null,
        ]), "\n";
        break;

    case 'holder':
        while (($line = fgets(STDIN)) !== false) {
            $words = explode(' ', trim($line));
            if ($words[0] === 'lock') {
                session_id($words[1]);
                session_start();
                $_SESSION['holder'] = microtime(true);
                say('locked ' . now());
            } elseif ($words[0] === 'release') {
                $t0 = now();
                session_write_close();
                say("released $t0 " . now());
            }
        }
        break;

    case 'waiter':
        while (($line = fgets(STDIN)) !== false) {
            $words = explode(' ', trim($line));
            if ($words[0] === 'wait') {
                say('waiting');
                session_id($words[1]);
                session_start();
                $acquired = now();
                $_SESSION['waiter'] = $acquired;
                session_write_close();
                say("acquired $acquired " . count($warnings));
            }
        }
        break;

    case 'hold-many':
        $held = hold_sessions((int) ($argv[3] ?? 1));
        say('held ' . count($held));
        while (fgets(STDIN) !== false) {
        }
        break;

    default:
        fwrite(STDERR, "usage: worker.php cycle|holder|waiter|hold-many CONFIG ...\n");
        exit(2);
}
