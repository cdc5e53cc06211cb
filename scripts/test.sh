#!/usr/bin/env bash
# The project's test command (README, .ci/run): builds the extension, starts a private Redis on a
# free loopback port, runs `cargo test` and the phpt suite against it, and stops Redis again.
# A phpt that is skipped counts as a failure: every test here needs the Redis this script starts.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d /tmp/rustredis-test.XXXXXX)
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

echo "== build"
cargo build --release
EXT="$ROOT/target/release/librustredis.so"

echo "== start redis"
PORT=$(free_port)
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --daemonize no &
REDIS_PID=$!
for _ in $(seq 1 100); do
  redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$PORT" ping >/dev/null || { echo "redis-server did not start"; cat "$WORK/redis.log"; exit 1; }
export RUSTREDIS_TEST_REDIS="tcp://127.0.0.1:$PORT"
export RUSTREDIS_EXT="$EXT"
echo "redis on $RUSTREDIS_TEST_REDIS"

echo "== cargo test"
cargo test --release

echo "== phpt"
RUN_TESTS=${RUN_TESTS:-$(php -r 'echo PHP_EXTENSION_DIR;' | sed 's#$#/build/run-tests.php#')}
[ -f "$RUN_TESTS" ] || RUN_TESTS=/usr/lib/php/$(php -r 'echo PHP_EXTENSION_DIR;' | xargs basename)/build/run-tests.php
[ -f "$RUN_TESTS" ] || { echo "run-tests.php not found (install php-dev)"; exit 1; }
# Children spawned by the tests need the same environment; keep it out of php.ini (-n).
set +e
NO_INTERACTION=1 TEST_PHP_EXECUTABLE=$(command -v php) php -n "$RUN_TESTS" -n -P -q -j2 --show-diff \
  -d "extension=$EXT" php-tests/ 2>&1 | tee "$WORK/phpt.log"
set -e
passed=$(sed -n 's/^Tests passed *: *\([0-9]*\).*/\1/p' "$WORK/phpt.log")
failed=$(sed -n 's/^Tests failed *: *\([0-9]*\).*/\1/p' "$WORK/phpt.log")
skipped=$(sed -n 's/^Tests skipped *: *\([0-9]*\).*/\1/p' "$WORK/phpt.log")
borked=$(sed -n 's/^Tests borked *: *\([0-9]*\).*/\1/p' "$WORK/phpt.log")
warned=$(sed -n 's/^Tests warned *: *\([0-9]*\).*/\1/p' "$WORK/phpt.log")
passed=${passed:-0}; failed=${failed:-0}; skipped=${skipped:-0}; borked=${borked:-0}; warned=${warned:-0}
bad=$((failed + skipped + borked + warned))
echo "phpt: skipped $skipped, borked $borked, warned (passed only on retry) $warned; each counts as failed"
echo "phpt: $passed passed, $bad failed"
if [ "$passed" -eq 0 ] || [ "$bad" -ne 0 ]; then
  exit 1
fi
