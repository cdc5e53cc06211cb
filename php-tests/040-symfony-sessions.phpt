--TEST--
Symfony HttpFoundation (Debian's package) over rustredis: an expired cookie gets a new session that is saved, a malformed cookie a fresh one, locking holds through StrictSessionHandler, and read_and_close stays lock-free behind it
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_require_symfony();
// One "request" of a Symfony application per child php: framework.session.handler_id: null,
// i.e. NativeSessionStorage around StrictSessionHandler(new \SessionHandler()), strict mode on.
function symfony_request(string $cookie, string $action, array $ini = []) {
    return rr_spawn('
        rr_require_symfony();
        use Symfony\Component\HttpFoundation\Session\Session;
        use Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage;
        use Symfony\Component\HttpFoundation\Session\Storage\Handler\StrictSessionHandler;
        ob_start();
        session_id(' . var_export($cookie, true) . ');
        $session = new Session(new NativeSessionStorage(["use_strict_mode" => 1], new StrictSessionHandler(new \SessionHandler())));
        $session->start();
        ' . $action . '
        $session->save();
        echo ob_get_clean();
    ', $ini);
}

foreach (['on', 'optimistic', 'off'] as $mode) {
    echo "-- rustredis.locking=$mode: a cookie whose session expired\n";
    $ini = ['rustredis.locking' => $mode];
    $expired = 'expired' . $mode . str_repeat('0', 25 - strlen($mode));
    // The login form stores a CSRF token in the session it got instead of the expired one.
    $out = rr_wait(symfony_request($expired, '
        $session->set("csrf", "token-' . $mode . '");
        echo $session->getId(), "\n";
    ', $ini));
    $new = trim($out);
    var_dump(strlen($new) === 32 && $new !== $expired, rr_cmd('EXISTS', rr_key($expired)));
    // The login POST comes back with the new cookie and finds the token.
    echo rr_wait(symfony_request($new, 'echo $session->getId() === ' . var_export($new, true) . ' ? "same id, " : "NEW ID, ", $session->get("csrf"), "\n";', $ini));
    var_dump(rr_cmd('EXISTS', rr_key($new) . '_LOCK'));
}

echo "-- a malformed cookie gets a fresh, working session (no exception, no key from the cookie)\n";
$out = rr_wait(symfony_request('bad.id!x', '$session->set("ok", 1); echo $session->getId(), "\n";'));
$fresh = trim($out);
var_dump(strlen($fresh) === 32, rr_cmd('GET', rr_key($fresh)) !== null);

echo "-- 5 parallel increments through StrictSessionHandler are exact\n";
$sid = trim(rr_wait(symfony_request('', '$session->set("n", 0); echo $session->getId(), "\n";')));
$children = [];
for ($i = 0; $i < 5; $i++) {
    $children[] = symfony_request($sid, '$n = $session->get("n"); usleep(20000); $session->set("n", $n + 1);');
}
$output = '';
foreach ($children as $child) $output .= rr_wait($child);
echo $output === '' ? "children ok\n" : $output;
echo rr_wait(symfony_request($sid, 'echo $session->get("n"), "\n";'));

echo "-- read_and_close through StrictSessionHandler does not wait for the lock\n";
$holder = symfony_request($sid, 'rr_cmd("SET", rr_key("held"), "1"); rr_wait_for_key("release", 20);');
var_dump(rr_wait_for_key('held'));
$reader = rr_spawn('
    rr_require_symfony();
    session_set_save_handler(new Symfony\Component\HttpFoundation\Session\Storage\Handler\StrictSessionHandler(new \SessionHandler()));
    session_id(' . var_export($sid, true) . ');
    var_dump(session_start(["read_and_close" => true]), session_status() === PHP_SESSION_NONE);
    echo "n=", $_SESSION["_sf2_attributes"]["n"], "\n";
', ['session.use_strict_mode' => '1', 'rustredis.lock_wait_ms' => '2000']);
echo rr_wait($reader);
var_dump(rr_cmd('EXISTS', rr_key($sid) . '_LOCK'));
rr_cmd('SET', rr_key('release'), '1');
echo rr_wait($holder);
?>
--EXPECT--
-- rustredis.locking=on: a cookie whose session expired
bool(true)
int(0)
same id, token-on
int(0)
-- rustredis.locking=optimistic: a cookie whose session expired
bool(true)
int(0)
same id, token-optimistic
int(0)
-- rustredis.locking=off: a cookie whose session expired
bool(true)
int(0)
same id, token-off
int(0)
-- a malformed cookie gets a fresh, working session (no exception, no key from the cookie)
bool(true)
bool(true)
-- 5 parallel increments through StrictSessionHandler are exact
children ok
5
-- read_and_close through StrictSessionHandler does not wait for the lock
bool(true)
bool(true)
bool(true)
n=5
int(1)
