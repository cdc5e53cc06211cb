<?php
// rustredis demo: a visit counter kept in $_SESSION, stored in Redis by the rustredis handler.
declare(strict_types=1);

session_start();

if (isset($_GET['reset'])) {
    session_regenerate_id(true);
    $_SESSION = [];
}
$_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;

$e = static fn ($v): string => htmlspecialchars((string) $v, ENT_QUOTES, 'UTF-8');
header('Content-Type: text/html; charset=utf-8');
?>
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>rustredis session demo</title></head>
<body>
<h1>rustredis session demo</h1>
<table>
  <tr><th align="left">Visits in this session</th><td><?= $e($_SESSION['visits']) ?></td></tr>
  <tr><th align="left">Session id</th><td><code><?= $e(session_id()) ?></code></td></tr>
  <tr><th align="left">session.save_handler</th><td><code><?= $e(ini_get('session.save_handler')) ?></code></td></tr>
  <tr><th align="left">rustredis loaded</th><td><?= extension_loaded('rustredis') ? 'yes' : 'no' ?></td></tr>
  <tr><th align="left">PHP</th><td><?= $e(PHP_VERSION) ?></td></tr>
</table>
<p><a href="/">Reload</a> &middot; <a href="/?reset=1">New session</a></p>
</body>
</html>
