--TEST--
read_and_close, in every form PHP accepts, reads the last committed data at once while another request holds the lock, and takes no lock; forms PHP reads as false lock as usual
--FILE--
<?php
require __DIR__ . '/common.inc';
// A short budget: a read that wrongly waited for the lock would fail here instead of hanging.
rr_setup(['rustredis.lock_wait_ms' => '1000']);
ob_start();
session_start();
$id = session_id();
$_SESSION['v'] = 'committed';
session_write_close();

$holder = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    $_SESSION["v"] = "uncommitted";
    rr_cmd("SET", rr_key("locked"), "1");
    rr_wait_for_key("release", 30);
    session_write_close();
');
rr_wait_for_key('locked');
$lock = rr_cmd('GET', rr_lock_key($id));

$yes = [
    "true" => fn() => session_start(['read_and_close' => true]),
    "1" => fn() => session_start(['read_and_close' => 1]),
    "'1'" => fn() => session_start(['read_and_close' => '1']),
    "named options:" => fn() => session_start(options: ['read_and_close' => true]),
    "call_user_func" => fn() => call_user_func('session_start', ['read_and_close' => true]),
    "call_user_func_array, named" => fn() => call_user_func_array('session_start', ['options' => ['read_and_close' => true]]),
    "spread" => fn() => session_start(...[['read_and_close' => true]]),
    "variable function" => function () { $f = 'session_start'; return $f(['read_and_close' => true]); },
    "with other options" => fn() => session_start(['cache_limiter' => '', 'read_and_close' => true, 'gc_maxlifetime' => 1000]),
    "strict mode" => function () { ini_set('session.use_strict_mode', '1'); $r = session_start(['read_and_close' => true]); ini_set('session.use_strict_mode', '0'); return $r; },
];
// PHP 8.2 - 8.4 take any non-zero long (so -1 and "2abc" are yes); 8.5 takes only values above zero
// and throws for non-numeric strings.
if (PHP_VERSION_ID < 80500) {
    $yes["'2abc' (PHP < 8.5 reads 2)"] = fn() => session_start(['read_and_close' => '2abc']);
    $yes["-1 (PHP < 8.5)"] = fn() => session_start(['read_and_close' => -1]);
} else {
    $yes["'2' (PHP 8.5+)"] = fn() => session_start(['read_and_close' => '2']);
    $yes["' 3' (PHP 8.5+)"] = fn() => session_start(['read_and_close' => ' 3']);
}
foreach ($yes as $form => $start) {
    session_id($id);
    $_SESSION = [];
    $started = $start();
    printf("%-28s started=%s closed=%s v=%s holder still locks=%s\n", $form, var_export($started, true),
        var_export(session_status() === PHP_SESSION_NONE, true), $_SESSION['v'] ?? '-',
        var_export(rr_cmd('GET', rr_lock_key($id)) === $lock, true));
}

rr_cmd('SET', rr_key('release'), '1');
rr_wait($holder);

echo "-- PHP reads these as false: the session is started with the lock\n";
$no = ["false" => false, "0" => 0, "'0'" => '0'];
if (PHP_VERSION_ID < 80500) {
    $no += ["''" => '', "'yes' (PHP reads 0)" => 'yes'];
} else {
    $no += ["-1 (PHP 8.5+)" => -1, "'-2' (PHP 8.5+)" => '-2'];
}
foreach ($no as $form => $value) {
    session_id($id);
    $started = session_start(['read_and_close' => $value]);
    printf("%-28s started=%s active=%s locked=%s\n", $form, var_export($started, true),
        var_export(session_status() === PHP_SESSION_ACTIVE, true), var_export((bool)rr_cmd('EXISTS', rr_lock_key($id)), true));
    session_write_close();
}
echo "-- and these PHP rejects before reading anything\n";
foreach (PHP_VERSION_ID < 80500 ? [1.5, 2.5] : [1.5, 'yes'] as $value) {
    try {
        session_start(['read_and_close' => $value]);
        echo "accepted\n";
    } catch (TypeError $e) {
        echo get_class($e), "\n";
    }
}
var_dump(rr_cmd('EXISTS', rr_lock_key($id)));
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECTF--
true                         started=true closed=true v=committed holder still locks=true
1                            started=true closed=true v=committed holder still locks=true
'1'                          started=true closed=true v=committed holder still locks=true
named options:               started=true closed=true v=committed holder still locks=true
call_user_func               started=true closed=true v=committed holder still locks=true
call_user_func_array, named  started=true closed=true v=committed holder still locks=true
spread                       started=true closed=true v=committed holder still locks=true
variable function            started=true closed=true v=committed holder still locks=true
with other options           started=true closed=true v=committed holder still locks=true
strict mode                  started=true closed=true v=committed holder still locks=true
%s started=true closed=true v=committed holder still locks=true
%s started=true closed=true v=committed holder still locks=true
-- PHP reads these as false: the session is started with the lock
false                        started=true active=true locked=true
0                            started=true active=true locked=true
'0'                          started=true active=true locked=true
%s started=true active=true locked=true
%s started=true active=true locked=true
-- and these PHP rejects before reading anything
TypeError
TypeError
int(0)
