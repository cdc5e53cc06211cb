#!/usr/bin/env bash
# The version matrix: the whole test suite (scripts/test.sh: cargo test and every phpt, php-fpm
# included) on each PHP and server below, real Debian packages throughout, and for each Debian
# PHP the package from scripts/package-deb.sh installed and used (scripts/package-smoke.sh).
#
#   scripts/matrix.sh            every entry
#   scripts/matrix.sh NAME...    only these (names as listed by scripts/matrix.sh --list)
#
# Debian 12 runs on the host; Debian 13 and sid (+ experimental) in chroots made by
# scripts/chroot.sh; the thread-safe PHP is built by scripts/build-zts-php.sh. Each PHP builds in
# target/matrix/<host|chroot> directory. The chroots are made in the background while the host's
# entries run. Logs go to target/matrix/<entry>.log; the last line is "matrix: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ZTS=${RR_ZTS_PREFIX:-/opt/rustredis-zts-php84}

# The last column says which topologies an entry tests (scripts/test.sh's RR_TOPOLOGIES): `all`
# is one Redis, a Cluster and Sentinel; `standalone` is one Redis only, where the same PHP already
# runs the Cluster and Sentinel suite against the other server (to keep CI under 45 minutes).
#
# name                      where   php                  php-config                  php-fpm                     server         topologies
ENTRIES="
bookworm-php8.2-redis7      host    /usr/bin/php8.2      /usr/bin/php-config8.2      /usr/sbin/php-fpm8.2        redis-server   all
trixie-php8.4-redis8        trixie  /usr/bin/php8.4      /usr/bin/php-config8.4      /usr/sbin/php-fpm8.4        redis-server   all
trixie-php8.4-valkey8       trixie  /usr/bin/php8.4      /usr/bin/php-config8.4      /usr/sbin/php-fpm8.4        valkey-server  standalone
sid-php8.5-redis8           sid     /usr/bin/php8.5      /usr/bin/php-config8.5      /usr/sbin/php-fpm8.5        redis-server   standalone
sid-php8.5-valkey9          sid     /usr/bin/php8.5      /usr/bin/php-config8.5      /usr/sbin/php-fpm8.5        valkey-server  all
sid-php8.6-redis8           sid     /usr/bin/php8.6      /usr/bin/php-config8.6      /usr/sbin/php-fpm8.6        redis-server   all
sid-php8.6-valkey9          sid     /usr/bin/php8.6      /usr/bin/php-config8.6      /usr/sbin/php-fpm8.6        valkey-server  standalone
zts-php8.4-redis7           host    $ZTS/bin/php         $ZTS/bin/php-config         $ZTS/sbin/php-fpm           redis-server   all
"

# One entry, in a process of its own (so that `set -e` stops it at the first failure).
run_entry() {
    local name=$1 where=$2 php=$3 php_config=$4 fpm=$5 server=$6 topologies=$7 package=$8
    [ "$where" = host ] || scripts/chroot.sh create "$where"
    [[ "$name" != zts-* ]] || scripts/build-zts-php.sh
    # One target directory per place: PHP versions that share it rebuild only ext-php-rs and
    # rustredis when they take turns.
    local build_dir="target/matrix/$where"
    local env_vars=(PHP="$php" PHP_CONFIG="$php_config" RR_PHP_FPM="$fpm" RR_REDIS_SERVER="$server"
        CARGO_TARGET_DIR="$ROOT/$build_dir" RR_NO_INSTALL=1 RR_TOPOLOGIES="$topologies")
    in_place "$where" env "${env_vars[@]}" "$ROOT/scripts/test.sh"
    if [ "$package" = yes ]; then
        local deb
        deb=$(in_place "$where" env "${env_vars[@]}" "$ROOT/scripts/package-deb.sh" "$ROOT/$build_dir/debian" | tail -1)
        in_place "$where" env RR_REDIS_SERVER="$server" "$ROOT/scripts/package-smoke.sh" "$deb"
    fi
}

# Runs "$@" on the host or in the named chroot.
in_place() {
    local where=$1
    shift
    if [ "$where" = host ]; then "$@"; else scripts/chroot.sh run "$where" "$@"; fi
}

case "${1:-}" in
    --list)
        echo "$ENTRIES" | awk 'NF { print $1 }'
        exit 0
        ;;
    --run-entry)
        shift
        run_entry "$@"
        exit 0
        ;;
esac
wanted=" $* "
mkdir -p target/matrix
# Make the chroots the selected entries need while the first entries run (create takes a lock per
# chroot, so an entry that needs one waits for it).
chroots=$(echo "$ENTRIES" | awk -v w="$wanted" 'NF && $2 != "host" && (w == "  " || index(w, " " $1 " ")) { print $2 }' | sort -u)
if [ -n "$chroots" ]; then
    (for c in $chroots; do scripts/chroot.sh create "$c"; done) >target/matrix/chroots.log 2>&1 &
fi
passed=0
failed=0
failures=()
packaged=" "

while read -r name where php php_config fpm server topologies; do
    [ -n "$name" ] || continue
    [ "$#" -eq 0 ] || [[ "$wanted" == *" $name "* ]] || continue
    php=${php//\$ZTS/$ZTS}; php_config=${php_config//\$ZTS/$ZTS}; fpm=${fpm//\$ZTS/$ZTS}
    # The Debian package of each Debian PHP is built and tried once, with its first server.
    package=no
    if [[ "$name" != zts-* && "$packaged" != *" ${name%-*} "* ]]; then
        package=yes
        packaged+="${name%-*} "
    fi
    log=$ROOT/target/matrix/$name.log
    started=$(date +%s)
    echo "== $name"
    if "$ROOT/scripts/matrix.sh" --run-entry "$name" "$where" "$php" "$php_config" "$fpm" "$server" "$topologies" "$package" >"$log" 2>&1 </dev/null; then
        passed=$((passed + 1))
        echo "   passed in $(($(date +%s) - started))s: $(grep -E '^(phpt: [0-9]|phpt: one Redis only|package-smoke:)' "$log" | tr '\n' ' ')"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "   FAILED in $(($(date +%s) - started))s; the end of $log:"
        tail -n 40 "$log" | sed 's/^/   | /'
    fi
done <<<"$ENTRIES"

[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]}"
echo "matrix: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
