#!/usr/bin/env bash
# Fuzzing (issue 13): builds the cargo-fuzz targets of tests/fuzz and runs
# each for SECONDS (default 60), one after the other, from the seeds in
# tests/fuzz/corpus/<target>/. Exits non-zero when a target crashes, and says
# where the crashing input is. See tests/fuzz/README.md.
#
#   bash tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain (HOMEROOM_FUZZ_TOOLCHAIN, default `nightly`)
# with the wasm32-wasip2 target (the host's build script compiles the
# plugins), and cargo-fuzz. Builds in $CARGO_TARGET_DIR, else
# tests/fuzz/target; what the fuzzer finds goes to tests/fuzz/work/ (the
# corpus it grows) and tests/fuzz/artifacts/<target>/ (crashes).
set -euo pipefail

seconds="${1:-60}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."

all_targets=(csv_package district_config boundary_validation)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
toolchain="${HOMEROOM_FUZZ_TOOLCHAIN:-nightly}"
# AddressSanitizer by default, as cargo-fuzz does: the bundled C (SQLite,
# mimalloc, zstd) is linked in, and Rust's own unsafe code is checked too.
sanitizer="${HOMEROOM_FUZZ_SANITIZER:-address}"
# Lighter than its defaults, for throughput: no fake stacks for
# use-after-return, and a small quarantine (the CSV target opens files with
# 64 KiB buffers many times an input).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_stack_use_after_return=0:quarantine_size_mb=16}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
work="$here/work"
mkdir -p "$work"
# The CSV target writes its drop folders under $TMPDIR: in memory when the
# machine has /dev/shm (a write on disk costs more than the read); removed
# at the end.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  drops=$(mktemp -d /dev/shm/homeroom-fuzz.XXXXXX)
else
  drops=$(mktemp -d "$work/drops.XXXXXX")
fi
trap 'rm -rf "$drops"' EXIT

fuzz() { cargo "+$toolchain" fuzz "$1" --fuzz-dir "$here" --sanitizer "$sanitizer" "${@:2}"; }

echo "fuzz: building ${targets[*]} with $(rustc "+$toolchain" --version)"
start=$SECONDS
for t in "${targets[@]}"; do
  fuzz build "$t"
done
echo "fuzz: built in $((SECONDS - start)) s"

failed=()
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  artifacts="$here/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  marker="$work/.started-$t"
  touch "$marker"
  echo "fuzz: $t for $seconds s"
  start=$SECONDS
  # New inputs go to the first corpus folder (work/), never to the seeds.
  if TMPDIR="$drops" fuzz run "$t" "$corpus" "$here/corpus/$t" -- \
    -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$work/$t.log" 2>&1; then
    echo "fuzz: $t: no crash in $((SECONDS - start)) s ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo '?') runs; log $work/$t.log)"
  else
    failed+=("$t")
    echo "fuzz: $t FAILED after $((SECONDS - start)) s (log $work/$t.log):"
    # The panic (message and place), or the sanitizer's or libFuzzer's report.
    grep -m1 -A2 -E "panicked at|==ERROR: |ERROR: libFuzzer" "$work/$t.log" | sed 's/^/    /' \
      || tail -n 20 "$work/$t.log" | sed 's/^/    /'
    found=$(find "$artifacts" -type f -newer "$marker" 2>/dev/null || true)
    if [ -n "$found" ]; then
      for f in $found; do
        echo "fuzz: $t: the input is $f"
        echo "      replay: cargo +$toolchain fuzz run --fuzz-dir tests/fuzz --sanitizer $sanitizer $t $f"
        echo "      shrink: cargo +$toolchain fuzz tmin --fuzz-dir tests/fuzz --sanitizer $sanitizer $t $f"
      done
    else
      echo "fuzz: $t: no input was written (a build or start-up failure, or out of memory; see the log)"
    fi
  fi
  rm -f "$marker"
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${targets[*]}: no crash"
