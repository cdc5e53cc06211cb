#!/usr/bin/env bash
# Installs a package made by scripts/package-deb.sh the way a user would (apt install ./….deb,
# phpenmod rustredis), runs two requests of one session through the installed module against a
# private Redis (or Valkey) on a free loopback port, and removes the package again.
#   scripts/package-smoke.sh PACKAGE.deb      (RR_REDIS_SERVER=valkey-server to use Valkey)
set -euo pipefail
deb=$(readlink -f "$1")
package=$(dpkg-deb -f "$deb" Package)
php_version=${package#php}
php_version=${php_version%-rustredis}
php=$(command -v "php$php_version")
server=${RR_REDIS_SERVER:-redis-server}
export DEBIAN_FRONTEND=noninteractive

work=$(mktemp -d)
redis_pid=""
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    phpdismod -v "$php_version" rustredis 2>/dev/null || true
    apt-get purge -y -qq "$package" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
phpenmod -v "$php_version" rustredis
"$php" -m | grep -x rustredis >/dev/null || { echo "package-smoke: rustredis not loaded from the installed package"; exit 1; }
"$php" -n -m | grep -x rustredis >/dev/null && { echo "package-smoke: rustredis loads without the package's ini, so this would not test it"; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$server" --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

request='ini_set("session.use_cookies", "0"); ini_set("session.cache_limiter", "");
    if ($argv[1] !== "") session_id($argv[1]);
    if (!session_start()) exit(1);
    $_SESSION["n"] = ($_SESSION["n"] ?? 0) + 1;
    echo session_id(), " ", $_SESSION["n"], "\n";'
opts=(-d session.save_handler=rustredis -d "session.save_path=\"tcp://127.0.0.1:$port?prefix=smoke:\"")
read -r id n1 < <("$php" "${opts[@]}" -r "$request" "")
read -r _ n2 < <("$php" "${opts[@]}" -r "$request" "$id")
if [ "$n1" = 1 ] && [ "$n2" = 2 ]; then
    echo "package-smoke: $package ($("$php" -r 'echo PHP_VERSION;'), $("$server" --version | cut -d' ' -f1-3)): 1 passed, 0 failed"
else
    echo "package-smoke: $package: session counter went $n1, $n2 instead of 1, 2: 0 passed, 1 failed"
    exit 1
fi
