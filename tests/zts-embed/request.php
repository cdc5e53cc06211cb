<?php
/*
 * One request of tests/zts-embed/threads.c, run on one of its threads: $argv[1] is the action,
 * $argv[2] the session id, the rest the action's arguments. Prints one line that threads.c checks;
 * any warning PHP prints lands in the same output and so fails the check.
 */
$action = $argv[1] ?? '';
$id = $argv[2] ?? '';
$ms = fn(int $t0): int => intdiv(hrtime(true) - $t0, 1000000);
if ($id !== '') {
    session_id($id);
}
switch ($action) {
    case 'info':
        echo 'zts=', PHP_ZTS, ' rustredis=', (int) extension_loaded('rustredis'),
            ' handler=', ini_get('session.save_handler'), "\n";
        break;

    case 'set': // set ID KEY VALUE
        if (!session_start()) { echo "FAIL session_start\n"; break; }
        $_SESSION[$argv[3]] = $argv[4];
        echo session_write_close() ? "ok\n" : "FAIL session_write_close\n";
        break;

    case 'incr': // incr ID HOLD_MS: a locked read-modify-write that holds the lock HOLD_MS
        $t0 = hrtime(true);
        if (!session_start()) { echo "FAIL session_start\n"; break; }
        $waited = $ms($t0);
        $_SESSION['n'] = ($_SESSION['n'] ?? 0) + 1;
        usleep(1000 * (int) $argv[3]);
        echo session_write_close() ? "ok waited_ms=$waited\n" : "FAIL session_write_close\n";
        break;

    case 'hold': // hold ID MARKER HOLD_MS KEY VALUE: changes KEY, says so in MARKER, holds the lock
        if (!session_start()) { echo "FAIL session_start\n"; break; }
        $_SESSION[$argv[5]] = $argv[6];
        touch($argv[3]);
        usleep(1000 * (int) $argv[4]);
        echo session_write_close() ? "ok\n" : "FAIL session_write_close\n";
        break;

    case 'peek': // peek ID KEY: read_and_close, never waits for the lock
    case 'wait': // wait ID KEY: a locking start, waits for the lock
        $t0 = hrtime(true);
        if (!session_start($action === 'peek' ? ['read_and_close' => true] : [])) {
            echo "FAIL session_start\n";
            break;
        }
        $elapsed = $ms($t0);
        $value = $_SESSION[$argv[3]] ?? '(none)';
        if ($action === 'wait' && !session_write_close()) { echo "FAIL session_write_close\n"; break; }
        echo "v=$value ms=$elapsed\n";
        break;

    case 'regen': // regen ID: session_regenerate_id(true) keeps the data under a new id
        if (!session_start()) { echo "FAIL session_start\n"; break; }
        $ok = session_regenerate_id(true);
        $new = session_id();
        $_SESSION['after'] = 'yes';
        if (!session_write_close()) { echo "FAIL session_write_close\n"; break; }
        echo 'regenerated=', (int) $ok, " new=$new\n";
        break;

    case 'dump': // dump ID: the stored session as JSON, lock-free
        if (!session_start(['read_and_close' => true])) { echo "FAIL session_start\n"; break; }
        echo json_encode($_SESSION), "\n";
        break;

    default:
        echo "FAIL unknown action '$action'\n";
}
