#!/usr/bin/env bash
# Builds the Debian package of the extension for one PHP version:
#   php8.X-rustredis_<version>_<arch>.deb holding <extension dir>/rustredis.so and
#   /etc/php/8.X/mods-available/rustredis.ini, depending on that PHP's ABI (phpapi-<API>), on
#   php8.X-common (whose PHP has ext/session built in, which rustredis requires) and on the shared
#   libraries the .so links. Installing it is the whole install:
#     apt install ./php8.4-rustredis_*.deb && phpenmod rustredis
#
#   scripts/package-deb.sh [OUTDIR]    (default target/debian)
# The PHP is chosen as for scripts/test.sh: PHP=/usr/bin/php8.4 PHP_CONFIG=/usr/bin/php-config8.4,
# CARGO_TARGET_DIR. Prints the path of the package it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-target/debian}" && cd "${1:-target/debian}" && pwd)

PHP=$(command -v "${PHP:-php}")
PHP_CONFIG=$(command -v "${PHP_CONFIG:-php-config}")
export PHP PHP_CONFIG
# PATH as scripts/test.sh sets it: ext-php-rs rebuilds whenever PATH differs (its build script
# says rerun-if-env-changed=PATH), so the release build test.sh made is reused as it is.
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ ! -x "$HOME/.cargo/bin/cargo" ] || PATH="$HOME/.cargo/bin:$PATH" ;; esac
cargo build --release >&2
SO="${CARGO_TARGET_DIR:-$PWD/target}/release/librustredis.so"

php_version=$("$PHP" -n -r 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;')
api=$("$PHP_CONFIG" --phpapi)
ext_dir=$("$PHP_CONFIG" --extension-dir)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)-1
arch=$(dpkg --print-architecture)
package="php${php_version}-rustredis"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
install -D -m 644 "$SO" "$root$ext_dir/rustredis.so"
strip --strip-unneeded "$root$ext_dir/rustredis.so"
install -d "$root/etc/php/$php_version/mods-available"
cat >"$root/etc/php/$php_version/mods-available/rustredis.ini" <<INI
; configuration for php rustredis module (session.save_handler=rustredis)
; priority=25
; rustredis needs ext/session, which Debian's PHP has built in.
extension=rustredis.so
INI
install -D -m 644 README.md "$root/usr/share/doc/$package/README.md"

# The shared libraries the .so needs, as Debian package dependencies.
mkdir -p "$work/debian"
printf 'Source: rustredis\n\nPackage: %s\nArchitecture: any\n' "$package" >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e"$root$ext_dir/rustredis.so" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')

install -d "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $arch
Maintainer: rustredis developers <rustredis@localhost>
Section: php
Priority: optional
Depends: phpapi-$api, php${php_version}-common${shlibs:+, $shlibs}
Description: PHP session save handler for Redis, with locking (PHP $php_version)
 rustredis registers the session save handler "rustredis": sessions in Redis
 with a per-request lock like PHP's files handler, lock-free read_and_close,
 optimistic merging writes and phpredis-compatible keys. Enable it with
 phpenmod rustredis, then set session.save_handler=rustredis and
 session.save_path.
CONTROL
echo "/etc/php/$php_version/mods-available/rustredis.ini" >"$root/DEBIAN/conffiles"
deb="$OUT/${package}_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$root" "$deb" >&2
echo "$deb"
