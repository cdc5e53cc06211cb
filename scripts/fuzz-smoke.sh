#!/usr/bin/env bash
# A short run of every fuzz target (fuzz/: libFuzzer through libfuzzer-sys): each target starts
# from its seeds (fuzz/seeds/<target>) and runs for RR_FUZZ_SECONDS (default 15) seconds. A panic,
# a failed check or a crash fails the script; the input is left in fuzz/artifacts/<target>.
#
# Built as cargo-fuzz builds (`cargo fuzz build -O -s none`), with the same coverage
# instrumentation, but by plain cargo on the stable toolchain: CI has no nightly and no
# cargo-fuzz. No sanitizer: the code under test is safe Rust, and what the targets look for
# (panics, failed checks, overflows: debug assertions are on) needs none. FUZZING.md has the long
# runs (cargo fuzz) and their figures.
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET=${RR_FUZZ_SECONDS:-15}
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ ! -x "$HOME/.cargo/bin/cargo" ] || PATH="$HOME/.cargo/bin:$PATH" ;; esac
# An explicit --target keeps the instrumentation off build scripts, as cargo-fuzz does; the fuzz
# workspace has a target directory of its own (a CARGO_TARGET_DIR of the extension's would mix
# instrumented and plain builds).
unset CARGO_TARGET_DIR
host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --target "$host" --bins
targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -vx rustredis-fuzz)
for target in $targets; do
  echo "== fuzz $target: ${SECONDS_PER_TARGET} s"
  corpus=$(mktemp -d)
  rm -rf "artifacts/$target"
  mkdir -p "artifacts/$target"
  log=$(mktemp)
  # The seeds are read, never written: new inputs go to the scratch corpus.
  set +e
  "target/$host/release/$target" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
    -artifact_prefix="artifacts/$target/" "$corpus" "seeds/$target" >"$log" 2>&1
  status=$?
  set -e
  rm -rf "$corpus"
  grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log"
    rm -f "$log"
    echo "fuzz-smoke: $target failed; reproduce with: fuzz/target/$host/release/$target fuzz/artifacts/$target/<file>" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz-smoke: every target ran ${SECONDS_PER_TARGET} s without a failure"
