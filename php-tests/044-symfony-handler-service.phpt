--TEST--
RustRedis\SessionHandler as Symfony's framework.session.handler_id service (php.ini's save_path): an expired cookie's replacement is saved, 5 parallel increments exact, read_and_close does not wait for the lock
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_require_symfony();
function symfony_service(string $cookie, string $action, array $ini = []) {
    return rr_spawn('
        rr_require_symfony();
        use Symfony\Component\HttpFoundation\Session\Session;
        use Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage;
        ob_start();
        session_id(' . var_export($cookie, true) . ');
        $session = new Session(new NativeSessionStorage(["use_strict_mode" => 1], new RustRedis\SessionHandler()));
        $session->start();
        ' . $action . '
        $session->save();
        echo ob_get_clean();
    ', $ini);
}
echo "-- expired cookie\n";
$new = trim(rr_wait(symfony_service('expiredcookie0000000000000000001', '$session->set("csrf", "t"); echo $session->getId(), "\n";')));
var_dump(strlen($new) === 32 && $new !== 'expiredcookie0000000000000000001');
echo rr_wait(symfony_service($new, 'echo $session->getId() === ' . var_export($new, true) . ' ? "same id, " : "NEW ID, ", $session->get("csrf"), "\n";'));

echo "-- 5 parallel increments\n";
echo rr_wait(symfony_service($new, '$session->set("n", 0);'));
$children = [];
for ($i = 0; $i < 5; $i++) $children[] = symfony_service($new, '$n = $session->get("n"); usleep(20000); $session->set("n", $n + 1);');
$out = '';
foreach ($children as $child) $out .= rr_wait($child);
echo $out === '' ? "children ok\n" : $out;
echo rr_wait(symfony_service($new, 'echo $session->get("n"), "\n";'));

echo "-- read_and_close while another request holds the lock\n";
$holder = symfony_service($new, 'rr_cmd("SET", rr_key("held"), "1"); rr_wait_for_key("release", 20);');
var_dump(rr_wait_for_key('held'));
echo rr_wait(rr_spawn('
    session_set_save_handler(new RustRedis\SessionHandler());
    session_id(' . var_export($new, true) . ');
    var_dump(session_start(["read_and_close" => true]));
    echo "n=", $_SESSION["_sf2_attributes"]["n"], "\n";
', ['rustredis.lock_wait_ms' => '2000']));
var_dump(rr_cmd('EXISTS', rr_key($new) . '_LOCK'));
rr_cmd('SET', rr_key('release'), '1');
echo rr_wait($holder);
?>
--EXPECT--
-- expired cookie
bool(true)
same id, t
-- 5 parallel increments
children ok
5
-- read_and_close while another request holds the lock
bool(true)
bool(true)
n=5
int(1)
