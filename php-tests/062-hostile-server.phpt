--TEST--
A hostile RESP server (hostile-server.inc): garbage, truncated replies, every wrong reply type in every slot of the pipelined acquire and of the acquire script (session_start), GET (read_and_close) and the write script, a RESP3 double for an integer, short tables, a stray reply, huge declared lengths, silence, and the same in the handshake (AUTH): each request ends with one rustredis warning, session_start fails (the write fails), no forged data reaches $_SESSION, no write follows, memory stays under 64 MB, nothing crashes, panics or hangs
--FILE--
<?php
require __DIR__ . '/common.inc';
require __DIR__ . '/hostile.inc';
$server = rr_hostile_start();
$modes = ['garbage', 'truncated', 'status', 'okay', 'integer', 'array', 'intbytes', 'nestederror', 'double', 'short', 'stray', 'silence'];
$cases = [];
foreach (['pipeline', 'acquire', 'get', 'write'] as $slot) {
    foreach ($modes as $mode) $cases[] = [$slot, $mode];
}
// {1} is the write script's own OK; for acquire and GET it is a short reply.
$cases[] = ['acquire', 'shortok'];
$cases[] = ['get', 'shortok'];
// {LOST, 1.5}: a double where the lock-exists flag belongs.
$cases[] = ['write', 'lostdouble'];
// A declared length of a TB, or 100 million elements, and then nothing: nothing is allocated for
// it ahead, and the read timeout ends the wait.
foreach (['acquire', 'get', 'write'] as $slot) {
    $cases[] = [$slot, 'hugebulk'];
    $cases[] = [$slot, 'hugearray'];
}
foreach (['garbage', 'status', 'truncated', 'silence'] as $mode) $cases[] = ['auth', $mode];
foreach ($cases as [$slot, $mode]) {
    echo rr_hostile_verdict($server, $slot, $mode, rr_hostile_run($server, $slot, $mode)), "\n";
}

// One process, two requests: the connection that carried a malformed reply (here a stray +OK
// before the real reply, which stays unread) is closed, not pooled for the next request.
$tag = bin2hex(random_bytes(4));
$child = rr_spawn('
    ob_start();
    session_id("acquire-stray-' . $tag . '");
    $first = session_start();
    session_id("plain-fine-' . $tag . '");
    $second = session_start(["read_and_close" => true]);
    ob_end_clean();
    echo json_encode([$first, $second, $_SESSION]), "\n";
', ['session.save_path' => "tcp://127.0.0.1:{$server['port']}?prefix=H:&read_timeout=0.5"]);
echo 'stray, then a good request: ', trim(rr_wait($child)), "\n";
$connection = [];
foreach (file($server['log']) as $line) {
    if (preg_match("/^(\d+) (acquire|get) (\w+)-\w+-$tag\$/", trim($line), $m)) $connection[$m[2]] = $m[1];
}
echo 'the good request came on a new connection: ', json_encode(count($connection) === 2 && $connection['acquire'] !== $connection['get']), "\n";
rr_hostile_stop($server);
?>
--EXPECT--
pipeline/garbage: Redis at tcp://127.0.0.1:PORT failed: unreadable reply, not RESP (Parse error at 1; Unexpected `2`; Unexpected `1`); the connection was closed
pipeline/truncated: Redis at tcp://127.0.0.1:PORT failed: the connection was closed or reset before a complete reply arrived (unexpected end of file)
pipeline/status: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, status(15 bytes), int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/okay: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, status OK, int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/integer: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, int 7, int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/array: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, [bulk(15 bytes)], int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/intbytes: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, [int 120, int 124, int 115, int 58, int 54, int 58, int 34, int 102, … 7 more], int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/nestederror: Redis at tcp://127.0.0.1:PORT failed: Pipeline failure: [(Index 1, error: ResponseError: nested)]
pipeline/double: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, double, int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/short: Redis at tcp://127.0.0.1:PORT failed: the pipelined acquire answered [status OK, [], int 2000, bulk(60 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/stray: Redis at tcp://127.0.0.1:PORT failed: more bytes arrived than the 4 replies asked for (a stray reply: is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
pipeline/silence: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
acquire/garbage: Redis at tcp://127.0.0.1:PORT failed: unreadable reply, not RESP (Parse error at 1; Unexpected `2`; Unexpected `1`); the connection was closed
acquire/truncated: Redis at tcp://127.0.0.1:PORT failed: the connection was closed or reset before a complete reply arrived (unexpected end of file)
acquire/status: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 1, status(15 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/okay: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 1, status OK] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/integer: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 1, int 7] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/array: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 1, [bulk(15 bytes)]] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/intbytes: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 1, [int 120, int 124, int 115, int 58, int 54, int 58, int 34, int 102, … 7 more]] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/nestederror: Redis at tcp://127.0.0.1:PORT failed: ResponseError: nested
acquire/double: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [double, bulk(15 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/short: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 2] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/stray: Redis at tcp://127.0.0.1:PORT failed: more bytes arrived than the one reply asked for (a stray reply: is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/silence: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
get/garbage: Redis at tcp://127.0.0.1:PORT failed: unreadable reply, not RESP (Parse error at 1; Unexpected `2`; Unexpected `1`); the connection was closed
get/truncated: Redis at tcp://127.0.0.1:PORT failed: the connection was closed or reset before a complete reply arrived (unexpected end of file)
get/status: Redis at tcp://127.0.0.1:PORT failed: GET answered status(15 bytes) (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/okay: Redis at tcp://127.0.0.1:PORT failed: GET answered status OK (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/integer: Redis at tcp://127.0.0.1:PORT failed: GET answered int 7 (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/array: Redis at tcp://127.0.0.1:PORT failed: GET answered [bulk(15 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/intbytes: Redis at tcp://127.0.0.1:PORT failed: GET answered [int 120, int 124, int 115, int 58, int 54, int 58, int 34, int 102, … 7 more] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/nestederror: Redis at tcp://127.0.0.1:PORT failed: ResponseError: nested
get/double: Redis at tcp://127.0.0.1:PORT failed: GET answered double (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/short: Redis at tcp://127.0.0.1:PORT failed: GET answered [] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/stray: Redis at tcp://127.0.0.1:PORT failed: more bytes arrived than the one reply asked for (a stray reply: is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/silence: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
write/garbage: Redis at tcp://127.0.0.1:PORT failed: unreadable reply, not RESP (Parse error at 1; Unexpected `2`; Unexpected `1`); the connection was closed
write/truncated: Redis at tcp://127.0.0.1:PORT failed: the connection was closed or reset before a complete reply arrived (unexpected end of file)
write/status: Redis at tcp://127.0.0.1:PORT failed: the write script answered status(15 bytes) (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/okay: Redis at tcp://127.0.0.1:PORT failed: the write script answered status OK (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/integer: Redis at tcp://127.0.0.1:PORT failed: the write script answered int 7 (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/array: Redis at tcp://127.0.0.1:PORT failed: the write script answered [bulk(15 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/intbytes: Redis at tcp://127.0.0.1:PORT failed: the write script answered [int 120, int 124, int 115, int 58, int 54, int 58, int 34, int 102, … 7 more] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/nestederror: Redis at tcp://127.0.0.1:PORT failed: ResponseError: nested
write/double: Redis at tcp://127.0.0.1:PORT failed: the write script answered [double, bulk(15 bytes)] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/short: Redis at tcp://127.0.0.1:PORT failed: the write script answered [int 2] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/stray: Redis at tcp://127.0.0.1:PORT failed: more bytes arrived than the one reply asked for (a stray reply: is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/silence: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
acquire/shortok: Redis at tcp://127.0.0.1:PORT failed: the acquire script answered [int 1] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
get/shortok: Redis at tcp://127.0.0.1:PORT failed: GET answered [int 1] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
write/lostdouble: Redis at tcp://127.0.0.1:PORT failed: the write script answered [int 3, double] (not a reply Redis gives to rustredis; is session.save_path a Redis server, or is something between rustredis and Redis?); the connection was closed
acquire/hugebulk: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
acquire/hugearray: Redis at tcp://127.0.0.1:PORT failed: reply with more than 1024 elements, more than any command of a session handler gets (is this a Redis server?); stopped reading it and closed the connection
get/hugebulk: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
get/hugearray: Redis at tcp://127.0.0.1:PORT failed: reply with more than 1024 elements, more than any command of a session handler gets (is this a Redis server?); stopped reading it and closed the connection
write/hugebulk: Redis at tcp://127.0.0.1:PORT failed: no complete reply within 500 ms (rustredis.read_timeout_ms, or read_timeout in session.save_path)
write/hugearray: Redis at tcp://127.0.0.1:PORT failed: reply with more than 1024 elements, more than any command of a session handler gets (is this a Redis server?); stopped reading it and closed the connection
auth/garbage: Redis at tcp://127.0.0.1:PORT failed: unreadable reply, not RESP (Parse error at 1; Unexpected `2`; Unexpected `1`); the connection was closed
auth/status: Redis at tcp://127.0.0.1:PORT failed: AUTH refused (the credentials in session.save_path): an unexpected reply, [status(15 bytes)]
auth/truncated: Redis at tcp://127.0.0.1:PORT failed: the connection was closed or reset before a complete reply arrived (unexpected end of file)
auth/silence: Redis at tcp://127.0.0.1:PORT failed: AUTH/SELECT after connecting timed out: connecting took longer than 500 ms (rustredis.connect_timeout_ms, or timeout in session.save_path)
stray, then a good request: [false,true,[]]
the good request came on a new connection: true
