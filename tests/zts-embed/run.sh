#!/usr/bin/env bash
# Builds tests/zts-embed/threads.c against a ZTS PHP's libphp (embed SAPI) and runs it: PHP
# requests on several threads of one process, as FrankenPHP runs them, over rustredis.
# Env: RUSTREDIS_TEST_REDIS (tcp://127.0.0.1:PORT, required), RUSTREDIS_EXT (librustredis.so built
# for that PHP, required), PHP_CONFIG (default /opt/rustredis-zts-php84/bin/php-config, see
# scripts/build-zts-php.sh). Exits non-zero on any failed check, a crash or a hang (120 s).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PHP_CONFIG=${PHP_CONFIG:-/opt/rustredis-zts-php84/bin/php-config}
: "${RUSTREDIS_TEST_REDIS:?set RUSTREDIS_TEST_REDIS=tcp://127.0.0.1:PORT}"
: "${RUSTREDIS_EXT:?set RUSTREDIS_EXT=/path/to/librustredis.so}"
[ -f "$RUSTREDIS_EXT" ] || { echo "error: $RUSTREDIS_EXT not found" >&2; exit 1; }
[ -x "$PHP_CONFIG" ] || { echo "error: $PHP_CONFIG not found (scripts/build-zts-php.sh)" >&2; exit 1; }
PREFIX=$("$PHP_CONFIG" --prefix)
[ -f "$PREFIX/lib/libphp.so" ] || { echo "error: no $PREFIX/lib/libphp.so (embed SAPI)" >&2; exit 1; }
grep -q '^#define ZTS 1' "$("$PHP_CONFIG" --include-dir)/main/php_config.h" ||
  { echo "error: $PREFIX is not a ZTS PHP" >&2; exit 1; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/rustredis-zts-embed.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
# shellcheck disable=SC2046 # php-config --includes is a list of -I flags
cc -O1 -g -Wall -Wno-unused-parameter -o "$OUT/threads" "$HERE/threads.c" $("$PHP_CONFIG" --includes) \
  -L"$PREFIX/lib" -Wl,-rpath,"$PREFIX/lib" -lphp -lpthread
TMPDIR=$OUT timeout -k 5 120 "$OUT/threads" "$HERE/request.php"
