#!/usr/bin/env bash
# rustredis benchmark: rustredis (locked, off, read_and_close, optimistic) against phpredis from
# Debian (locking off, locking on at its defaults, locking on tuned to wait) and PHP's files
# handler, side by side in one run; section 9 on a Redis Cluster and a Sentinel set, against
# phpredis's rediscluster handler (BENCH_SECTIONS=9 runs just that). Prints the tables and
# writes bench/RESULTS.md.
#
#   bench/run.sh
#
# Knobs (environment): BENCH_WRK_SECONDS (8), BENCH_WRK_CONNECTIONS (16), BENCH_CYCLES (1000),
# BENCH_RUNS (5), BENCH_HANDOFF_ROUNDS (100), BENCH_READER_ROUNDS (15), BENCH_PIN_CPU (the last
# CPU; "off" to not pin the latency sections), BENCH_SECTIONS ("2 5": only those, no report written), BENCH_BUILD=head
# (benchmark the committed HEAD, built from a clean export, not the working tree); RR_SO_GIVEN=path
# benchmarks an already built .so instead of running cargo. Takes about 8 minutes on 2 cores.
#
# Redis, php-fpm and nginx are private copies on free 127.0.0.1 ports (configs in a temp dir),
# started here and stopped on exit; system services are never touched. Not run by CI.
set -euo pipefail

# shellcheck source=scripts/lib-servers.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib-servers.sh"

rr_ensure_runtime wrk
rr_cargo_path
commit=$(git -C "$RR_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "${RR_SO_GIVEN:-}" ]; then
    # RR_SO_GIVEN=/path/to/librustredis.so benchmarks that build as it is (no cargo).
    RR_SO=$RR_SO_GIVEN
    [ -f "$RR_SO" ] || rr_die "RR_SO_GIVEN=$RR_SO does not exist"
    export RR_BUILD_INFO="given as RR_SO_GIVEN=$RR_SO"
elif [ "${BENCH_BUILD:-}" = head ]; then
    # BENCH_BUILD=head: build the committed HEAD from a clean export, so uncommitted edits in the
    # working tree do not end up in the figures (own target dir: target/bench-head).
    export_dir=$RR_ROOT/target/bench-head-src
    rm -rf "$export_dir" && mkdir -p "$export_dir"
    git -C "$RR_ROOT" archive HEAD | tar -x -C "$export_dir"
    rr_log "building commit $commit: cargo build --release (clean export)"
    (cd "$export_dir" && CARGO_TARGET_DIR="$RR_ROOT/target/bench-head" cargo build --release >&2) || {
        rm -rf "$export_dir"
        rr_die "cargo build of commit $commit failed"
    }
    rm -rf "$export_dir"
    RR_SO=$RR_ROOT/target/bench-head/release/librustredis.so
    export RR_BUILD_INFO="cargo build --release of commit $commit (clean export, BENCH_BUILD=head)"
else
    # Build when cargo is there (a no-op when nothing changed), so the figures are for src/ as it is.
    if command -v cargo >/dev/null; then RR_REBUILD=1; fi
    rr_ensure_extension
    dirty=$(git -C "$RR_ROOT" status --porcelain -- src Cargo.toml Cargo.lock build.rs 2>/dev/null)
    export RR_BUILD_INFO="cargo build --release of commit $commit${dirty:+ plus uncommitted changes in src/}"
fi

# Section 8's delay proxy (examples/delay_proxy.rs); without cargo the section says it is skipped.
if command -v cargo >/dev/null; then
    # A target directory of its own: an example is built with the dev-dependencies, whose
    # features would rebuild (and replace) the librustredis.so under test.
    (cd "$RR_ROOT" && CARGO_TARGET_DIR="$RR_ROOT/target/delay-proxy" cargo build --release --example delay_proxy >&2) ||
        rr_die "cargo build of the delay proxy failed"
fi

trap rr_stop_servers EXIT
trap 'exit 130' INT TERM
rr_make_tmp
rr_start_redis
# Section 9: a Redis Cluster (3 masters, 3 replicas) and a Sentinel set (master, replica, 3
# Sentinels), started before php-fpm so that its workers get their save_paths; its failover
# rounds (bench/failover.php, php-tests/failover.inc) start servers of their own to kill.
sections=${BENCH_SECTIONS:-}
if [ -z "${sections// /}" ] || [[ " ${sections//,/ } " == *" 9 "* ]]; then
    rr_start_cluster
    rr_start_sentinel
    RR_CLUSTER_SAVE_PATH=$(rr_cluster_save_path)
    RR_SENTINEL_SAVE_PATH=$(rr_sentinel_url)
    # The names php-tests/*.inc read (as scripts/test.sh sets them).
    export RR_CLUSTER_SAVE_PATH RR_SENTINEL_SAVE_PATH RUSTREDIS_EXT=$RR_SO RUSTREDIS_PHP_FPM=php-fpm8.2 \
        RUSTREDIS_REDIS_SERVER=${RR_REDIS_SERVER:-redis-server}
fi
rr_start_fpm 24
rr_start_nginx "$RR_ROOT/scripts/demo-www"

# The exact command, with the knobs that were set, for RESULTS.md.
command=$(env | grep -E '^(BENCH_[A-Z_]+|RR_SO_GIVEN)=' | sort | tr '\n' ' ' || true)
RR_COMMAND="${command}bench/run.sh" rr_php "$RR_ROOT/bench/bench.php"
