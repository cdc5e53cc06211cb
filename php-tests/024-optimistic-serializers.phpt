--TEST--
Optimistic mode with session.serialize_handler=php_serialize merges key by key; with igbinary (which it cannot split) a parallel change is a whole-session conflict, never a silent loss
--FILE--
<?php
require __DIR__ . '/common.inc';

function parallel_distinct_keys(string $serializer, int $writers, array $extensions): array {
    $ini = ['rustredis.locking' => 'optimistic', 'session.serialize_handler' => $serializer];
    $id = trim(rr_wait(rr_spawn('session_start(); $_SESSION["base"] = [1, "two" => 2.5]; echo session_id(); session_write_close();', $ini, $extensions)));
    $children = [];
    for ($i = 0; $i < $writers; $i++) {
        $children[] = rr_spawn('
            $warnings = [];
            set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
            session_id(' . var_export($id, true) . ');
            session_start();
            // Barrier: everyone has read before anyone writes.
            rr_cmd("INCR", rr_key("read-' . $serializer . '"));
            rr_wait_for_count("read-' . $serializer . '", ' . $writers . ');
            $_SESSION[' . var_export("k$i", true) . '] = ["n" => ' . $i . ', "s" => "x|y;\"}"];
            session_write_close();
            $conflict = array_filter($warnings, fn($w) => str_contains($w, "write conflict"));
            echo $conflict ? preg_replace(["/.*(write conflict on session key\(s\) \\x27[^\\x27]*\\x27).*/", "/.*(write conflict on the whole session).*key by key \\(([^)]*)\\).*/"], ["$1", "$1 ($2)"], reset($conflict)) : "written", "\n";
        ', $ini, $extensions);
    }
    $outcomes = [];
    foreach ($children as $child) $outcomes[] = trim(rr_wait($child));
    $final = rr_wait(rr_spawn('session_id(' . var_export($id, true) . '); session_start(["read_and_close" => true]);
        echo json_encode(array_keys($_SESSION)), "|", json_encode($_SESSION["base"]);', $ini, $extensions));
    return [array_count_values($outcomes), $final];
}

echo "-- php_serialize: 10 parallel writers of different keys\n";
[$outcomes, $final] = parallel_distinct_keys('php_serialize', 10, []);
var_dump($outcomes);
[$keys, $base] = explode('|', $final);
$keys = json_decode($keys);
sort($keys, SORT_NATURAL);
echo implode(',', $keys), " base=$base\n";

echo "-- igbinary: 4 parallel writers of different keys\n";
[$outcomes, $final] = parallel_distinct_keys('igbinary', 4, ['igbinary']);
ksort($outcomes);
echo json_encode($outcomes), "\n";
[$keys] = explode('|', $final);
$written = $outcomes['written'] ?? 0;
echo "keys stored: ", count(json_decode($keys)) - 1, ", writes reported written: $written, conflicts: ", 4 - $written, "\n";
echo "every write either stored or reported: ", var_export(count(json_decode($keys)) - 1 === $written, true), "\n";
?>
--EXPECT--
-- php_serialize: 10 parallel writers of different keys
array(1) {
  ["written"]=>
  int(10)
}
base,k0,k1,k2,k3,k4,k5,k6,k7,k8,k9 base={"0":1,"two":2.5}
-- igbinary: 4 parallel writers of different keys
{"write conflict on the whole session (unsupported session serializer)":3,"written":1}
keys stored: 1, writes reported written: 1, conflicts: 3
every write either stored or reported: true
