--TEST--
rustredis.compression: lz4 and zstd sessions carry a header, read back with compression off (any mix reads back), a corrupt header is a warning and a fresh session, and optimistic merges work on compressed sessions
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
ob_start();
// A shop cart: 300 product rows.
$cart = [];
for ($i = 0; $i < 300; $i++) {
    $cart[] = ['sku' => sprintf('SKU-%06d', $i), 'name' => "Product number $i", 'price' => 19.99 + $i, 'qty' => 1 + $i % 3];
}
function store(string $id, array $ini, array $data): void {
    foreach ($ini as $k => $v) ini_set($k, $v);
    session_id($id);
    session_start();
    $_SESSION = $data;
    session_write_close();
}
function load(string $id, array $ini): array {
    foreach ($ini as $k => $v) ini_set($k, $v);
    session_id($id);
    session_start(['read_and_close' => true]);
    return $_SESSION;
}
foreach (['lz4', 'zstd'] as $algo) {
    echo "-- $algo\n";
    $id = "compressed-$algo-" . bin2hex(random_bytes(4));
    store($id, ['rustredis.compression' => $algo], ['cart' => $cart]);
    $stored = rr_cmd('GET', rr_key($id));
    var_dump(substr($stored, 0, 6) === "\0RRC1" . ($algo === 'lz4' ? '4' : 'z'));
    $_SESSION = ['cart' => $cart];
    $plain = session_encode();
    $_SESSION = [];
    printf("stored %s of the plain size\n", strlen($stored) < strlen($plain) / 3 ? 'under a third' : strlen($stored) . '/' . strlen($plain));
    var_dump(load($id, ['rustredis.compression' => 'none']) === ['cart' => $cart]);
}
echo "-- below the threshold a session stays plain\n";
store('small-' . bin2hex(random_bytes(4)), ['rustredis.compression' => 'zstd'], ['n' => 1]);
var_dump(rr_cmd('GET', rr_key(session_id())));
echo "-- a corrupt header: a warning, and a fresh session that saves again\n";
$id = 'corrupt-' . bin2hex(random_bytes(4));
rr_cmd('SET', rr_key($id), "\0RRC1z" . pack('V', 1000) . 'not zstd at all');
ini_set('rustredis.compression', 'none');
session_id($id);
var_dump(session_start(), $_SESSION);
$_SESSION['fresh'] = true;
session_write_close();
var_dump(rr_cmd('GET', rr_key($id)));
echo "-- optimistic, compressed: two writers of different keys both land\n";
$id = 'merge-' . bin2hex(random_bytes(4));
store($id, ['rustredis.compression' => 'lz4', 'rustredis.locking' => 'optimistic'], ['cart' => $cart]);
$other = rr_spawn('
    session_id(' . var_export($id, true) . ');
    session_start();
    rr_cmd("SET", rr_key("read"), "1");
    rr_wait_for_key("written");
    $_SESSION["theirs"] = 1;
    session_write_close();
    echo "other done\n";
', ['rustredis.compression' => 'lz4', 'rustredis.locking' => 'optimistic']);
rr_wait_for_key('read');
session_id($id);
session_start();
$_SESSION['mine'] = 1;
session_write_close();
rr_cmd('SET', rr_key('written'), '1');
echo rr_wait($other);
$final = load($id, []);
var_dump($final['mine'] ?? null, $final['theirs'] ?? null, $final['cart'] === $cart);
echo preg_replace('/ in \S+ on line \d+/', '', ob_get_clean());
?>
--EXPECT--
-- lz4
bool(true)
stored under a third of the plain size
bool(true)
-- zstd
bool(true)
stored under a third of the plain size
bool(true)
-- below the threshold a session stays plain
string(6) "n|i:1;"
-- a corrupt header: a warning, and a fresh session that saves again

Warning: session_start(): rustredis: the stored session is marked compressed but does not decompress (Unknown frame descriptor); this request starts with an empty session (its next write replaces the stored one)
bool(true)
array(0) {
}
string(10) "fresh|b:1;"
-- optimistic, compressed: two writers of different keys both land
other done
int(1)
int(1)
bool(true)
