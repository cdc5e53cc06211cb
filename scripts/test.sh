#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what it needs on Debian (unless
# RR_NO_INSTALL=1), builds the extension, starts a private Redis, a Redis Cluster (3 masters, 3
# replicas) and a Sentinel set (master, replica, 3 Sentinels) on free loopback ports, runs `cargo
# test` and the phpt suite against them (the core cases once per topology), and stops them again.
# A phpt that is skipped counts as a failure: every test here needs the servers this script starts.
#
# The PHP and the server under test (scripts/matrix.sh sets these for each entry of the matrix):
#   PHP=php8.4 PHP_CONFIG=php-config8.4   the PHP to build for and test with (default php, php-config)
#   RR_PHP_FPM=/usr/sbin/php-fpm8.4       its php-fpm (default: the one of PHP's version)
#   RR_REDIS_SERVER=valkey-server         the server binary (default redis-server)
#   CARGO_TARGET_DIR                      where cargo builds (one per PHP version)
#   RR_TOPOLOGIES=standalone              only the one-Redis suite: no Cluster, no Sentinel, and
#                                         the Cluster/Sentinel phpts (08*, 09*) not run; the
#                                         summary says so (default: all)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib-servers.sh
source scripts/lib-servers.sh

RR_REDIS_SERVER=${RR_REDIS_SERVER:-redis-server}
RR_TOPOLOGIES=${RR_TOPOLOGIES:-all}
case "$RR_TOPOLOGIES" in
  all | standalone) ;;
  *) rr_die "RR_TOPOLOGIES is all or standalone, not '$RR_TOPOLOGIES'" ;;
esac
if [ "${RR_NO_INSTALL:-0}" != 1 ]; then
  rr_ensure_packages "${RR_TEST_PACKAGES[@]}"
fi
# ext-php-rs wants full paths.
PHP=$(command -v "${PHP:-php}") || rr_die "${PHP:-php} not found"
PHP_CONFIG=$(command -v "${PHP_CONFIG:-php-config}") || rr_die "${PHP_CONFIG:-php-config} not found"
export PHP PHP_CONFIG
command -v cargo >/dev/null || [ -x "$HOME/.cargo/bin/cargo" ] || rr_die "cargo (Rust stable, rustup) is required"
rr_cargo_path
PHP_VERSION=$("$PHP" -n -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
RR_PHP_FPM=${RR_PHP_FPM:-$(command -v "php-fpm$PHP_VERSION" || echo "/usr/sbin/php-fpm$PHP_VERSION")}
[ -x "$RR_PHP_FPM" ] || rr_die "php-fpm for PHP $PHP_VERSION not found (set RR_PHP_FPM)"
"$PHP" -n -v | sed -n 1p
"$RR_REDIS_SERVER" --version

rr_make_tmp
trap rr_stop_servers EXIT

echo "== build"
cargo build --release
EXT="${CARGO_TARGET_DIR:-$PWD/target}/release/librustredis.so"

echo "== start $RR_REDIS_SERVER"
rr_start_redis
export RUSTREDIS_TEST_REDIS="tcp://127.0.0.1:$RR_REDIS_PORT"
export RUSTREDIS_EXT="$EXT" RUSTREDIS_REDIS_SERVER="$RR_REDIS_SERVER" RUSTREDIS_PHP_FPM="$RR_PHP_FPM"
echo "redis on $RUSTREDIS_TEST_REDIS"
# A Redis Cluster (3 masters, 3 replicas) and a Sentinel set (master, replica, 3 Sentinels), for
# the cluster and Sentinel tests and the second and third runs of the core tests below.
# The failover tests (php-tests/09*) write what they measured here; it is shown at the end.
export RUSTREDIS_FAILOVER_REPORT="$RR_TMP/failover-report.txt"
TOPOLOGIES=()
if [ "$RR_TOPOLOGIES" = all ]; then
  TOPOLOGIES=(cluster sentinel)
  rr_start_cluster
  rr_start_sentinel
  RUSTREDIS_TEST_CLUSTER=$(rr_cluster_save_path)
  RUSTREDIS_TEST_CLUSTER_URL=$(rr_cluster_url)
  RUSTREDIS_TEST_SENTINEL=$(rr_sentinel_url)
  export RUSTREDIS_TEST_CLUSTER RUSTREDIS_TEST_CLUSTER_URL RUSTREDIS_TEST_SENTINEL
  echo "cluster: $RUSTREDIS_TEST_CLUSTER"
  echo "sentinel: $RUSTREDIS_TEST_SENTINEL"
fi

echo "== cargo test"
# The dev profile: the release profile's LTO made compiling the test binaries most of this
# script's time, once per PHP of the matrix. (The extension under test above is the release build.)
cargo test

echo "== phpt"
RUN_TESTS=${RUN_TESTS:-$("$PHP_CONFIG" --extension-dir)/build/run-tests.php}
[ -f "$RUN_TESTS" ] || RUN_TESTS=$("$PHP_CONFIG" --prefix)/lib/php/build/run-tests.php
[ -f "$RUN_TESTS" ] || rr_die "run-tests.php not found (install php-dev or set RUN_TESTS)"
PHP_BIN=$PHP
# Children spawned by the tests need the same environment; keep it out of php.ini (-n).
set +e
run_phpt() {
  NO_INTERACTION=1 TEST_PHP_EXECUTABLE=$PHP_BIN "$PHP_BIN" -n "$RUN_TESTS" -n -P -q -j2 --set-timeout 300 --show-diff \
    -d "extension=$EXT" "$@" 2>&1
}
# A test that mostly sleeps (051: a 60 s request) runs in a run-tests of its own beside the
# others: run-tests hands each of its two workers half the tests up front, so in their batch it
# would keep one worker busy for a minute while the other's half waits behind it.
BESIDE_PHPT=(php-tests/051-*.phpt)
phpt=()
for file in php-tests/*.phpt; do
  [[ " ${BESIDE_PHPT[*]} " != *" $file "* ]] || continue
  # With one Redis only: not the Cluster and Sentinel tests, which need the servers not started.
  [ "$RR_TOPOLOGIES" = all ] || [[ "$file" != php-tests/0[89]* ]] || continue
  phpt+=("$file")
done
# run-tests.php writes and deletes a scratch file beside itself (run-test-info.php) as it starts:
# the run beside the others uses a copy of its own, so the two never share that file.
mkdir -p "$RR_TMP/beside"
cp "$RUN_TESTS" "$RR_TMP/beside/run-tests.php"
RUN_TESTS=$RR_TMP/beside/run-tests.php run_phpt "${BESIDE_PHPT[@]}" >"$RR_TMP/phpt-beside.log" &
beside=$!
run_phpt "${phpt[@]}" | tee "$RR_TMP/phpt.log"
wait "$beside"
echo "== phpt run beside the others: ${BESIDE_PHPT[*]}"
cat "$RR_TMP/phpt-beside.log"
: >"$RR_TMP/phpt-topologies.log"
# The core cases once more on the cluster and on the Sentinel master (common.inc reads
# RUSTREDIS_TEST_TOPOLOGY): locking, 20 parallel increments, read_and_close, optimistic writes,
# strict mode, regenerate and destroy, lost locks.
CORE_PHPT=(001 003 004 005 006 007 017 020 021)
for topology in "${TOPOLOGIES[@]}"; do
  echo "== phpt, core cases on $topology"
  files=()
  for n in "${CORE_PHPT[@]}"; do files+=(php-tests/"$n"-*.phpt); done
  RUSTREDIS_TEST_TOPOLOGY=$topology run_phpt "${files[@]}" | tee -a "$RR_TMP/phpt-topologies.log"
done
set -e
# A thread-safe PHP with the embed SAPI also runs requests on several threads of one process, as
# FrankenPHP does (tests/zts-embed).
embed_ok=1
if [ "$("$PHP" -n -r 'echo PHP_ZTS ? 1 : 0;')" = 1 ]; then
  echo "== threads of one process (embed SAPI)"
  PHP_CONFIG=$PHP_CONFIG tests/zts-embed/run.sh || embed_ok=0
fi
PHPT_LOGS=("$RR_TMP/phpt.log" "$RR_TMP/phpt-beside.log" "$RR_TMP/phpt-topologies.log")
count() {
  sed -n "s/^Tests $1 *: *\([0-9]*\).*/\1/p" "${PHPT_LOGS[@]}" |
    awk '{ n += $1 } END { print n + 0 }'
}
passed=$(count passed); failed=$(count failed); skipped=$(count skipped); borked=$(count borked); warned=$(count warned)
# Every run reports its counts; a run that reported none (it crashed) counts as failed.
runs=$(grep -c '^Tests passed' "${PHPT_LOGS[@]}" | awk -F: '{ n += $2 } END { print n + 0 }')
[ "$runs" -eq $((2 + ${#TOPOLOGIES[@]})) ] || failed=$((failed + 1))
if [ -s "$RUSTREDIS_FAILOVER_REPORT" ]; then
  echo "== failovers (acknowledged writes, and how many of them the failover lost)"
  cat "$RUSTREDIS_FAILOVER_REPORT"
fi
bad=$((failed + skipped + borked + warned))
echo "phpt: skipped $skipped, borked $borked, warned (passed only on retry) $warned; each counts as failed"
echo "phpt: $passed passed, $bad failed"
if [ "$RR_TOPOLOGIES" = standalone ]; then
  echo "phpt: one Redis only (RR_TOPOLOGIES=standalone): no Cluster or Sentinel test ran here"
fi
if [ "$passed" -eq 0 ] || [ "$bad" -ne 0 ] || [ "$embed_ok" -ne 1 ]; then
  exit 1
fi
