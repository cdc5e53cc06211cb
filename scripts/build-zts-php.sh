#!/usr/bin/env bash
# Builds a minimal thread-safe (ZTS) PHP 8.4 from Debian's php8.4 source package and installs it
# under $RR_ZTS_PREFIX (default /opt/rustredis-zts-php84): CLI, FPM and embed SAPIs plus what the
# phpt suite needs: session, pcntl, posix and filter built in; ctype, mbstring and tokenizer shared
# (as on Debian, the suite loads ctype and mbstring with -d extension=); igbinary and phpredis built
# as shared extensions from Debian's php-igbinary and php-redis source packages. php-config, the
# headers and run-tests.php come along, so the extension can be built and its phpt suite run
# against a ZTS PHP. The default include_path is Debian's ".:/usr/share/php", so the framework
# tests find Debian's Symfony and Illuminate packages under -n as they do with the system PHP.
#
# Debian 12 ships no php8.4, so the source comes from trixie's pool: a deb-src line for trixie on
# the host's own bookworm mirror goes into a private apt state (temp dir), never into the host's
# apt config. If the pool lags behind the index (the index names a version the mirror cannot
# serve), the pinned upstream-identical orig tarball below is fetched and checked by SHA-256.
# The extensions' orig tarballs are checked against the SHA-256 in the same index (the pool may
# serve them without their .dsc).
# Idempotent: does nothing when $PREFIX/bin/php is ZTS, loads igbinary and redis, and the stamp
# matches this script and its flags.
# Env: RR_ZTS_PREFIX, RR_PHP_SUITE (default trixie), RR_JOBS (default nproc), RR_KEEP_BUILD=1.
set -euo pipefail

PREFIX=${RR_ZTS_PREFIX:-/opt/rustredis-zts-php84}
SUITE=${RR_PHP_SUITE:-trixie}
JOBS=${RR_JOBS:-$(nproc)}
# Fallback: Debian's php8.4_8.4.16.orig.tar.xz is upstream's php-8.4.16.tar.xz byte for byte.
FALLBACK_VERSION=8.4.16
FALLBACK_SHA256=f66f8f48db34e9e29f7bfd6901178e9cf4a1b163e6e497716dfcb8f88bcfae30
CONFIGURE_ARGS=(--prefix="$PREFIX" --disable-all --enable-cli --enable-zts --enable-session
  --enable-pcntl --enable-posix --enable-filter --enable-ctype=shared --enable-mbstring=shared
  --enable-tokenizer=shared --enable-fpm --enable-embed --disable-cgi --disable-phpdbg --without-pear
  --with-config-file-path="$PREFIX/etc")
INCLUDE_PATH=.:/usr/share/php
# Debian source package, upstream directory in its orig tarball, configure flags.
PECL=("php-igbinary igbinary-" "php-redis redis- --enable-redis-igbinary")
STAMP="$PREFIX/.rustredis-zts-build"
WANT="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16) ${CONFIGURE_ARGS[*]} $INCLUDE_PATH ${PECL[*]}"

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

if [ "$("$PREFIX/bin/php" -n -d extension=igbinary -d extension=redis \
  -r 'echo PHP_ZTS, (int) extension_loaded("redis");' 2>/dev/null)" = 11 ] && [ -f "$STAMP" ] &&
  [ "$(head -n1 "$STAMP")" = "$WANT" ]; then
  log "ZTS PHP already built: $("$PREFIX/bin/php" -n -r 'echo PHP_VERSION;') in $PREFIX"
  exit 0
fi
case $PREFIX in /?*) ;; *) die "RR_ZTS_PREFIX must be an absolute path other than /" ;; esac
[ "$(id -u)" -eq 0 ] || die "run as root (installs build dependencies and writes $PREFIX)"

log "build dependencies"
DEPS=(build-essential pkg-config xz-utils autoconf libonig-dev)
missing=()
for p in "${DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

WORK=$(mktemp -d /tmp/rustredis-zts-php.XXXXXX)
[ "${RR_KEEP_BUILD:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

log "source: php8.4 from $SUITE"
# The mirror of the host's own Debian release, from apt's view of the host config.
# shellcheck disable=SC1091
CODENAME=$(. /etc/os-release && echo "$VERSION_CODENAME")
# shellcheck disable=SC2016 # apt expands $(...) itself
MIRROR=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' |
  awk -v c="$CODENAME" '$2 == c { print $1; exit }')
[ -n "$MIRROR" ] || die "no apt source for $CODENAME found in the host apt config"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/src"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" \
  >"$WORK/apt/sources.list"
APT_OPTS=(-o Dir::Etc::SourceList="$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o Dir::State::Lists="$WORK/apt/lists" -o Dir::Cache="$WORK/apt/cache" -o APT::Sandbox::User=root)
apt-get "${APT_OPTS[@]}" update -qq
cd "$WORK/src"
if apt-get "${APT_OPTS[@]}" source --download-only -qq php8.4 >"$WORK/apt-source.log" 2>&1; then
  ORIG=$(ls "$WORK"/src/php8.4_*.orig.tar.xz)
else
  grep -E '^(E|Err):' "$WORK/apt-source.log" | head -n3 >&2 || true
  log "the pool cannot serve the indexed version; using pinned $FALLBACK_VERSION"
  ORIG="$WORK/src/php8.4_$FALLBACK_VERSION.orig.tar.xz"
  /usr/lib/apt/apt-helper "${APT_OPTS[@]}" download-file \
    "${MIRROR%/}/pool/main/p/php8.4/php8.4_$FALLBACK_VERSION.orig.tar.xz" "$ORIG" \
    "SHA256:$FALLBACK_SHA256" >/dev/null
  echo "$FALLBACK_SHA256  $ORIG" | sha256sum -c --quiet - || die "checksum mismatch for $ORIG"
fi
tar -xJf "$ORIG" -C "$WORK/src"
SRC=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name 'php-8.4*' | head -n1)
[ -n "$SRC" ] || die "no php-8.4* directory in $ORIG"
VERSION=${SRC##*/php-}

log "configure PHP $VERSION (ZTS) for $PREFIX"
cd "$SRC"
./configure "${CONFIGURE_ARGS[@]}" >"$WORK/configure.log" 2>&1 ||
  { tail -n 30 "$WORK/configure.log" >&2; die "configure failed"; }
# Without PEAR the compiled default include_path is ".:"; Debian's PHP has ".:/usr/share/php".
sed -i "s|^#define PHP_INCLUDE_PATH.*|#define PHP_INCLUDE_PATH \"$INCLUDE_PATH\"|" main/build-defs.h
grep -qF "PHP_INCLUDE_PATH \"$INCLUDE_PATH\"" main/build-defs.h || die "could not set include_path"
log "make -j$JOBS"
make -j"$JOBS" >"$WORK/make.log" 2>&1 || { tail -n 40 "$WORK/make.log" >&2; die "make failed"; }
log "make install"
rm -rf "$PREFIX"
make install >"$WORK/install.log" 2>&1 || { tail -n 30 "$WORK/install.log" >&2; die "install failed"; }
mkdir -p "$PREFIX/etc" "$PREFIX/lib/php/build"
[ -f "$PREFIX/lib/php/build/run-tests.php" ] || install -m 0644 run-tests.php "$PREFIX/lib/php/build/"

# igbinary, then phpredis (built with igbinary's headers), as shared extensions of this PHP.
for spec in "${PECL[@]}"; do
  read -r pkg dirpfx flags <<<"$spec"
  log "$pkg from $SUITE"
  cd "$WORK/src"
  # The pool may serve the orig tarball without the .dsc: accept it when its hash is the index's.
  apt-get "${APT_OPTS[@]}" source --download-only -qq "$pkg" >"$WORK/apt-$pkg.log" 2>&1 || true
  orig=$(apt-cache "${APT_OPTS[@]}" showsrc "$pkg" | awk -v p="${pkg}_" '
    /^Checksums-Sha256:/ { c = 1; next } /^[^ ]/ { c = 0 }
    c && index($3, p) == 1 && $3 ~ /\.orig\.tar\.[a-z]+$/ { print $1 "  " $3; exit }')
  [ -n "$orig" ] || die "no orig tarball of $pkg in the $SUITE index"
  [ -f "${orig##* }" ] || { grep -E '^(E|Err):' "$WORK/apt-$pkg.log" | head -n3 >&2; die "could not fetch ${orig##* }"; }
  echo "$orig" | sha256sum -c --quiet - || die "checksum mismatch for ${orig##* }"
  tar -xf "${orig##* }"
  dir=$(find "$WORK/src" -mindepth 1 -maxdepth 1 -type d -name "${dirpfx}[0-9]*" | head -n1)
  [ -n "$dir" ] || die "no $dirpfx* directory in ${orig##* }"
  cd "$dir"
  # shellcheck disable=SC2086 # $flags is a word list
  { "$PREFIX/bin/phpize" && ./configure --with-php-config="$PREFIX/bin/php-config" $flags &&
    make -j"$JOBS" && make install; } >"$WORK/$pkg.log" 2>&1 ||
    { tail -n 30 "$WORK/$pkg.log" >&2; die "building ${dir##*/} failed"; }
done

for f in bin/php bin/php-config lib/php/build/run-tests.php include/php/ext/session/php_session.h \
  include/php/sapi/embed/php_embed.h lib/libphp.so; do
  [ -e "$PREFIX/$f" ] || die "missing after install: $PREFIX/$f"
done
[ "$("$PREFIX/bin/php" -n -r 'echo PHP_ZTS;')" = 1 ] || die "$PREFIX/bin/php is not ZTS"
[ "$("$PREFIX/bin/php" -n -r 'echo get_include_path();')" = "$INCLUDE_PATH" ] ||
  die "$PREFIX/bin/php: include_path is not $INCLUDE_PATH"
SHARED=(ctype mbstring tokenizer igbinary redis)
# shellcheck disable=SC2016 # PHP code
out=$("$PREFIX/bin/php" -n "${SHARED[@]/#/-dextension=}" -r 'foreach (array_slice($argv, 1) as $e)
  if (!extension_loaded($e)) echo "$e not loaded\n";' "${SHARED[@]}" 2>&1)
[ -z "$out" ] || die "$PREFIX/bin/php and its shared extensions: $out"
printf '%s\n%s\n' "$WANT" "$VERSION" >"$STAMP"
log "built PHP $VERSION (ZTS) in $PREFIX"
