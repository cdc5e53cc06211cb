--TEST--
Optimistic mode: 20 parallel increments of one key; every lost race is reported as a conflict on that key, none is lost silently
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup(['rustredis.locking' => 'optimistic']);
session_start();
$id = session_id();
$_SESSION['n'] = 0;
session_write_close();

$children = [];
for ($i = 0; $i < 20; $i++) {
    $children[] = rr_spawn('
        $warnings = [];
        set_error_handler(function ($no, $message) use (&$warnings) { $warnings[] = $message; return true; });
        session_id(' . var_export($id, true) . ');
        session_start();
        $n = $_SESSION["n"];
        usleep(50000);
        $_SESSION["n"] = $n + 1;
        session_write_close();
        $conflict = array_filter($warnings, fn($w) => str_contains($w, "write conflict on session key(s) \'n\'"));
        echo $conflict ? "conflict\n" : ($warnings ? "other: " . implode(" | ", $warnings) . "\n" : "written\n");
    ', ['rustredis.locking' => 'optimistic']);
}
$results = [];
foreach ($children as $child) $results[] = trim(rr_wait($child));
$counts = array_count_values($results);
$written = $counts['written'] ?? 0;
$conflicts = $counts['conflict'] ?? 0;
session_id($id);
session_start();
echo "reported outcomes: ", $written + $conflicts, "\n";
echo "some writes won: ", var_export($written >= 1, true), "\n";
echo "counter equals the writes that won: ", var_export($_SESSION['n'] === $written, true), "\n";
echo "every other write reported a conflict: ", var_export($conflicts === 20 - $written, true), "\n";
session_write_close();
?>
--EXPECT--
reported outcomes: 20
some writes won: true
counter equals the writes that won: true
every other write reported a conflict: true
