# shellcheck shell=bash
# The pipeline section of scripts/bench.sh (sourced by it): the byte path alone, through the command engine
# (`BACKUP_CMD` cats a generated file of CSV rows), so no database server takes a share of the cores.
#   - peak resident memory of db-backup (VmHWM) at BACKUP_THREADS=1, 2, 4, 8 and 16, gzip, with the default
#     BACKUP_MEMORY_LIMIT: to the local directory alone, and encrypted (age, to a public key) to two S3
#     destinations (a local moto_server) and the directory at once;
#   - restore (`--to-file`, and through a RESTORE_CMD that discards) and verify, against the backup itself.
# BENCH_PIPE_MB sets the size of the plain stream (default 400).

bench_pipeline() {
  local mb=${BENCH_PIPE_MB:-400}
  local moto=$PWD/target/venv-s3/bin/moto_server
  [[ -x $moto ]] || moto=$(command -v moto_server || true)
  if [[ -z $moto ]]; then
    echo "bench.sh: moto_server is needed for the S3 cases (scripts/test.sh installs it into target/venv-s3)" >&2
    return 1
  fi
  log "== pipeline: generating $mb MB of CSV rows"
  mkdir -p "$work/pipe"
  local data=$work/pipe/rows.csv
  awk -v bytes=$((mb * 1000000)) 'BEGIN { srand(7); n = 0
    while (n < bytes) {
      line = sprintf("%d,%d-%02d-%02d %02d:%02d:%02d,%d,%s,{\"amount\": %.2f, \"sku\": \"%08x%08x\"}\n",
        NR++, 2020 + int(rand() * 6), 1 + int(rand() * 12), 1 + int(rand() * 28), int(rand() * 24),
        int(rand() * 60), int(rand() * 60), int(rand() * 100000), (rand() < 0.5 ? "view" : "purchase"),
        rand() * 1000, int(rand() * 4294967295), int(rand() * 4294967295))
      printf "%s", line; n += length(line) } }' >"$data"

  local port=$((20000 + RANDOM % 20000))
  MOTO_ALLOW_NONEXISTENT_REGION=true "$moto" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  local moto_pid=$!
  CLEANUP+=("kill $moto_pid")
  local tries=0
  until curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; do
    ((++tries < 300)) || {
      echo "bench.sh: moto_server did not start" >&2
      return 1
    }
    sleep 0.1
  done
  curl -fsS -X PUT "http://127.0.0.1:$port/first" >/dev/null
  curl -fsS -X PUT "http://127.0.0.1:$port/second" >/dev/null
  age-keygen -o "$work/pipe/key.txt" 2>/dev/null
  local public
  public=$(age-keygen -y "$work/pipe/key.txt")

  local dbb=(env -i PATH="$PATH" BACKUP_CMD="cat $data" BACKUP_NAME=csv DB_CONTAINER=bench BACKUP_DIR="$BENCH_OUT"
    BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn)
  local s3=()
  local group bucket
  for group in S3_:first S3_2_:second; do
    bucket=${group#*:}
    group=${group%:*}
    s3+=("${group}ENDPOINT=http://127.0.0.1:$port" "${group}ACCESS_KEY=bench" "${group}SECRET_KEY=bench"
      "${group}BACKUP_BUCKET=$bucket" "${group}REGION=us-east-1" "${group}FORCE_PATH_STYLE=true")
  done
  local threads rss_rows=()
  for threads in 1 2 4 8 16; do
    log "== pipeline: peak memory at BACKUP_THREADS=$threads"
    bench_rss "local $threads" "${dbb[@]}" BACKUP_THREADS="$threads" "$bin" backup-db
    bench_rss "s3 $threads" "${dbb[@]}" BACKUP_THREADS="$threads" BACKUP_ENCRYPTION_RECIPIENTS="$public" \
      "${s3[@]}" "$bin" backup-db
    rss_rows+=("| $threads | $((${BENCH_RSS[local $threads]} / 1024)) MiB | $((${BENCH_RSS[s3 $threads]} / 1024)) MiB |")
  done

  log "== pipeline: restore and verify against the backup"
  local restores=("db-backup backup-db (gzip)" "db-backup restore --to-file" "db-backup restore (RESTORE_CMD discards)"
    "db-backup verify")
  local round file
  for round in $(seq "$rounds"); do
    log "== pipeline: round $round of $rounds"
    bench_run "${restores[0]}" "bench-*.gz" "${dbb[@]}" "$bin" backup-db
    file=$(basename "$(ls "$BENCH_OUT"/bench-*.csv.gz | head -n 1)")
    rm -f "$work/pipe/out.csv"
    bench_time "${restores[1]}" "${dbb[@]}" "$bin" restore "$file" --to-file "$work/pipe/out.csv" >/dev/null
    bench_time "${restores[2]}" "${dbb[@]}" RESTORE_CMD="cat >/dev/null" "$bin" restore "$file" >/dev/null
    bench_time "${restores[3]}" "${dbb[@]}" "$bin" verify "$file" >/dev/null
  done
  cmp -s "$data" "$work/pipe/out.csv" || {
    echo "bench.sh: restore --to-file did not give back the backed-up bytes" >&2
    return 1
  }

  echo "## The byte path (gzip, command engine)"
  echo
  echo "$(date -u +%Y-%m-%d): a $mb MB stream of CSV rows through \`BACKUP_CMD\`, $rounds rounds, default"
  echo "\`BACKUP_MEMORY_LIMIT\`. Machine: $(bench_machine)."
  echo
  echo "Peak resident memory of db-backup (VmHWM) by \`BACKUP_THREADS\`; \"S3\" is encrypted (age) to two S3"
  echo "destinations (a local moto_server) and the local directory at once:"
  echo
  echo "| BACKUP_THREADS | local | encrypted, local + two S3 |"
  echo "|---|---|---|"
  printf '%s\n' "${rss_rows[@]}"
  echo
  echo "Restore and verify of the same backup, against the backup's own time:"
  echo
  bench_table "${restores[0]}" "${restores[@]}"
}
