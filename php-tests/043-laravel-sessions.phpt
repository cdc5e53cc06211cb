--TEST--
Laravel's session Store (Debian's Illuminate 8) on RustRedis\SessionHandler without session_start(): round trip with Laravel's lifetime, 20 parallel increments exact, migrate, invalidate, flash, an unchanged save renews the TTL, a request that never saves releases its lock, a failed read never clobbers
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_require_laravel();
// One Laravel request per child: what Session::extend('rustredis', fn() => new
// \RustRedis\SessionHandler([...])) gives Illuminate\Session\Store.
function laravel(string $id, string $action, array $options = []) {
    $options += ['save_path' => rr_save_path(), 'serializer' => 'php_serialize', 'ttl' => 7200];
    return rr_spawn('
        rr_require_laravel();
        $handler = new RustRedis\SessionHandler(' . var_export($options, true) . ');
        $store = new Illuminate\Session\Store("laravel_session", $handler, ' . var_export($id === '' ? null : $id, true) . ');
        $store->start();
        ' . $action . '
    ', ['session.save_handler' => 'files'], ['ctype', 'mbstring']);
}
$ttl = fn(string $id) => rr_cmd('TTL', rr_key($id));

echo "-- set, save, read back; Laravel's lifetime is the TTL\n";
$id = trim(rr_wait(laravel('', '$store->put("user", "alice"); $store->save(); echo $store->getId(), "\n";')));
var_dump(strlen($id), $ttl($id) > 7000 && $ttl($id) <= 7200);
echo rr_wait(laravel($id, 'echo $store->get("user"), "\n"; $store->save();'));
var_dump(rr_cmd('EXISTS', rr_key($id) . '_LOCK'));

echo "-- 20 parallel requests increment one counter: every increment counts\n";
echo rr_wait(laravel($id, '$store->put("n", 0); $store->save();'));
$children = [];
for ($i = 0; $i < 20; $i++) {
    $children[] = laravel($id, '$n = $store->get("n"); usleep(5000); $store->put("n", $n + 1); $store->save();');
}
$out = '';
foreach ($children as $child) $out .= rr_wait($child);
echo $out === '' ? "children ok\n" : $out;
echo rr_wait(laravel($id, 'echo $store->get("n"), "\n"; $store->save();'));

echo "-- without the lock (locking=off) two overlapping requests lose an increment, as Laravel's own drivers do\n";
rr_cmd('DEL', rr_key('go'), rr_key('ready'));
$children = [];
for ($i = 0; $i < 2; $i++) {
    $children[] = laravel($id, '$n = $store->get("n"); rr_cmd("INCR", rr_key("ready")); rr_wait_for_key("go"); $store->put("n", $n + 1); $store->save();', ['locking' => 'off']);
}
rr_wait_for_count('ready', 2);
rr_cmd('SET', rr_key('go'), '1');
foreach ($children as $child) echo rr_wait($child);
echo rr_wait(laravel($id, 'echo $store->get("n"), "\n"; $store->save();'));

echo "-- migrate(true) on login: the old id is gone, the new one saved, no lock left\n";
$new = trim(rr_wait(laravel($id, '$store->migrate(true); $store->put("user", "bob"); $store->save(); echo $store->getId(), "\n";')));
var_dump($new !== $id, rr_cmd('EXISTS', rr_key($id)), preg_grep('/_LOCK/', rr_keys()));
echo rr_wait(laravel($new, 'echo $store->get("user"), "\n"; $store->save();'));

echo "-- flash lasts one request\n";
echo rr_wait(laravel($new, '$store->flash("status", "saved"); $store->save();'));
echo rr_wait(laravel($new, 'echo $store->get("status", "-"), "\n"; $store->save();'));
echo rr_wait(laravel($new, 'echo $store->get("status", "-"), "\n"; $store->save();'));

echo "-- invalidate: a fresh id, the old data gone\n";
$fresh = trim(rr_wait(laravel($new, '$store->invalidate(); $store->save(); echo $store->getId(), "\n";')));
var_dump($fresh !== $new, rr_cmd('EXISTS', rr_key($new)));

echo "-- an unchanged save renews the TTL and keeps the data\n";
// (invalidate() flushed the CSRF token: the first request after it makes a new one)
echo rr_wait(laravel($fresh, '$store->save();'));
$before = rr_cmd('GET', rr_key($fresh));
rr_cmd('EXPIRE', rr_key($fresh), '100');
$seen = rr_monitor(function () use ($fresh) { echo rr_wait(laravel($fresh, '$store->save();')); });
var_dump($ttl($fresh) > 7000, rr_cmd('GET', rr_key($fresh)) === $before);
// Renewed by EXPIRE inside the release script; the data itself was not sent again.
$on_data = fn(string $cmd) => count(array_filter($seen, fn($c) => $c['cmd'] === $cmd
    && str_contains($c['line'], '"' . $cmd . '" "' . rr_key($fresh) . '"')));
var_dump($on_data('EXPIRE'), $on_data('SET'));

echo "-- a request that dies before save releases its lock (the object is freed)\n";
echo rr_wait(laravel($fresh, 'echo "read, no save\n"; exit(0);'));
var_dump(rr_cmd('EXISTS', rr_key($fresh) . '_LOCK'));

echo "-- a read that times out on the lock returns false and its save is refused: nothing clobbered\n";
$holder = laravel($fresh, 'rr_cmd("SET", rr_key("held"), "1"); rr_wait_for_key("release", 20); $store->save();');
var_dump(rr_wait_for_key('held'));
$out = rr_wait(laravel($fresh, '$store->put("x", "clobber"); $store->save();', ['lock_wait_ms' => '300']));
echo preg_match('/gave up waiting for the session lock/', $out) ? "lock timeout warned\n" : $out;
echo preg_match('/write skipped: reading this session failed/', $out) ? "write refused\n" : $out;
rr_cmd('SET', rr_key('release'), '1');
echo rr_wait($holder);
echo rr_wait(laravel($fresh, 'var_dump($store->has("x")); $store->save();'));
?>
--EXPECT--
-- set, save, read back; Laravel's lifetime is the TTL
int(40)
bool(true)
alice
int(0)
-- 20 parallel requests increment one counter: every increment counts
children ok
20
-- without the lock (locking=off) two overlapping requests lose an increment, as Laravel's own drivers do
21
-- migrate(true) on login: the old id is gone, the new one saved, no lock left
bool(true)
int(0)
array(0) {
}
bob
-- flash lasts one request
saved
-
-- invalidate: a fresh id, the old data gone
bool(true)
int(0)
-- an unchanged save renews the TTL and keeps the data
bool(true)
bool(true)
int(1)
int(0)
-- a request that dies before save releases its lock (the object is freed)
read, no save
int(0)
-- a read that times out on the lock returns false and its save is refused: nothing clobbered
bool(true)
lock timeout warned
write refused
bool(false)
