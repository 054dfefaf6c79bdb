#!/usr/bin/env bash
# Speed and memory of db-backup against the pipelines users run today, on one throwaway PostgreSQL.
#
#   scripts/bench.sh                 3,000,000 rows (a ~770 MB plain dump), 3 rounds
#   BENCH_ROWS=300000 BENCH_ROUNDS=2 scripts/bench.sh
#
# Every round runs each case once, in the same alternating order; the table shows the median wall time,
# its ratio to `pg_dump > /dev/null` in the same run, CPU time (user + sys of the whole pipeline), the peak
# resident memory of db-backup itself (VmHWM, sampled from /proc; the dump tool not counted) and the output
# size. The table and the machine's description go to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh

rows=${BENCH_ROWS:-3000000}
rounds=${BENCH_ROUNDS:-3}

need=()
for tool in pigz zstd gzip /usr/bin/time; do command -v "$tool" >/dev/null || need+=("${tool##*/}"); done
if ((${#need[@]})); then
  if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null; then
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "bench.sh: install ${need[*]} first" >&2
    exit 1
  fi
fi

echo "== building db-backup (release)"
cargo build --quiet --release
bin=$PWD/target/release/db-backup

work=$(mktemp -d)
chmod 0711 "$work"
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
mkdir -m 0700 "$work/out"

echo "== starting a throwaway PostgreSQL and loading $rows rows"
pg_start "$work/pg"
export PGPASSWORD
PGPASSWORD=$(<"$PG_PASSWORD_FILE")
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres
psql_() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
psql_ -d bench <<SQL
CREATE TABLE events (id bigserial primary key, created_at timestamptz, user_id int, kind text, payload jsonb, note text);
INSERT INTO events (created_at, user_id, kind, payload, note)
SELECT now() - (random()*interval '365 days'), (random()*100000)::int,
       (array['login','logout','purchase','view','click','signup'])[1+floor(random()*6)::int],
       jsonb_build_object('ip', concat_ws('.', (random()*255)::int,(random()*255)::int,(random()*255)::int,(random()*255)::int),
         'amount', round((random()*1000)::numeric,2), 'sku', md5(random()::text),
         'ua', (array['Mozilla/5.0 (X11; Linux x86_64)','Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)','curl/8.5.0'])[1+floor(random()*3)::int]),
       repeat(md5(random()::text), 1 + (random()*3)::int)
FROM generate_series(1, $rows);
VACUUM ANALYZE events;
SQL

pg_dump_=("$PG_BIN/pg_dump" -d bench)
# db-backup's environment, as a command prefix (so that /usr/bin/time can run it).
dbb=(env -i PATH="$PATH" DB_TYPE=postgres DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_USER=postgres
  DB_PASSWORD_FILE="$PG_PASSWORD_FILE" DB_NAME=bench DB_CONTAINER=bench BACKUP_DIR="$work/out"
  BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn)

declare -A wall cpu rss size
# run NAME OUTPUT COMMAND...: times one case; OUTPUT is the file whose size is reported ("" for none).
run() {
  local name=$1 output=$2
  shift 2
  rm -f "$work/out"/* "$work/out"/.db-backup* 2>/dev/null || true
  local start end times hwm="" pid
  start=$(date +%s.%N)
  /usr/bin/time -o "$work/time" -f "%U %S" "$@" &
  pid=$!
  if [[ $name == db-backup* ]]; then
    # The peak of db-backup itself: its VmHWM, read until it exits.
    local child
    while kill -0 "$pid" 2>/dev/null; do
      child=$(pgrep -P "$pid" -x db-backup || true)
      [[ -n $child ]] && hwm=$(awk '/VmHWM/ {print $2}' "/proc/$child/status" 2>/dev/null || echo "$hwm")
      sleep 0.02
    done
  fi
  wait "$pid"
  end=$(date +%s.%N)
  times=$(<"$work/time")
  wall[$name]+="$(echo "$end - $start" | bc) "
  cpu[$name]+="$(echo "$times" | awk '{print $1 + $2}') "
  [[ -n $hwm ]] && rss[$name]+="$hwm "
  if [[ -n $output ]]; then
    local f
    f=$(ls "$work/out"/$output 2>/dev/null | head -n 1)
    [[ -n $f ]] && size[$name]=$(stat -c %s "$f")
  fi
}

cases=(
  "pg_dump > /dev/null"
  "db-backup backup-db (gzip)"
  "db-backup backup-db (zstd)"
  "pg_dump | gzip -6"
  "pg_dump -Fc"
  "pg_dump | pigz -6 -p2"
  "pg_dump | zstd -3 -T2"
)
for round in $(seq "$rounds"); do
  echo "== round $round of $rounds"
  run "${cases[0]}" "" sh -c '"$@" > /dev/null' sh "${pg_dump_[@]}"
  run "${cases[1]}" "bench-*.sql.gz" "${dbb[@]}" "$bin" backup-db
  run "${cases[2]}" "bench-*.sql.zst" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db
  run "${cases[3]}" "x.gz" sh -c '"$@" | gzip -6 > '"$work/out/x.gz" sh "${pg_dump_[@]}"
  run "${cases[4]}" "x.dump" "${pg_dump_[@]}" -Fc -f "$work/out/x.dump"
  run "${cases[5]}" "x.gz" sh -c '"$@" | pigz -6 -p2 > '"$work/out/x.gz" sh "${pg_dump_[@]}"
  run "${cases[6]}" "x.zst" sh -c '"$@" | zstd -q -3 -T2 > '"$work/out/x.zst" sh "${pg_dump_[@]}"
done

echo "== restore: gunzip -c | psql against db-backup restore, same file"
"${dbb[@]}" "$bin" backup-db
file=$(ls "$work/out"/bench-*.sql.gz | head -n 1)
restore_cases=("gunzip -c file | psql" "db-backup restore")
for round in $(seq "$rounds"); do
  psql_ -d postgres -c "DROP DATABASE IF EXISTS r1" -c "CREATE DATABASE r1"
  start=$(date +%s.%N)
  /usr/bin/time -o "$work/time" -f "%U %S" sh -c 'gunzip -c "$1" | "$2" -X -q -v ON_ERROR_STOP=1 --single-transaction -d r1 >/dev/null' sh "$file" "$PG_BIN/psql"
  wall[${restore_cases[0]}]+="$(echo "$(date +%s.%N) - $start" | bc) "
  cpu[${restore_cases[0]}]+="$(awk '{print $1 + $2}' "$work/time") "
  psql_ -d postgres -c "DROP DATABASE IF EXISTS r2"
  start=$(date +%s.%N)
  /usr/bin/time -o "$work/time" -f "%U %S" env -i PATH="$PATH" DB_TYPE=postgres DB_HOST=127.0.0.1 \
    DB_PORT="$PG_PORT" DB_USER=postgres DB_PASSWORD_FILE="$PG_PASSWORD_FILE" DB_NAME=r2 DB_CONTAINER=bench \
    BACKUP_DIR="$work/out" LOG_LEVEL=warn "$bin" restore "$(basename "$file")" >/dev/null
  wall[${restore_cases[1]}]+="$(echo "$(date +%s.%N) - $start" | bc) "
  cpu[${restore_cases[1]}]+="$(awk '{print $1 + $2}' "$work/time") "
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print ""}'; }
dump_size=$("${pg_dump_[@]}" | wc -c)
base=$(echo "${wall[${cases[0]}]}" | median)
rbase=$(echo "${wall[${restore_cases[0]}]}" | median)

table() {
  echo "| case | wall s (median of $rounds) | ratio | CPU s | db-backup peak RSS | output |"
  echo "|---|---|---|---|---|---|"
  local c w
  for c in "${cases[@]}"; do
    w=$(echo "${wall[$c]}" | median)
    printf '| `%s` | %.2f | %.2fx | %.2f | %s | %s |\n' "${c//|/\\|}" "$w" "$(echo "$w / $base" | bc -l)" \
      "$(echo "${cpu[$c]}" | median)" \
      "$(r=$(echo "${rss[$c]:-}" | median); [[ -n $r ]] && echo "$((r / 1024)) MiB" || echo "-")" \
      "$(s=${size[$c]:-}; [[ -n $s ]] && echo "$((s / 1000000)) MB" || echo "-")"
  done
  for c in "${restore_cases[@]}"; do
    w=$(echo "${wall[$c]}" | median)
    printf '| `%s` | %.2f | %.2fx | %.2f | - | - |\n' "${c//|/\\|}" "$w" "$(echo "$w / $rbase" | bc -l)" \
      "$(echo "${cpu[$c]}" | median)"
  done
}

{
  echo "# Benchmark results"
  echo
  echo "Made by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d): $rows rows, a $((dump_size / 1000000)) MB plain dump,"
  echo "$rounds rounds. Ratios of backups are to \`pg_dump > /dev/null\`; ratios of restores to \`gunzip -c | psql\`."
  echo
  echo "Machine: $(nproc) cores ($(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//')),"
  echo "$(free -g | awk '/Mem:/ {print $2}') GiB memory, $(uname -sr), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')."
  echo
  table
} >bench/RESULTS.md
cat bench/RESULTS.md
