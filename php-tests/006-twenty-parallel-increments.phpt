--TEST--
20 parallel php processes increment one session counter under the lock: the result is exactly 20
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
session_start();
$id = session_id();
$_SESSION['n'] = 0;
session_write_close();

$children = [];
for ($i = 0; $i < 20; $i++) {
    $children[] = rr_spawn('
        session_id(' . var_export($id, true) . ');
        if (!session_start()) { echo "start failed\n"; exit(1); }
        $n = $_SESSION["n"];
        usleep(5000);
        $_SESSION["n"] = $n + 1;
        echo session_write_close() ? "" : "write failed\n";
    ');
}
$output = '';
foreach ($children as $child) $output .= rr_wait($child);
echo $output === '' ? "children ok\n" : $output;
session_id($id);
session_start();
var_dump($_SESSION['n']);
session_write_close();
?>
--EXPECT--
children ok
int(20)
