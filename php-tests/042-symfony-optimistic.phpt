--TEST--
Optimistic mode merges Symfony sessions: 5 parallel requests that each set a different attribute all keep theirs (_sf2_attributes is merged one level down, _sf2_meta takes the newest), and two that change the same attribute conflict by name
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_require_symfony();
$ini = ['rustredis.locking' => 'optimistic'];
function symfony_child(string $sid, string $action, array $ini) {
    return rr_spawn('
        rr_require_symfony();
        use Symfony\Component\HttpFoundation\Session\Session;
        use Symfony\Component\HttpFoundation\Session\Storage\NativeSessionStorage;
        use Symfony\Component\HttpFoundation\Session\Storage\Handler\StrictSessionHandler;
        ob_start();
        session_id(' . var_export($sid, true) . ');
        $session = new Session(new NativeSessionStorage(["use_strict_mode" => 1], new StrictSessionHandler(new \SessionHandler())));
        $session->start();
        ' . $action . '
        $session->save();
        echo preg_replace("/ in \\S+ on line \\d+/", "", ob_get_clean());
    ', $ini);
}
$sid = trim(rr_wait(symfony_child('', '$session->set("base", 1); echo $session->getId(), "\n";', $ini)));

echo "-- 5 parallel writers of different attributes\n";
$children = [];
for ($i = 0; $i < 5; $i++) {
    // Everyone reads first, then all write at once.
    $children[] = symfony_child($sid, 'rr_cmd("INCR", rr_key("ready")); rr_wait_for_key("go"); $session->set("w' . $i . '", ' . $i . ');', $ini);
}
rr_wait_for_count('ready', 5);
rr_cmd('SET', rr_key('go'), '1');
$out = '';
foreach ($children as $child) $out .= rr_wait($child);
echo $out === '' ? "no warnings\n" : $out;
echo rr_wait(symfony_child($sid, '$all = $session->all(); ksort($all); echo json_encode($all), "\n";', $ini));

echo "-- 2 parallel writers of the same attribute\n";
rr_cmd('DEL', rr_key('go'), rr_key('ready'));
$children = [];
for ($i = 0; $i < 2; $i++) {
    $children[] = symfony_child($sid, 'rr_cmd("INCR", rr_key("ready")); rr_wait_for_key("go"); $session->set("base", ' . (10 + $i) . ');', $ini);
}
rr_wait_for_count('ready', 2);
rr_cmd('SET', rr_key('go'), '1');
$out = '';
foreach ($children as $child) $out .= rr_wait($child);
echo substr_count($out, "write conflict on session key(s) '_sf2_attributes[base]'"), " conflict named\n";
echo rr_wait(symfony_child($sid, 'echo in_array($session->get("base"), [10, 11], true) ? "one of them kept\n" : "LOST BOTH\n";', $ini));
?>
--EXPECT--
-- 5 parallel writers of different attributes
no warnings
{"base":1,"w0":0,"w1":1,"w2":2,"w3":3,"w4":4}
-- 2 parallel writers of the same attribute
1 conflict named
one of them kept
