#!/usr/bin/env bash
# Debian chroots for building and testing the extension on other PHP versions (run as root).
#
#   scripts/chroot.sh create NAME      build $RR_CHROOT_DIR/NAME (default /var/lib/rustredis-chroots)
#   scripts/chroot.sh run NAME CMD...  run CMD in it as root
#   scripts/chroot.sh destroy NAME     unmount whatever is left and delete it
#
# NAME is one of:
#   trixie  Debian 13: php8.4 (cli, dev, fpm), php8.4-redis, php8.4-igbinary, redis-server, valkey-server
#   sid     Debian unstable + experimental: php8.5 and php8.6 (cli, dev, fpm) from experimental, side
#           by side, redis-server and valkey-server from sid, and igbinary and phpredis for both PHPs:
#           Debian's php8.X-igbinary/-redis if they exist, else built from sid's php-igbinary and
#           php-redis source packages (see pecl_build) into each PHP's extension dir, no ini files
# Each also gets what building a Rust PHP extension needs (gcc, make, clang/libclang, libssl-dev,
# pkg-config, python3). `create` is idempotent: a finished chroot has a stamp file, and one per
# extension built from source (/.rustredis-pecl-php8.X-EXT), and is then left alone; a failed
# extension build is retried by the next `create` without redoing the rest.
#
# `run` works in a private mount namespace (unshare), so overlapping runs never see or undo each
# other's mounts and nothing can leak to the host: there it mounts /proc, /sys (read-only), /dev
# (with /dev/pts and /dev/shm), binds the host's $CARGO_HOME and $RUSTUP_HOME (default ~/.cargo,
# ~/.rustup) and this working tree at the same paths, and unmounts them when CMD exits. The
# environment is clean except PATH (with $CARGO_HOME/bin), HOME, TERM and CI, CARGO_TARGET_DIR,
# CARGO_HOME, RUSTUP_HOME, RUSTREDIS_*, RR_*. CMD starts in the same directory as the caller when
# that is inside the working tree, else in /root.
#   scripts/chroot.sh run trixie bash -c 'cd /work/main && PHP=/usr/bin/php8.4 \
#       PHP_CONFIG=/usr/bin/php-config8.4 CARGO_TARGET_DIR=target/trixie-php84 cargo build --release'
# (PHP and PHP_CONFIG must be paths: ext-php-rs's build script does not search PATH for them.)
#
# The Debian mirror is the one this host's apt uses for bookworm, read at run time. apt in the
# chroots ignores Valid-Until (the mirror may be a snapshot whose Release files have expired) and
# never starts services (policy-rc.d exits 101).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
RR_ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
CHROOT_DIR=${RR_CHROOT_DIR:-/var/lib/rustredis-chroots}
CARGO_DIR=${CARGO_HOME:-$HOME/.cargo}
RUSTUP_DIR=${RUSTUP_HOME:-$HOME/.rustup}
BUILD_PKGS=(build-essential clang libclang-dev libssl-dev openssl pkg-config python3 procps ca-certificates)
# The framework code the phpt suite runs (Symfony HttpFoundation, Laravel's Illuminate Session).
FRAMEWORK_PKGS=(php-symfony-http-foundation php-illuminate-session)

log() { printf 'chroot.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,7p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# The URI of this host's apt source for SUITE (deb822 file first, then the one-line format).
mirror_uri() {
    local suite=$1 uri="" f=/etc/apt/sources.list.d/debian.sources
    [ -r "$f" ] && uri=$(awk -v want="$suite" 'BEGIN { RS = "" }
        { u = ""; ok = 0; n = split($0, line, "\n")
          for (i = 1; i <= n; i++) {
              if (line[i] ~ /^URIs:/) { split(line[i], a, /[ \t]+/); u = a[2] }
              if (line[i] ~ /^Suites:/) { m = split(line[i], s, /[ \t]+/); for (j = 2; j <= m; j++) if (s[j] == want) ok = 1 }
          }
          if (ok && u != "") { print u; exit } }' "$f")
    [ -z "$uri" ] && [ -r /etc/apt/sources.list ] && uri=$(sed -E 's/\[[^]]*\]//' /etc/apt/sources.list |
        awk -v want="$suite" '$1 == "deb" && $3 == want { print $2; exit }')
    printf '%s' "${uri%/}"
}

root_of() {
    case "$1" in trixie | sid) ;; *) die "unknown chroot '$1' (trixie or sid)" ;; esac
    printf '%s/%s' "$CHROOT_DIR" "$1"
}

# Lazily unmounts everything mounted at or below $1 in the current mount namespace, deepest first.
umount_under() {
    local root=$1 mp
    awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
        while read -r mp; do umount -l "$mp" 2>/dev/null || true; done
}

# Runs inside `unshare --mount`: mounts, chroots, and unmounts again on the way out.
enter() {
    local root=$1 d var rc=0 cwd=/root
    shift
    ENTERED=$root
    trap 'umount_under "$ENTERED"' EXIT
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    mountpoint -q "$root/sys" || mount -t sysfs -o ro sysfs "$root/sys"
    mountpoint -q "$root/dev" || mount --rbind /dev "$root/dev"
    for d in "$CARGO_DIR" "$RUSTUP_DIR" "$RR_ROOT"; do
        [ -d "$d" ] || continue
        mkdir -p "$root$d"
        mountpoint -q "$root$d" || mount --bind "$d" "$root$d"
    done
    local envs=(HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8
        PATH="$CARGO_DIR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    [ -n "${CARGO_HOME:-}" ] && envs+=(CARGO_HOME="$CARGO_HOME")
    [ -n "${RUSTUP_HOME:-}" ] && envs+=(RUSTUP_HOME="$RUSTUP_HOME")
    for var in CI CARGO_TARGET_DIR $(compgen -e | grep -E '^(RUSTREDIS|RR)_' || true); do
        [ -n "${!var+x}" ] && envs+=("$var=${!var}")
    done
    case "$PWD/" in "$RR_ROOT"/*) cwd=$PWD ;; esac
    chroot "$root" /usr/bin/env -i --chdir="$cwd" "${envs[@]}" "$@" || rc=$?
    return "$rc"
}

run_in() {
    local name=$1 root
    shift
    root=$(root_of "$name")
    [ -e "$root/.rustredis-bootstrapped" ] || die "no chroot $name: run 'scripts/chroot.sh create $name'"
    [ $# -gt 0 ] || die "run $name: no command given"
    unshare --mount --propagation private -- "$SELF" __enter "$root" "$@"
}

# The packages of each chroot (REQ), and optional ones installed only if they exist (OPT). sid's
# PHP comes from experimental through an apt pin, not `php8.6-cli/experimental`: with that, apt 3
# also takes php-common 2:102~ from experimental, which Breaks php8.5-common; sid's 2:101 fits both.
# (Once sid itself moves to php-common >= 2:102, 8.5 and 8.6 need a chroot each.)
packages() {
    case "$1" in
    trixie) REQ=(php8.4-cli php8.4-dev php8.4-fpm php8.4-redis php8.4-mbstring redis-server valkey-server
            "${FRAMEWORK_PKGS[@]}" "${BUILD_PKGS[@]}")
        OPT=(php8.4-igbinary) ;;
    sid) REQ=(redis-server valkey-server "${FRAMEWORK_PKGS[@]}" "${BUILD_PKGS[@]}") OPT=()
        for v in 8.5 8.6; do
            REQ+=("php$v-cli" "php$v-dev" "php$v-common" "php$v-fpm" "php$v-mbstring")
            OPT+=("php$v-redis" "php$v-igbinary")
        done ;;
    esac
}

# PHP extensions to build from Debian's source packages where Debian has no binary package for a
# PHP of the chroot (PECL_PHPS), in load order: "SOURCE-PACKAGE EXTENSION CONFIGURE-FLAGS...".
# phpredis gets the configure flags of Debian's php-redis (debian/rules: PECL_CONFIGURE_MAINT_APPEND;
# trixie's php8.4-redis reports serializers php, json, igbinary and compression lzf, zstd, lz4, and
# needs igbinary, not msgpack, loaded first). PECL_DEPS are the build dependencies this needs.
pecl_exts() {
    PECL_PHPS=() PECL=() PECL_DEPS=()
    case "$1" in
    sid) PECL_PHPS=(8.5 8.6) PECL_DEPS=(liblz4-dev libzstd-dev)
        PECL=("php-igbinary igbinary"
            "php-redis redis --enable-redis-igbinary --enable-redis-lzf --without-liblzf --enable-redis-lz4 --with-liblz4 --enable-redis-zstd --with-libzstd") ;;
    esac
}

pecl_done() {
    local root spec ext v
    root=$(root_of "$1")
    pecl_exts "$1"
    for spec in ${PECL[@]+"${PECL[@]}"}; do
        read -r _ ext _ <<<"$spec"
        for v in "${PECL_PHPS[@]}"; do
            [ -e "$root/.rustredis-pecl-php$v-$ext" ] || return 1
        done
    done
}

# Runs inside the chroot (via declare -f), in the source tree of extension $1: makes releases that
# predate the chroot's PHPs build on them, with what upstream has since merged. Each change is
# guarded by #if PHP_VERSION_ID or #ifndef (the tree is built for every PHP) and applied only where
# the old code is still there, so newer sources are left alone.
pecl_compat() {
    local f
    # PHP 8.5 dropped ext/standard/php_smart_string.h; Zend/zend_smart_string.h exists since 7.2
    # (igbinary#398, phpredis#2676).
    grep -rlZ --include='*.[ch]' 'ext/standard/php_smart_string\.h' . |
        xargs -0r sed -i 's|ext/standard/php_smart_string\.h|Zend/zend_smart_string.h|'
    case "$1" in
    igbinary) f=src/php7/igbinary.c
        # PHP 8.6 dropped the zval_dtor() alias (igbinary#408) and made unserialize_callback_func
        # a zend_string *, NULL when unset (igbinary#419).
        sed -i 's/\bzval_dtor(/zval_ptr_dtor_nogc(/g' "$f"
        if grep -q 'user_func_name = PG(unserialize_callback_func);' "$f"; then
            sed -i 's/PG(unserialize_callback_func)/RR_UNSERIALIZE_CALLBACK_FUNC/g' "$f"
            sed -i '0,/^#include "php_igbinary.h"/{/^#include "php_igbinary.h"/r /dev/stdin
}' "$f" <<'EOF'
#if PHP_VERSION_ID >= 80600
# define RR_UNSERIALIZE_CALLBACK_FUNC (PG(unserialize_callback_func) ? ZSTR_VAL(PG(unserialize_callback_func)) : NULL)
#else
# define RR_UNSERIALIZE_CALLBACK_FUNC PG(unserialize_callback_func)
#endif
EOF
        fi ;;
    redis)
        # PHP 8.6 dropped legacy macros phpredis 6.2 uses (phpredis#2777, #2884): defined here as
        # PHP 8.5 had them, in common.h, which every phpredis source includes right after php.h.
        sed -i '0,/^#include "php_ini.h"/{/^#include "php_ini.h"/r /dev/stdin
}' common.h <<'EOF'
#if PHP_VERSION_ID >= 80600
# ifndef XtOffsetOf
#  define XtOffsetOf(s_type, field) offsetof(s_type, field)
# endif
# ifndef zval_dtor
#  define zval_dtor(zvalue) zval_ptr_dtor_nogc(zvalue)
# endif
# ifndef zval_is_true
#  define zval_is_true(op) zend_is_true(op)
# endif
# ifndef INI_STR
#  define INI_STR(name) zend_ini_string_ex((name), strlen(name), 0, NULL)
# endif
# ifndef INI_INT
#  define INI_INT(name) zend_ini_long((name), strlen(name), 0)
# endif
# ifndef ZEND_WRONG_PARAM_COUNT
#  define ZEND_WRONG_PARAM_COUNT() { zend_wrong_param_count(); return; }
# endif
# ifndef WRONG_PARAM_COUNT
#  define WRONG_PARAM_COUNT ZEND_WRONG_PARAM_COUNT()
# endif
# ifndef EMPTY_SWITCH_DEFAULT_CASE
#  define EMPTY_SWITCH_DEFAULT_CASE() default: ZEND_UNREACHABLE(); break;
# endif
# ifndef php_hash_bin2hex
#  define php_hash_bin2hex(out, in, in_len) zend_bin2hex((out), (in), (in_len))
# endif
#endif
EOF
        # PHP 8.6 passes the session save_path to PS_OPEN_FUNC as a zend_string * (phpredis#2815):
        # the parameter is renamed and both open functions start with a char * of the old name.
        if grep -q 'path_len = strlen(save_path)' redis_session.c; then
            sed -i '0,/^#include "ext\/standard\/url.h"/{/^#include "ext\/standard\/url.h"/r /dev/stdin
}' redis_session.c <<'EOF'
#if PHP_VERSION_ID >= 80600
# undef PS_OPEN_ARGS
# define PS_OPEN_ARGS void **mod_data, zend_string *rr_save_path, zend_string *session_name
# define RR_PS_OPEN_SAVE_PATH const char *save_path = ZSTR_VAL(rr_save_path);
#else
# define RR_PS_OPEN_SAVE_PATH
#endif
EOF
            sed -i -e '/^PS_OPEN_FUNC(redis)$/{n;s/^{$/{ RR_PS_OPEN_SAVE_PATH/}' \
                -e 's/^PS_OPEN_FUNC(rediscluster) {$/& RR_PS_OPEN_SAVE_PATH/' redis_session.c
            [ "$(grep -cE '^(PS_OPEN_FUNC\(rediscluster\) )?\{ RR_PS_OPEN_SAVE_PATH$' redis_session.c)" -eq 2 ] ||
                { echo "chroot.sh: redis_session.c: PS_OPEN_FUNC shim not applied" >&2; return 1; }
        fi ;;
    esac
}

# Runs inside the chroot (via declare -f): builds and installs each "SOURCE-PACKAGE EXTENSION
# FLAGS..." argument for every PHP in $RR_PECL_PHPS that has neither its stamp nor Debian's
# php8.X-EXTENSION package, from `apt-get source` (the upstream tree inside Debian's source package;
# when the mirror has only the orig tarball of it, that without Debian's patches) with
# phpize8.X && ./configure --with-php-config=php-config8.X FLAGS && make && make install, then
# checks that it loads after the ones before it and writes its stamp.
pecl_build() {
    local spec src ext flags v work top how dsc debver todo build ver loads=() rc
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086 # lists of package names
    apt-get install -y -q $RR_PECL_DEPS
    for spec; do
        read -r src ext flags <<<"$spec"
        todo=()
        for v in $RR_PECL_PHPS; do
            [ -e "/.rustredis-pecl-php$v-$ext" ] && continue
            if dpkg-query -W -f '${db:Status-Abbrev}' "php$v-$ext" 2>/dev/null | grep -q '^ii'; then
                echo "php$v-$ext: Debian's package" >"/.rustredis-pecl-php$v-$ext"
            else todo+=("$v"); fi
        done
        if [ ${#todo[@]} -gt 0 ]; then
            work=/usr/src/rustredis-pecl/$src
            rm -rf "$work"
            mkdir -p "$work"
            cd "$work"
            apt-cache showsrc "$src" >/dev/null 2>&1 || apt-get update -q
            dsc=$(apt-get source -q --print-uris "$src" | awk '$2 ~ /\.dsc$/ { print $2; exit }')
            debver=${dsc#"${src}_"} debver=${debver%.dsc}
            if apt-get source -q -o APT::Sandbox::User=root "$src"; then how="with Debian's patches"
            else
                echo "chroot.sh: cannot fetch all of source package $src $debver; building its orig tarball, without Debian's patches" >&2
                apt-get source -q -o APT::Sandbox::User=root --tar-only "$src"
                for top in ./"${src}_"*.orig.tar.*; do tar -xf "$top"; done
                how="orig tarball only"
            fi
            # The upstream tree (the newest, should the package carry several).
            top=$(find "$work" -mindepth 2 -maxdepth 3 -path "*/$ext-[0-9]*/config.m4" -printf '%h\n' | sort -V | tail -n1)
            [ -n "$top" ] || { echo "chroot.sh: no $ext-*/config.m4 in source package $src" >&2; return 1; }
            cd "$top"
            pecl_compat "$ext"
            for v in "${todo[@]}"; do
                build=$work/build-php$v
                cp -a "$top" "$build"
                cd "$build"
                echo "chroot.sh: building $ext ($src $debver, $how) for PHP $v: configure $flags" >&2
                rc=0
                # shellcheck disable=SC2086 # flags are words
                { "phpize$v" && ./configure --with-php-config="php-config$v" $flags &&
                    make -j"$(nproc)" && make install; } >build.log 2>&1 || rc=$?
                if [ "$rc" -ne 0 ]; then
                    grep -E 'error|Error' build.log | head -n 40 >&2 || true
                    tail -n 20 build.log >&2
                    echo "chroot.sh: building $ext for PHP $v failed (exit $rc)" >&2
                    return 1
                fi
                ver=$("php$v" -n "${loads[@]}" -d "extension=$ext" -r "echo phpversion('$ext');")
                [ -n "$ver" ] || { echo "chroot.sh: PHP $v does not load the $ext just built" >&2; return 1; }
                echo "$ext $ver for PHP $v, from $src $debver ($how), configure $flags" >"/.rustredis-pecl-php$v-$ext"
                cd "$work"
            done
            cd /
            rm -rf "$work"
        fi
        loads+=(-d "extension=$ext")
    done
    rmdir /usr/src/rustredis-pecl 2>/dev/null || true
    apt-get clean
}

build_pecl() {
    local name=$1 root t0=$SECONDS spec ext exts=()
    root=$(root_of "$name")
    pecl_done "$name" && return 0
    for spec in "${PECL[@]}"; do read -r _ ext _ <<<"$spec"; exts+=("$ext"); done
    log "$name: building ${exts[*]} for PHP ${PECL_PHPS[*]} from Debian's source packages"
    # shellcheck disable=SC2016 # expanded inside the chroot
    RR_PECL_PHPS="${PECL_PHPS[*]}" RR_PECL_DEPS="${PECL_DEPS[*]}" run_in "$name" \
        bash -euc "$(declare -f pecl_compat pecl_build)"$'\npecl_build "$@"' bash "${PECL[@]}"
    log "$name: extensions from source done in $((SECONDS - t0))s:"
    cat "$root"/.rustredis-pecl-* >&2
}

# Whether every package of NAME's list is installed in it.
packages_installed() {
    packages "$1"
    local installed
    # shellcheck disable=SC2016 # a dpkg-query format
    installed=$(run_in "$1" dpkg-query -W -f '${db:Status-Abbrev}\n' "${REQ[@]}" 2>/dev/null | grep -c '^ii') || true
    [ "$installed" -eq ${#REQ[@]} ]
}

create() {
    local name=$1 root mirror security sources pin="" pkgs
    root=$(root_of "$name")
    if [ -e "$root/.rustredis-complete" ] && pecl_done "$name" && packages_installed "$name"; then
        log "$name: already complete ($root)"
        return 0
    fi
    mkdir -p "$CHROOT_DIR"
    exec 9>"$CHROOT_DIR/.$name.lock"
    flock 9
    mirror=$(mirror_uri bookworm)
    [ -n "$mirror" ] || die "cannot find the bookworm mirror in this host's apt sources"
    command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; }
    case "$name" in
    trixie) security=$(mirror_uri bookworm-security)
        sources="deb $mirror trixie main"$'\n'"deb $mirror trixie-updates main"
        [ -n "$security" ] && sources+=$'\n'"deb $security trixie-security main" ;;
    sid) sources="deb $mirror sid main"$'\n'"deb-src $mirror sid main"$'\n'"deb $mirror experimental main"
        pin=$'Package: php8.5* php8.6*\nPin: release a=experimental\nPin-Priority: 990' ;;
    esac
    if [ ! -e "$root/.rustredis-bootstrapped" ]; then
        if [ -e "$root" ]; then log "$name: removing an unfinished bootstrap"; destroy "$name"; fi
        log "$name: debootstrap from $mirror"
        # In a private mount namespace too: whatever debootstrap mounts cannot outlive it.
        unshare --mount --propagation private -- debootstrap --variant=minbase "$name" "$root" "$mirror"
        touch "$root/.rustredis-bootstrapped"
    fi
    printf '%s\n' "$sources" >"$root/etc/apt/sources.list"
    if [ -n "$pin" ]; then printf '%s\n' "$pin" >"$root/etc/apt/preferences.d/90rustredis"; fi
    printf '%s\n' 'Acquire::Check-Valid-Until "false";' 'Acquire::Languages "none";' \
        'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/90rustredis"
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' \
        >"$root/etc/dpkg/dpkg.cfg.d/90rustredis-nodoc"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # A chroot made before a package joined its list gets the new ones.
    [ -e "$root/.rustredis-complete" ] && ! packages_installed "$name" && rm -f "$root/.rustredis-complete"
    if [ ! -e "$root/.rustredis-complete" ]; then
        packages "$name"
        log "$name: installing ${REQ[*]}"
        # shellcheck disable=SC2016 # expanded inside the chroot
        RR_OPTIONAL="${OPT[*]}" run_in "$name" bash -euc '
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -q
            apt-get dist-upgrade -y -q
            apt-get install -y -q "$@"
            for p in $RR_OPTIONAL; do  # installable = has a candidate version (not purely virtual)
                if apt-cache policy "$p" 2>/dev/null | grep -q "Candidate: [^(]"; then
                    apt-get install -y -q "$p"
                else echo "chroot.sh: optional package $p does not exist here, skipped" >&2; fi
            done
            apt-get clean' bash "${REQ[@]}"
        # shellcheck disable=SC2016 # a dpkg-query format
        pkgs=$(run_in "$name" dpkg-query -W -f '${db:Status-Abbrev} ${Package} ${Version}\n' \
            'php*' redis-server valkey-server clang libc6 2>/dev/null | awk '$1 == "ii" { print $2, $3 }')
        printf '%s\n' "$pkgs" >"$root/.rustredis-complete"
        log "$name: complete, $(du -sh --one-file-system "$root" | cut -f1) in $root"
        printf '%s\n' "$pkgs" | grep -E '^(php[0-9.]+-(cli|dev|redis|igbinary)|redis-server|valkey-server) ' >&2
    fi
    build_pecl "$name"
}

destroy() {
    local name=$1 root
    root=$(root_of "$name")
    [ -e "$root" ] || { log "$name: nothing to destroy"; return 0; }
    umount_under "$root"
    if awk -v r="$root" '$5 == r || index($5, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; then
        die "$root still has mounts, not deleting it"
    fi
    rm -rf --one-file-system "$root"
    log "$name: destroyed"
}

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ $# -ge 2 ] || usage
cmd=$1
shift
case "$cmd" in
create) [ $# -eq 1 ] || usage; create "$1" ;;
run) run_in "$@" ;;
destroy) [ $# -eq 1 ] || usage; destroy "$1" ;;
__enter) enter "$@" ;;
*) usage ;;
esac
