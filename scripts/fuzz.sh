#!/usr/bin/env bash
# Runs each fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for a bounded time; any crash fails the run.
#
#   scripts/fuzz.sh                      # every target, FUZZ_SECONDS (20) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh rdb # one target, longer, by hand
#
# Targets (fuzz/fuzz_targets): config (Config::from_vars), backup_name (BackupName::parse), rdb (the Redis RDB
# reader). Each starts from fuzz/seeds/<target> and keeps what it finds in fuzz/corpus/<target> (not in git);
# a crashing input lands in fuzz/artifacts/<target>/ and the script prints how to replay it.
#
# cargo-fuzz needs a nightly toolchain: when `cargo +nightly` is missing it is installed with rustup (minimal
# profile), and cargo-fuzz with `cargo install`. A tool that cannot be installed fails the run under CI=true
# and is skipped with a notice elsewhere.
#
# Settings (environment):
#   FUZZ_SECONDS     seconds per target (default 20; 0 runs nothing)
#   FUZZ_SANITIZER   none (default) or address. The code fuzzed is safe Rust, where the bounds and overflow
#                    checks (on in this build) catch what AddressSanitizer would, at twice the speed and half
#                    the build time; use address for long runs by hand.
#   FUZZ_TOOLCHAIN   the toolchain cargo-fuzz builds with (default nightly)
#   FUZZ_TARGET_DIR  the build directory (default ~/.cache/db-backup/fuzz-target: outside the work tree, so
#                    that a fresh clone on the same machine reuses the instrumented dependencies; a cold
#                    build takes about 6 minutes on 2 cores, a warm one about 1)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${FUZZ_SECONDS:-20}
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
target_dir=${FUZZ_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/db-backup/fuzz-target}
all_targets=(config backup_name rdb)
targets=("$@")
((${#targets[@]})) || targets=("${all_targets[@]}")

[[ $seconds =~ ^[0-9]+$ ]] || { echo "FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2; exit 2; }
((seconds > 0)) || { echo "FUZZ_SECONDS=0: no fuzzing"; exit 0; }
for t in "${targets[@]}"; do
  [[ -f fuzz/fuzz_targets/$t.rs ]] || { echo "no fuzz target '$t' (have: ${all_targets[*]})" >&2; exit 2; }
done

unavailable() {
  local message="cannot install $1; the fuzz targets need it"
  if [[ ${CI:-} == true ]]; then
    echo "$message" >&2
    exit 1
  fi
  echo "SKIPPED: $message" >&2
  exit 0
}

if ! cargo "+$toolchain" --version >/dev/null 2>&1; then
  command -v rustup >/dev/null || unavailable "the $toolchain Rust toolchain (no rustup)"
  echo "installing the $toolchain Rust toolchain (rustup, minimal profile)"
  rustup toolchain install "$toolchain" --profile minimal ||
    unavailable "the $toolchain Rust toolchain (rustup toolchain install $toolchain)"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz)"
  cargo install cargo-fuzz --locked --quiet || unavailable "cargo-fuzz (cargo install cargo-fuzz, crates.io)"
fi

# Under AddressSanitizer, libdeflate (C, through libdeflater) defines one table in two of its files, which ASan
# reports as an ODR violation at start-up before any input runs; it is harmless (the two are identical).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0

logs=$target_dir/logs
mkdir -p "$logs"
flags=(-O --sanitizer "$sanitizer" --codegen-units 16 --target-dir "$target_dir")

echo "building the fuzz targets ($toolchain, sanitizer $sanitizer, in $target_dir)"
started=$SECONDS
if ! cargo "+$toolchain" fuzz build "${flags[@]}" >"$logs/build.log" 2>&1; then
  tail -n 40 "$logs/build.log" >&2
  echo "the fuzz targets do not build (log: $logs/build.log)" >&2
  exit 1
fi
echo "built in $((SECONDS - started)) s"
# The binaries are run directly rather than through `cargo fuzz run`, which would rebuild first.
bin_dir=$target_dir/$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')/release

failed=()
for t in "${targets[@]}"; do
  corpus=$root/fuzz/corpus/$t
  mkdir -p "$corpus" "$root/fuzz/artifacts/$t"
  extra=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
  [[ -f fuzz/$t.dict ]] && extra+=(-dict="$root/fuzz/$t.dict")
  log=$logs/$t.log
  # libFuzzer stops itself after max_total_time; the outer limit only catches a fuzzer that hangs.
  if timeout --kill-after=10 $((seconds + 120)) \
    "$bin_dir/$t" -artifact_prefix="$root/fuzz/artifacts/$t/" "${extra[@]}" "$corpus" "$root/fuzz/seeds/$t" \
    >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    printf 'fuzz %-12s %4s s  %10s inputs  corpus %s  no crash\n' "$t" "$seconds" "${runs:-?}" \
      "$(find "$corpus" -type f | wc -l)"
  else
    failed+=("$t")
    echo "fuzz $t: FAILED; the end of its log ($log):" >&2
    { grep -v '^#[0-9]' "$log" || true; } | tail -n 40 >&2 # without libFuzzer's progress lines
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    if [[ -n $artifact ]]; then
      echo "replay: $bin_dir/$t $artifact   (or: cargo +$toolchain fuzz run ${flags[*]} $t $artifact)" >&2
    fi
  fi
done

if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
