#!/usr/bin/env bash
# rustredis demo: one browser session fires 10 parallel AJAX requests that each wait 300 ms on a
# slow back end and write one thing to the session. For PHP's files handler, phpredis with
# locking, and rustredis (locked, read_and_close, optimistic) it prints the total wall time, a
# waterfall of the ten requests and whether any write was lost.
#
#   scripts/demo.sh            run it in the terminal, then stop everything
#   scripts/demo.sh --serve    also keep the servers up (DEMO_SERVE_SECONDS, default 900) so the
#                              same case can be run from a browser at the printed address
#
# On a fresh Debian 12 it installs php-cli php-fpm php-redis redis-server nginx if missing and
# builds the extension with cargo if target/release/librustredis.so is missing. Redis, php-fpm and
# nginx are private copies on free 127.0.0.1 ports with their own configs in a temp dir; every one
# of them is stopped on exit. System services are never touched.
set -euo pipefail

# shellcheck source=scripts/lib-servers.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib-servers.sh"

serve=0
case "${1:-}" in
    --serve) serve=1 ;;
    "") ;;
    *) rr_die "usage: $0 [--serve]" ;;
esac

rr_ensure_runtime
rr_ensure_extension

trap rr_stop_servers EXIT
trap 'exit 130' INT TERM
rr_make_tmp
rr_start_redis
rr_start_fpm 16
rr_start_nginx "$RR_ROOT/scripts/demo-www"

rr_php "$RR_ROOT/scripts/demo.php" "${DEMO_N:-10}" "${DEMO_MS:-300}"

if [ "$serve" -eq 1 ]; then
    seconds=${DEMO_SERVE_SECONDS:-900}
    echo
    echo "Browser demo: http://127.0.0.1:$RR_HTTP_PORT/  (loopback only; ssh -L $RR_HTTP_PORT:127.0.0.1:$RR_HTTP_PORT to view it remotely)"
    echo "Serving for $seconds s; Ctrl-C stops every server now."
    sleep "$seconds" &
    RR_PIDS+=($!)
    wait $! || true
fi
