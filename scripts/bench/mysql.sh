# shellcheck shell=bash
# The MariaDB section of scripts/bench.sh (sourced by it): the same `events` table, db-backup against
# `mariadb-dump > /dev/null` (with the options db-backup gives it) and `mariadb-dump | gzip -6`; restores
# against `gunzip -c | mariadb`.
source scripts/lib/mariadb.sh

bench_mysql() {
  local rows=${BENCH_OTHER_ROWS:-1000000}
  log "== MariaDB: starting a throwaway server and loading $rows rows"
  mariadb_start "$work/my"
  CLEANUP+=("mariadb_stop $work/my")
  my() { mariadb --defaults-file="$MARIADB_CNF" "$@"; }
  my -e "CREATE DATABASE bench"
  my bench <<SQL
CREATE TABLE events (id bigint AUTO_INCREMENT PRIMARY KEY, created_at datetime(6), user_id int, kind varchar(16),
                     payload json, note text);
INSERT INTO events (created_at, user_id, kind, payload, note)
SELECT now(6) - INTERVAL floor(rand()*365*86400) SECOND, floor(rand()*100000),
       elt(1 + floor(rand()*6), 'login','logout','purchase','view','click','signup'),
       json_object('ip', concat_ws('.', floor(rand()*255), floor(rand()*255), floor(rand()*255), floor(rand()*255)),
         'amount', round(rand()*1000, 2), 'sku', md5(rand()),
         'ua', elt(1 + floor(rand()*3), 'Mozilla/5.0 (X11; Linux x86_64)', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)', 'curl/8.5.0')),
       repeat(md5(rand()), 1 + floor(rand()*3))
FROM seq_1_to_$rows;
SQL

  local dump=(mariadb-dump --defaults-file="$MARIADB_CNF" --single-transaction --quick --routines --triggers
    --events --hex-blob --no-tablespaces --max-allowed-packet=1073741824 bench)
  local dbb=(env -i PATH="$PATH" DB_TYPE=mysql DB_HOST=127.0.0.1 DB_PORT="$MARIADB_PORT" DB_USER=root
    DB_PASSWORD_FILE="$MARIADB_PASSWORD_FILE" DB_NAME=bench DB_CONTAINER=bench BACKUP_DIR="$BENCH_OUT"
    BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn)
  local cases=(
    "mariadb-dump > /dev/null"
    "db-backup backup-db (gzip)"
    "db-backup backup-db (zstd)"
    "mariadb-dump | gzip -6"
    "mariadb-dump | pigz -6 -p2"
  )
  local round
  for round in $(seq "$rounds"); do
    log "== MariaDB: round $round of $rounds"
    bench_run "${cases[0]}" "" sh -c '"$@" > /dev/null' sh "${dump[@]}"
    bench_run "${cases[1]}" "bench-*.sql.gz" "${dbb[@]}" "$bin" backup-db
    bench_run "${cases[2]}" "bench-*.sql.zst" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db
    bench_run "${cases[3]}" "x.gz" sh -c '"$@" | gzip -6 > '"$BENCH_OUT/x.gz" sh "${dump[@]}"
    bench_run "${cases[4]}" "x.gz" sh -c '"$@" | pigz -6 -p2 > '"$BENCH_OUT/x.gz" sh "${dump[@]}"
  done
  bench_rss "${cases[1]}" "${dbb[@]}" "$bin" backup-db
  bench_rss "${cases[2]}" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db

  log "== MariaDB: restores of one file, gunzip -c | mariadb against db-backup restore"
  "${dbb[@]}" "$bin" backup-db
  local file
  file=$(ls "$BENCH_OUT"/bench-*.sql.gz | head -n 1)
  local restores=("gunzip -c file | mariadb" "db-backup restore")
  # Each restored database is dropped right after its run, so that its background work does not run during the next.
  for round in $(seq "$rounds"); do
    my -e "CREATE DATABASE r1"
    bench_time "${restores[0]}" sh -c 'gunzip -c "$1" | mariadb --defaults-file="$2" r1' sh "$file" "$MARIADB_CNF"
    my -e "DROP DATABASE r1"
    bench_time "${restores[1]}" "${dbb[@]}" DB_NAME=r2 "$bin" restore "$(basename "$file")" >/dev/null
    my -e "DROP DATABASE r2"
  done
  local dump_size
  dump_size=$("${dump[@]}" | wc -c)

  echo "## MariaDB"
  echo
  echo "$(date -u +%Y-%m-%d): $rows rows of the same \`events\` table, a $((dump_size / 1000000)) MB dump, $rounds rounds,"
  echo "MariaDB $(mariadbd --version | awk '{print $3}'). Machine: $(bench_machine)."
  echo
  bench_table "${cases[0]}" "${cases[@]}"
  echo
  bench_table "${restores[0]}" "${restores[@]}"
}
