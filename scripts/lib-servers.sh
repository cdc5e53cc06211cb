# shellcheck shell=bash
# Shared by scripts/demo.sh and bench/run.sh (source it, then `trap rr_stop_servers EXIT`).
#
# Installs what is missing, builds the extension if needed, and starts private copies of Redis,
# php-fpm and nginx: loopback or unix sockets only, every config, log, pid and socket in one temp
# dir, never a system service. rr_stop_servers stops exactly the processes started here.

RR_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RR_SO=${RR_SO:-$RR_ROOT/target/release/librustredis.so}
RR_TMP=""
RR_PIDS=()
RR_REDIS_PORT=""
RR_HTTP_PORT=""

# What scripts/test.sh needs on Debian 12 (build, servers, phpredis, Symfony for the framework tests).
RR_TEST_PACKAGES=(php-dev php-cli php-fpm php-redis redis-server redis-tools libclang-dev clang g++
    libssl-dev openssl pkg-config python3 php-symfony-http-foundation php-illuminate-session)

rr_log() { printf '%s\n' "$*" >&2; }
rr_die() {
    rr_log "error: $*"
    exit 1
}

rr_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the Debian packages given that are not installed yet. A temporary policy-rc.d keeps
# apt from starting (or restarting) their system services: we only ever run private copies.
rr_ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    rr_log "installing: ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | rr_as_root tee "$policy" >/dev/null
        rr_as_root chmod 755 "$policy"
        made_policy=1
    fi
    local rc=0
    rr_as_root apt-get update -qq && rr_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" || rc=$?
    [ "$made_policy" -eq 1 ] && rr_as_root rm -f "$policy"
    [ "$rc" -eq 0 ] || rr_die "apt-get install ${missing[*]} failed"
}

# The runtime every script needs: PHP CLI + FPM with phpredis, Redis, nginx.
rr_ensure_runtime() {
    rr_ensure_packages php-cli php-fpm php-redis redis-server nginx "$@"
    for cmd in php php-fpm8.2 redis-server redis-cli nginx; do
        command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] || rr_die "$cmd not found after installing"
    done
}

# Puts rustup's cargo on PATH, once: ext-php-rs's build script reruns (rebuilding the extension)
# whenever PATH differs between two cargo runs. scripts/package-deb.sh and fuzz-smoke.sh do the same.
rr_cargo_path() {
    case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ ! -x "$HOME/.cargo/bin/cargo" ] || PATH="$HOME/.cargo/bin:$PATH" ;; esac
}

# Builds librustredis.so unless it exists (RR_REBUILD=1 forces cargo, which is incremental anyway).
rr_ensure_extension() {
    if [ -f "$RR_SO" ] && [ "${RR_REBUILD:-0}" != 1 ]; then return 0; fi
    rr_ensure_packages php8.2-dev build-essential clang libclang-dev libssl-dev pkg-config curl ca-certificates
    rr_cargo_path
    if ! command -v cargo >/dev/null; then
        rr_log "installing Rust with rustup (Debian's cargo is too old for this crate)"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >&2
        PATH="$HOME/.cargo/bin:$PATH"
    fi
    rr_log "building the extension: cargo build --release"
    (cd "$RR_ROOT" && cargo build --release >&2) || rr_die "cargo build failed"
    [ -f "$RR_SO" ] || rr_die "$RR_SO was not built"
}

rr_make_tmp() {
    RR_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rustredis-XXXXXX")
    chmod 755 "$RR_TMP"
    # conf.d stays empty: PHP_INI_SCAN_DIR points there so /etc/php/*/conf.d is not read.
    mkdir -p "$RR_TMP/sessions" "$RR_TMP/logs" "$RR_TMP/conf.d"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
rr_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A TCP port on 127.0.0.1 that nothing listens on: random, below the kernel's ephemeral range
# (outgoing connections, e.g. wrk's, hold ports there that a server could not bind).
rr_free_port() {
    local try port low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$low" -gt 12000 ] || low=32768
    for try in $(seq 1 50); do
        port=$((10000 + RANDOM % (low - 10000)))
        if ! rr_port_open "$port"; then
            echo "$port"
            return 0
        fi
    done
    rr_die "no free port found"
}

# Waits (bounded, 15 s) until "$@" succeeds for the server started last. Returns 1, forgetting
# it, when that server exits first (its port was taken in the meantime: the caller retries).
rr_wait_ready() {
    local what=$1 pid=${RR_PIDS[-1]} try
    shift
    for try in $(seq 1 300); do
        "$@" >/dev/null 2>&1 && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            unset 'RR_PIDS[-1]'
            rr_log "$what exited at startup; retrying"
            return 1
        fi
        sleep 0.05
    done
    tail -n 5 "$RR_TMP"/logs/* >&2 2>/dev/null || true
    rr_die "$what did not come up"
}

rr_start_redis() {
    local attempt
    mkdir -p "$RR_TMP/redis"
    for attempt in 1 2 3; do
        RR_REDIS_PORT=$(rr_free_port)
        cat >"$RR_TMP/redis.conf" <<EOF
bind 127.0.0.1
port $RR_REDIS_PORT
protected-mode yes
daemonize no
save ""
appendonly no
dir $RR_TMP/redis
logfile $RR_TMP/logs/redis.log
EOF
        "${RR_REDIS_SERVER:-redis-server}" "$RR_TMP/redis.conf" &
        RR_PIDS+=($!)
        rr_wait_ready "redis-server" rr_redis ping && return 0
    done
    tail -n 5 "$RR_TMP/logs/redis.log" >&2 2>/dev/null || true
    rr_die "redis-server would not start"
}

# redis-cli, or valkey-cli where only Valkey is installed.
rr_cli() {
    if command -v redis-cli >/dev/null; then redis-cli "$@"; else valkey-cli "$@"; fi
}

rr_redis() { rr_cli -p "$RR_REDIS_PORT" "$@"; }

# A free port P on 127.0.0.1 whose cluster bus port P+10000 is free too.
rr_free_cluster_port() {
    local try port
    for try in $(seq 1 50); do
        port=$((10000 + RANDOM % 10000))
        if ! rr_port_open "$port" && ! rr_port_open $((port + 10000)); then
            echo "$port"
            return 0
        fi
    done
    rr_die "no free cluster port found"
}

RR_CLUSTER_PORTS=()
RR_SENTINEL_PORTS=()
RR_SENTINEL_MASTER_PORT=""
RR_SENTINEL_REPLICA_PORT=""

# Starts one more server (RR_REDIS_SERVER: redis-server or valkey-server) named $1 on port $2,
# its files under $RR_TMP/$1, with the extra config lines $3; returns 1 when it exits at startup
# (its port was taken meanwhile). $4 = sentinel starts it in Sentinel mode. Never call it in a
# pipeline: the pid it records (RR_PIDS, to stop it) would be lost with the subshell.
rr_start_node() {
    local name=$1 port=$2 config=$3 mode=${4:-}
    mkdir -p "$RR_TMP/$name"
    {
        echo "bind 127.0.0.1"
        echo "port $port"
        echo "daemonize no"
        echo "dir $RR_TMP/$name"
        echo "logfile $RR_TMP/logs/$name.log"
        # No persistence; replicas sync at once (Redis waits 5 s by default for more of them).
        [ "$mode" = sentinel ] || printf 'save ""\nappendonly no\nrepl-diskless-sync-delay 0\n'
        [ -z "$config" ] || printf '%s\n' "$config"
    } >"$RR_TMP/$name/node.conf"
    if [ "$mode" = sentinel ]; then
        "${RR_REDIS_SERVER:-redis-server}" "$RR_TMP/$name/node.conf" --sentinel &
    else
        "${RR_REDIS_SERVER:-redis-server}" "$RR_TMP/$name/node.conf" &
    fi
    RR_PIDS+=($!)
    rr_wait_ready "$name" rr_cli -p "$port" ping
}

# A Redis Cluster of 3 masters and 3 replicas on loopback ports (RR_CLUSTER_PORTS, the masters
# first, as redis-cli --cluster create assigns them), cluster-node-timeout 1000 ms, waited for
# until every node says cluster_state:ok and every replica is in sync (so it can fail over).
rr_start_cluster() {
    local i port nodes=() try ok
    RR_CLUSTER_PORTS=()
    for i in 1 2 3 4 5 6; do
        for try in 1 2 3; do
            port=$(rr_free_cluster_port)
            rr_start_node "cluster-$i" "$port" $'cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout 1000' &&
                break
        done
        RR_CLUSTER_PORTS+=("$port")
        nodes+=("127.0.0.1:$port")
    done
    rr_cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$RR_TMP/logs/cluster-create.log" 2>&1 || {
        tail -n 20 "$RR_TMP/logs/cluster-create.log" >&2
        rr_die "redis-cli --cluster create failed"
    }
    for try in $(seq 1 300); do
        ok=1
        for port in "${RR_CLUSTER_PORTS[@]}"; do
            rr_cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
        done
        for port in "${RR_CLUSTER_PORTS[@]}"; do
            rr_cli -p "$port" info replication 2>/dev/null | tr -d '\r' |
                grep -Eq '^(role:master|master_link_status:up)$' || ok=0
        done
        if [ "$ok" = 1 ] && rr_cli --cluster check "127.0.0.1:${RR_CLUSTER_PORTS[0]}" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    rr_die "the cluster did not reach cluster_state:ok"
}

# Redis Sentinel: a master, its replica and 3 Sentinels monitoring it as "mymaster" with
# down-after-milliseconds 1000, waited for until every Sentinel knows the replica and the other
# two (so that a failover can start).
rr_start_sentinel() {
    local port try i ok
    for try in 1 2 3; do
        port=$(rr_free_port)
        rr_start_node sentinel-master "$port" "" && break
    done
    RR_SENTINEL_MASTER_PORT=$port
    for try in 1 2 3; do
        port=$(rr_free_port)
        rr_start_node sentinel-replica "$port" "replicaof 127.0.0.1 $RR_SENTINEL_MASTER_PORT" && break
    done
    RR_SENTINEL_REPLICA_PORT=$port
    RR_SENTINEL_PORTS=()
    for i in 1 2 3; do
        for try in 1 2 3; do
            port=$(rr_free_port)
            rr_start_node "sentinel-$i" "$port" "sentinel monitor mymaster 127.0.0.1 $RR_SENTINEL_MASTER_PORT 2
sentinel down-after-milliseconds mymaster 1000
sentinel failover-timeout mymaster 5000
sentinel parallel-syncs mymaster 1" sentinel && break
        done
        RR_SENTINEL_PORTS+=("$port")
    done
    for try in $(seq 1 300); do
        ok=1
        for port in "${RR_SENTINEL_PORTS[@]}"; do
            rr_cli -p "$port" sentinel master mymaster 2>/dev/null | tr '\n' ' ' |
                grep -Eq 'num-slaves 1 .*num-other-sentinels 2 ' || ok=0
        done
        if [ "$ok" = 1 ] && rr_cli -p "$RR_SENTINEL_REPLICA_PORT" info replication | grep -q 'master_link_status:up'; then
            return 0
        fi
        sleep 0.1
    done
    rr_die "the Sentinels did not find the replica and each other"
}

# The save_paths of the servers above, in the issue's forms: phpredis's rediscluster syntax,
# cluster:// and sentinel://.
rr_cluster_save_path() {
    echo "$(rr_join_nodes '&' 'seed[]=' "${RR_CLUSTER_PORTS[@]:0:3}")&timeout=1&read_timeout=2&persistent=1&failover=error"
}

rr_cluster_url() {
    echo "cluster://$(rr_join_nodes , '' "${RR_CLUSTER_PORTS[@]:0:3}")?timeout=1&read_timeout=2"
}

rr_sentinel_url() {
    echo "sentinel://$(rr_join_nodes , '' "${RR_SENTINEL_PORTS[@]}")?master=mymaster&database=0&timeout=1&read_timeout=2"
}

# 127.0.0.1:<port> for each port after the first two arguments, each after $2, joined by $1.
rr_join_nodes() {
    local sep=$1 before=$2 out="" port
    shift 2
    for port in "$@"; do out+="${before}127.0.0.1:$port$sep"; done
    echo "${out%"$sep"}"
}

# The php.ini every PHP we start uses (php-fpm and CLI alike): phpredis, rustredis and opcache
# loaded explicitly, no scan of /etc/php/*/conf.d (PHP_INI_SCAN_DIR points to an empty dir).
rr_write_php_ini() {
    local extdir
    extdir=$(php -n -r 'echo ini_get("extension_dir");')
    {
        [ -f "$extdir/igbinary.so" ] && echo "extension=igbinary.so"
        echo "extension=redis.so"
        echo "extension=$RR_SO"
        echo "zend_extension=opcache.so"
        echo "opcache.enable=1"
        echo "opcache.enable_cli=0"
        echo "memory_limit=256M"
        echo "max_execution_time=60"
        echo "display_errors=stderr"
        echo "log_errors=1"
        echo "error_log=$RR_TMP/logs/php-errors.log"
        echo "variables_order=EGPCS"
        echo "session.save_handler=files"
        echo "session.save_path=\"$RR_TMP/sessions\""
        echo "session.gc_probability=0"
        echo "session.use_strict_mode=0"
    } >"$RR_TMP/php.ini"
}

# php CLI with the same ini as php-fpm and the environment the PHP side reads.
rr_php() {
    PHP_INI_SCAN_DIR=$RR_TMP/conf.d RR_PHP_INI=$RR_TMP/php.ini RR_REDIS_PORT=$RR_REDIS_PORT RR_FILES_DIR=$RR_TMP/sessions \
        RR_HTTP_PORT=$RR_HTTP_PORT php -c "$RR_TMP/php.ini" "$@"
}

# env[] lines passing the save_paths of a cluster and a Sentinel set started before php-fpm
# (RR_CLUSTER_SAVE_PATH, RR_SENTINEL_SAVE_PATH: bench section 9) to its workers.
rr_fpm_topology_env() {
    local var
    for var in RR_CLUSTER_SAVE_PATH RR_SENTINEL_SAVE_PATH; do
        [ -z "${!var:-}" ] || echo "env[$var] = \"${!var}\""
    done
}

# php-fpm with one static pool of $1 workers on a unix socket in the temp dir.
rr_start_fpm() {
    local workers=${1:-24} root_flag="" user_lines=""
    rr_write_php_ini
    if [ "$(id -u)" -eq 0 ]; then
        root_flag=-R
        user_lines=$'user = root\ngroup = root'
    fi
    cat >"$RR_TMP/php-fpm.conf" <<EOF
[global]
pid = $RR_TMP/php-fpm.pid
error_log = $RR_TMP/logs/php-fpm.log
daemonize = no

[rr]
$user_lines
listen = $RR_TMP/php-fpm.sock
listen.mode = 0666
listen.backlog = 1024
pm = static
pm.max_children = $workers
catch_workers_output = yes
clear_env = yes
env[RR_REDIS_PORT] = $RR_REDIS_PORT
env[RR_FILES_DIR] = $RR_TMP/sessions
$(rr_fpm_topology_env)
EOF
    PHP_INI_SCAN_DIR=$RR_TMP/conf.d php-fpm8.2 $root_flag -F -c "$RR_TMP/php.ini" -y "$RR_TMP/php-fpm.conf" &
    RR_PIDS+=($!)
    rr_wait_ready "php-fpm" test -S "$RR_TMP/php-fpm.sock" || rr_die "php-fpm did not start (see $RR_TMP/logs)"
}

# nginx serving $1 (static files and *.php through the fpm socket) on a free loopback port.
rr_start_nginx() {
    local docroot=$1 user_line="" attempt
    [ "$(id -u)" -eq 0 ] && user_line="user root;"
    mkdir -p "$RR_TMP/nginx"
    for attempt in 1 2 3; do
        RR_HTTP_PORT=$(rr_free_port)
        cat >"$RR_TMP/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $RR_TMP/nginx.pid;
error_log $RR_TMP/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $RR_TMP/nginx/body;
    proxy_temp_path $RR_TMP/nginx/proxy;
    fastcgi_temp_path $RR_TMP/nginx/fastcgi;
    uwsgi_temp_path $RR_TMP/nginx/uwsgi;
    scgi_temp_path $RR_TMP/nginx/scgi;
    types { text/html html; application/javascript js; text/css css; }
    default_type application/octet-stream;
    keepalive_requests 100000;
    upstream fpm { server unix:$RR_TMP/php-fpm.sock; }
    server {
        listen 127.0.0.1:$RR_HTTP_PORT;
        root $docroot;
        index index.html;
        location ~ \.php\$ {
            try_files \$uri =404;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass fpm;
        }
    }
}
EOF
        nginx -p "$RR_TMP/nginx" -e "$RR_TMP/logs/nginx-error.log" -c "$RR_TMP/nginx.conf" &
        RR_PIDS+=($!)
        rr_wait_ready "nginx" rr_port_open "$RR_HTTP_PORT" && return 0
    done
    tail -n 5 "$RR_TMP/logs/nginx-error.log" >&2 2>/dev/null || true
    rr_die "nginx would not start"
}

# Stops what rr_start_* started (by pid, newest first), then removes the temp dir. Runs from an
# EXIT trap under `set -e`, so no command in it may fail.
rr_stop_servers() {
    local i pid try
    set +e
    for ((i = ${#RR_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${RR_PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for try in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    RR_PIDS=()
    if [ -n "$RR_TMP" ] && [ -d "$RR_TMP" ] && [ "${RR_KEEP_TMP:-0}" != 1 ]; then
        rm -rf "$RR_TMP"
    fi
}
