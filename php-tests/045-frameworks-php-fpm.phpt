--TEST--
Symfony and Laravel (Debian's packages) behind real php-fpm with cookies: an expired cookie's new session is saved and found again, a malformed cookie gets HTTP 200 and a fresh session, parallel increments are exact, migrate/invalidate/flash work, read_and_close through StrictSessionHandler is lock-free, optimistic merges keep every attribute
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/fastcgi.inc';
rr_require_symfony();
rr_require_laravel();
$dir = sys_get_temp_dir() . '/rr-app-' . bin2hex(random_bytes(4));
mkdir($dir);
file_put_contents("$dir/app.php", '<?php
require ' . var_export(__DIR__ . '/common.inc', true) . ';
ob_start();
parse_str($_SERVER["QUERY_STRING"], $q);
$action = $q["a"];
if ($q["fw"] === "symfony") {
    rr_require_symfony();
    if ($action === "readclose") {
        session_set_save_handler(new Symfony\Component\HttpFoundation\Session\Storage\Handler\StrictSessionHandler(new \SessionHandler()));
        session_start(["read_and_close" => true]);
        echo "token=", $_SESSION["_sf2_attributes"]["token"] ?? "-", " locked=", rr_cmd("EXISTS", rr_key(session_id()) . "_LOCK");
        return;
    }
    ini_set("rustredis.locking", $q["mode"] ?? "on");
    $session = new Symfony\Component\HttpFoundation\Session\Session(new Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage(
        ["use_strict_mode" => 1], new Symfony\Component\HttpFoundation\Session\Storage\Handler\StrictSessionHandler(new \SessionHandler())));
    $session->start();
    $get = fn($k) => $session->get($k);
    $set = fn($k, $v) => $session->set($k, $v);
    $flashes = $session->getFlashBag();
} else {
    rr_require_laravel();
    $handler = new RustRedis\SessionHandler(["serializer" => "php_serialize", "ttl" => 3600]);
    $session = new Illuminate\Session\Store("laravel_session", $handler, $_COOKIE["laravel_session"] ?? null);
    $session->start();
    $get = fn($k) => $session->get($k);
    $set = fn($k, $v) => $session->put($k, $v);
}
switch ($action) {
    case "set": $set("token", $q["v"]); break;
    case "get": echo $get("token"); break;
    case "incr": $n = $get("n") ?? 0; usleep(20000); $set("n", $n + 1); break;
    case "hold": $set("n", $get("n") ?? 0); rr_cmd("SET", rr_key("held"), "1"); rr_wait_for_key("release", 20); break;
    case "attr": rr_cmd("INCR", rr_key("ready")); rr_wait_for_key("go"); $set($q["k"], 1); break;
    case "all": $all = $q["fw"] === "symfony" ? $session->all() : $session->all(); ksort($all); echo implode(",", array_keys($all)); break;
    case "migrate": $session->migrate(true); $set("user", "bob"); break;
    case "invalidate": $session->invalidate(); break;
    case "flash": $q["fw"] === "symfony" ? $flashes->add("status", "saved") : $session->flash("status", "saved"); break;
    case "readflash": echo $q["fw"] === "symfony" ? implode(",", $flashes->get("status")) : $session->get("status", ""); echo "|"; break;
}
$session->save();
if ($q["fw"] === "laravel") setcookie("laravel_session", $session->getId());
');
$fpm = fpm_start([
    'session.save_handler' => 'rustredis', 'session.save_path' => rr_save_path(), 'session.use_strict_mode' => '1',
    'session.cache_limiter' => '', 'display_errors' => '1', 'include_path' => '.:/usr/share/php',
], 8, ['ctype', 'mbstring']);
$cookie_name = ['symfony' => 'PHPSESSID', 'laravel' => 'laravel_session'];
function request(array $fpm, string $fw, string $query, ?string $cookie) {
    global $dir, $cookie_name;
    return fcgi_send($fpm['listen'], "$dir/app.php", "fw=$fw&$query", $cookie === null ? [] : ['HTTP_COOKIE' => $cookie_name[$fw] . '=' . $cookie]);
}
function answer($sock): array {
    $r = fcgi_receive_response($sock);
    $r['cookie'] = preg_match('/^Set-Cookie: \w+=([^;\r\n]+)/mi', $r['headers'], $m) ? $m[1] : null;
    return $r;
}
function call(array $fpm, string $fw, string $query, ?string $cookie): array {
    return answer(request($fpm, $fw, $query, $cookie));
}

foreach (['symfony', 'laravel'] as $fw) {
    echo "== $fw\n";
    echo "-- a cookie whose session expired: the login form's token is saved under the new cookie\n";
    $r = call($fpm, $fw, 'a=set&v=csrf1', 'expiredsession' . str_repeat('0', 26));
    // PHP's strict mode (Symfony) replaces the unknown id; Laravel reuses any well-formed id.
    $sid = $r['cookie'];
    var_dump($r['status'], $sid === 'expiredsession' . str_repeat('0', 26) ? 'same id' : (strlen((string)$sid) >= 32 ? 'new id' : 'NO COOKIE'), $r['body']);
    $r = call($fpm, $fw, 'a=get', $sid);
    var_dump($r['status'], $r['body']);

    echo "-- a malformed cookie: HTTP 200 and a fresh session\n";
    $r = call($fpm, $fw, 'a=set&v=x', 'bad.id!x');
    var_dump($r['status'], $r['cookie'] !== null && $r['cookie'] !== 'bad.id!x', $r['body']);

    echo "-- 10 parallel increments\n";
    $socks = [];
    for ($i = 0; $i < 10; $i++) $socks[] = request($fpm, $fw, 'a=incr', $sid);
    $bodies = '';
    foreach ($socks as $sock) $bodies .= answer($sock)['body'];
    var_dump($bodies);
    call($fpm, $fw, 'a=set&v=n', $sid);
    echo "n in Redis: ", preg_match('/n";i:(\d+)|n\|i:(\d+)/', rr_cmd('GET', rr_key($sid)), $m) ? max($m[1] ?? 0, $m[2] ?? 0) : '?', "\n";

    echo "-- flash lasts one request\n";
    call($fpm, $fw, 'a=flash', $sid);
    echo call($fpm, $fw, 'a=readflash', $sid)['body'], call($fpm, $fw, 'a=readflash', $sid)['body'], "\n";

    echo "-- migrate: new id, old one gone\n";
    $r = call($fpm, $fw, 'a=migrate', $sid);
    var_dump($r['cookie'] !== null && $r['cookie'] !== $sid, rr_cmd('EXISTS', rr_key($sid)));
    $sid = $r['cookie'];
    echo "-- invalidate: new id, old one gone\n";
    $r = call($fpm, $fw, 'a=invalidate', $sid);
    var_dump($r['cookie'] !== null && $r['cookie'] !== $sid, rr_cmd('EXISTS', rr_key($sid)));
    echo "-- no lock left\n";
    var_dump(preg_grep('/_LOCK/', rr_keys()));
}

echo "== symfony: read_and_close through StrictSessionHandler while a request holds the lock\n";
$sid = call($fpm, 'symfony', 'a=set&v=1', null)['cookie'];
$holder = request($fpm, 'symfony', 'a=hold', $sid);
var_dump(rr_wait_for_key('held'));
echo call($fpm, 'symfony', 'a=readclose', $sid)['body'], "\n";
rr_cmd('SET', rr_key('release'), '1');
answer($holder);

echo "== symfony, optimistic: 5 parallel requests set different attributes\n";
$sid = call($fpm, 'symfony', 'a=set&v=1&mode=optimistic', null)['cookie'];
$socks = [];
for ($i = 0; $i < 5; $i++) $socks[] = request($fpm, 'symfony', "a=attr&k=w$i&mode=optimistic", $sid);
rr_wait_for_count('ready', 5);
rr_cmd('SET', rr_key('go'), '1');
$bodies = '';
foreach ($socks as $sock) $bodies .= answer($sock)['body'];
var_dump($bodies);
echo call($fpm, 'symfony', 'a=all&mode=optimistic', $sid)['body'], "\n";

$log = fpm_stop($fpm);
echo $log === '' ? "fpm log clean\n" : "fpm log:\n$log";
array_map('unlink', glob("$dir/*"));
rmdir($dir);
?>
--EXPECT--
== symfony
-- a cookie whose session expired: the login form's token is saved under the new cookie
int(200)
string(6) "new id"
string(0) ""
int(200)
string(5) "csrf1"
-- a malformed cookie: HTTP 200 and a fresh session
int(200)
bool(true)
string(0) ""
-- 10 parallel increments
string(0) ""
n in Redis: 10
-- flash lasts one request
saved||
-- migrate: new id, old one gone
bool(true)
int(0)
-- invalidate: new id, old one gone
bool(true)
int(0)
-- no lock left
array(0) {
}
== laravel
-- a cookie whose session expired: the login form's token is saved under the new cookie
int(200)
string(7) "same id"
string(0) ""
int(200)
string(5) "csrf1"
-- a malformed cookie: HTTP 200 and a fresh session
int(200)
bool(true)
string(0) ""
-- 10 parallel increments
string(0) ""
n in Redis: 10
-- flash lasts one request
saved||
-- migrate: new id, old one gone
bool(true)
int(0)
-- invalidate: new id, old one gone
bool(true)
int(0)
-- no lock left
array(0) {
}
== symfony: read_and_close through StrictSessionHandler while a request holds the lock
bool(true)
token=1 locked=1
== symfony, optimistic: 5 parallel requests set different attributes
string(0) ""
token,w0,w1,w2,w3,w4
fpm log clean
