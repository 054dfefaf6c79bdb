#!/usr/bin/env bash
# Speed and memory of db-backup against the bare dump tools and the pipelines users run today, each engine on
# a throwaway server of its own.
#
#   scripts/bench.sh                                   every engine: PostgreSQL at 3,000,000 rows (a ~770 MB
#                                                      plain dump), the others at 1,000,000; 3 rounds
#   BENCH_ENGINES="mysql redis" scripts/bench.sh       some engines only (postgres mysql redis sqlite pipeline
#                                                      pgrestore)
#   BENCH_ENGINES=pgrestore scripts/bench.sh           PostgreSQL restores of 200 tables (BENCH_PGR_TABLES) of
#                                                      20,000 rows (BENCH_PGR_ROWS): psql from a plain backup
#                                                      against pg_restore -j 1, 2 and 4 from a custom one
#   BENCH_ENGINES=pipeline BENCH_PIPE_MB=400 scripts/bench.sh
#                                                      the byte path alone: peak memory at 1 to 16 threads
#                                                      (with and without encryption and two S3 destinations),
#                                                      restore and verify time against backup time
#   BENCH_ROWS=300000 BENCH_OTHER_ROWS=100000 BENCH_ROUNDS=2 scripts/bench.sh
#
# Every round runs each case once, in the same alternating order; the tables show the median wall time, its
# ratio to the bare dump in the same run, CPU time (user + sys of the whole pipeline), the peak resident
# memory of db-backup itself (VmHWM, sampled from /proc; the dump tool not counted) and the output size.
# Each engine's section goes to bench/results/<engine>.md; bench/RESULTS.md is all sections put together,
# so an engine not run this time keeps its last section.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/bench.sh

engines=${BENCH_ENGINES:-postgres mysql redis sqlite pipeline pgrestore}
rounds=${BENCH_ROUNDS:-3}
BENCH_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

log() { echo "$@" >&2; }

need=()
for tool in pigz zstd gzip bc /usr/bin/time sqlite3 curl age-keygen; do command -v "$tool" >/dev/null || need+=("${tool##*/}"); done
need=("${need[@]/#age-keygen/age}") # the Debian package of age-keygen
if ((${#need[@]})); then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "bench.sh: install ${need[*]} first" >&2
    exit 1
  fi
fi

log "== building db-backup (release)"
cargo build --quiet --release
bin=${CARGO_TARGET_DIR:-$PWD/target}/release/db-backup

work=$(mktemp -d)
chmod 0711 "$work" # as root, PostgreSQL runs as `postgres` and must reach $work/pg
# Each section adds the commands that stop its server; they run when it ends (or the script does).
CLEANUP=()
stop_servers() {
  local c
  for c in "${CLEANUP[@]}"; do $c || true; done
  CLEANUP=()
}
trap 'stop_servers; rm -rf "$work"' EXIT
BENCH_OUT=$work/out
BENCH_TIMES=$work/time
mkdir -m 0700 "$BENCH_OUT"

mkdir -p bench/results
for engine in $engines; do
  case $engine in
  postgres | mysql | redis | sqlite | pipeline | pgrestore) ;;
  *)
    echo "bench.sh: BENCH_ENGINES: unknown engine \"$engine\" (postgres, mysql, redis, sqlite, pipeline, pgrestore)" >&2
    exit 2
    ;;
  esac
  source "scripts/bench/$engine.sh"
  bench_reset
  "bench_$engine" >"$work/$engine.md"
  stop_servers
  mv "$work/$engine.md" "bench/results/$engine.md"
  cat "bench/results/$engine.md"
done

{
  echo "# Benchmark results"
  echo
  echo "Made by \`scripts/bench.sh\`. Ratios of backups are to the bare dump tool in the same run; ratios of"
  echo "restores to the plain pipeline of the same file. Each section says when and on what it was measured."
  for engine in postgres pgrestore mysql redis sqlite pipeline; do
    [[ -f bench/results/$engine.md ]] || continue
    echo
    cat "bench/results/$engine.md"
  done
} >bench/RESULTS.md
log "== written: bench/RESULTS.md"
