#!/usr/bin/env bash
# A short run of every fuzz target (fuzz/, cargo-fuzz + libFuzzer): each target starts from its
# seeds (fuzz/seeds/<target>) and runs for RR_FUZZ_SECONDS (default 20) seconds on one core. A
# panic, a failed check or a crash fails the script; the input is left in fuzz/artifacts/<target>.
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo +nightly install cargo-fuzz`), plus what the extension's build needs (php-config, or
# PHP_CONFIG). FUZZING.md has the long runs and their figures. Built without a sanitizer
# (`-s none`): the code under test is safe Rust, and what the targets look for (panics, failed
# checks, overflows: debug assertions are on) needs none, and ASan made each run ten times slower.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET=${RR_FUZZ_SECONDS:-20}
[ -x "$HOME/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"
cargo +nightly fuzz --version >/dev/null 2>&1 || {
  echo "fuzz-smoke: needs cargo-fuzz on a nightly toolchain: cargo +nightly install cargo-fuzz" >&2
  exit 1
}
# The fuzz workspace has a target directory of its own; a CARGO_TARGET_DIR for the extension
# would mix instrumented and plain builds.
unset CARGO_TARGET_DIR
cargo +nightly fuzz build -O -s none
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for target in $(cargo +nightly fuzz list); do
  echo "== fuzz $target: ${SECONDS_PER_TARGET} s"
  corpus=$(mktemp -d)
  rm -rf "artifacts/$target"
  # The seeds are read, never written: new inputs go to the scratch corpus.
  set +e
  nice -n 10 cargo +nightly fuzz run -O -s none "$target" "$corpus" "seeds/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -jobs=1 -workers=1 -print_final_stats=1 >"$log" 2>&1
  status=$?
  set -e
  rm -rf "$corpus"
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    echo "fuzz-smoke: $target failed; reproduce with: (cd fuzz && cargo +nightly fuzz run -O -s none $target artifacts/$target/<file>)" >&2
    exit 1
  fi
done
echo "fuzz-smoke: every target ran ${SECONDS_PER_TARGET} s without a failure"
