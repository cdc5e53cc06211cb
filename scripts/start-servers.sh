#!/usr/bin/env bash
# Starts a Redis Cluster (3 masters, 3 replicas) or a Sentinel set (master, replica, 3 Sentinels)
# in directory $2 and leaves it running, for a test that owns its servers (the failover tests,
# which kill some): prints one `name=value` line each for the ports and the pids to stop, in
# the form scripts/lib-servers.sh knows them. The caller stops them by pid.
#   scripts/start-servers.sh cluster|sentinel DIR     (RR_REDIS_SERVER: the server binary)
set -euo pipefail
# shellcheck source=scripts/lib-servers.sh
source "$(dirname "$0")/lib-servers.sh"
[ $# -eq 2 ] || rr_die "usage: $0 cluster|sentinel DIR"
RR_TMP=$2
mkdir -p "$RR_TMP/logs"
# On failure, stop what was started; on success, leave it to the caller.
trap 'rr_stop_servers' ERR
case $1 in
cluster)
    rr_start_cluster >&2
    echo "ports=${RR_CLUSTER_PORTS[*]}"
    echo "save_path=$(rr_cluster_save_path)"
    ;;
sentinel)
    rr_start_sentinel >&2
    echo "master=$RR_SENTINEL_MASTER_PORT"
    echo "replica=$RR_SENTINEL_REPLICA_PORT"
    echo "sentinels=${RR_SENTINEL_PORTS[*]}"
    echo "save_path=$(rr_sentinel_url)"
    ;;
*) rr_die "usage: $0 cluster|sentinel DIR" ;;
esac
echo "pids=${RR_PIDS[*]}"
