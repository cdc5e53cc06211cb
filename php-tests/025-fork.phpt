--TEST--
After pcntl_fork the child builds its own connections instead of sharing the parent's socket, and both keep working
--FILE--
<?php
require __DIR__ . '/common.inc';
rr_setup();
session_start();
$id = session_id();
$_SESSION['who'] = 'parent';
session_write_close();

$pid = pcntl_fork();
if ($pid === 0) {
    // Child: the pool inherited from the parent must be forgotten, not used or closed.
    for ($i = 0; $i < 20; $i++) {
        session_id($id);
        session_start();
        $_SESSION['child'] = $i;
        session_write_close();
    }
    exit(0);
}
for ($i = 0; $i < 20; $i++) {
    session_id($id);
    session_start();
    $_SESSION['parent'] = $i;
    session_write_close();
}
pcntl_waitpid($pid, $status);
var_dump(pcntl_wexitstatus($status));
session_id($id);
session_start();
var_dump($_SESSION['parent'], $_SESSION['child']);
session_write_close();
?>
--EXPECT--
int(0)
int(19)
int(19)
