--TEST--
save_path credentials: auth= (password), auth[]=user&auth[]=password and redis://user:password@ (ACL); a wrong password is a clear warning, and so is a missing one (Redis answers NOAUTH, or 'Protocol error: unauthenticated multibulk length' to a script call)
--FILE--
<?php
require __DIR__ . '/common.inc';
$dir = sys_get_temp_dir() . '/rr-auth-' . bin2hex(random_bytes(4));
mkdir($dir);
$port = (function () { $s = stream_socket_server('tcp://127.0.0.1:0'); $n = stream_socket_get_name($s, false); fclose($s); return (int)substr(strrchr($n, ':'), 1); })();
$redis = proc_open([rr_redis_server(), '--bind', '127.0.0.1', '--port', (string)$port, '--save', '', '--appendonly', 'no', '--dir', $dir,
    '--requirepass', 'default-pw', '--user', 'app', 'on', '>app pw/with:odd@chars', '~*', '&*', '+@all'],
    [1 => ['file', "$dir/log", 'w'], 2 => ['redirect', 1]], $pipes);
rr_wait_until(fn() => @stream_socket_client("tcp://127.0.0.1:$port"), 5);
rr_setup();
ob_start();
$paths = [
    'password' => "tcp://127.0.0.1:$port?auth=default-pw&prefix=auth:",
    'user and password' => "tcp://127.0.0.1:$port?auth[]=app&auth[]=app%20pw%2Fwith%3Aodd%40chars&prefix=auth:",
    'redis:// URL with ACL user' => "redis://app:app%20pw%2Fwith%3Aodd%40chars@127.0.0.1:$port/0?prefix=auth:",
];
foreach ($paths as $what => $path) {
    ini_set('session.save_path', $path);
    session_start();
    $_SESSION['who'] = $what;
    $id = session_id();
    session_write_close();
    session_id($id);
    session_start(['read_and_close' => true]);
    echo "$what: ", $_SESSION['who'] === $what ? "ok" : "FAILED", "\n";
}
ini_set('session.save_path', "tcp://127.0.0.1:$port?auth=wrong&prefix=auth:");
var_dump(session_start());
ini_set('session.save_path', "tcp://127.0.0.1:$port?prefix=auth:");
echo "-- no password: a locked start (a script call) and read_and_close (GET)\n";
var_dump(session_start());
var_dump(session_start(['read_and_close' => true]));
proc_terminate($redis, 15);
proc_close($redis);
array_map('unlink', glob("$dir/*"));
rmdir($dir);
echo preg_replace(['/ in \S+ on line \d+/', '/127\.0\.0\.1:\d+/'], ['', '127.0.0.1:PORT'], ob_get_clean());
?>
--EXPECT--
password: ok
user and password: ok
redis:// URL with ACL user: ok

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: AUTH refused (the credentials in session.save_path): WRONGPASS invalid username-password pair or user is disabled.

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:PORT?auth=wrong&prefix=auth:)
bool(false)
-- no password: a locked start (a script call) and read_and_close (GET)

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: authentication required: the server wants a password and session.save_path gives none (add auth=PASSWORD, or auth[]=USER&auth[]=PASSWORD for an ACL user)

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:PORT?prefix=auth:)
bool(false)

Warning: session_start(): rustredis: Redis at tcp://127.0.0.1:PORT failed: authentication required: the server wants a password and session.save_path gives none (add auth=PASSWORD, or auth[]=USER&auth[]=PASSWORD for an ACL user)

Warning: session_start(): Failed to read session data: rustredis (path: tcp://127.0.0.1:PORT?prefix=auth:)
bool(false)
