# shellcheck shell=bash
# The SQLite section of scripts/bench.sh (sourced by it): the same `events` table in a database file,
# db-backup against `sqlite3 .backup` and `sqlite3 .backup` followed by `gzip -6`; restores against
# `gunzip -c > file`.

bench_sqlite() {
  local rows=${BENCH_OTHER_ROWS:-1000000}
  log "== SQLite: creating a database of $rows rows"
  mkdir -p "$work/lite"
  local db=$work/lite/app.db
  sqlite3 "$db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TABLE events (id INTEGER PRIMARY KEY, created_at TEXT, user_id INTEGER, kind TEXT, payload TEXT, note TEXT);
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < $rows)
INSERT INTO events (created_at, user_id, kind, payload, note)
SELECT datetime('now', '-' || abs(random() % 31536000) || ' seconds'), abs(random() % 100000),
       CASE abs(random() % 6) WHEN 0 THEN 'login' WHEN 1 THEN 'logout' WHEN 2 THEN 'purchase'
                              WHEN 3 THEN 'view' WHEN 4 THEN 'click' ELSE 'signup' END,
       json_object('ip', abs(random() % 256) || '.' || abs(random() % 256) || '.' || abs(random() % 256) || '.' || abs(random() % 256),
         'amount', round(abs(random() % 100000) / 100.0, 2), 'sku', lower(hex(randomblob(16))),
         'ua', CASE abs(random() % 3) WHEN 0 THEN 'Mozilla/5.0 (X11; Linux x86_64)'
                                     WHEN 1 THEN 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)' ELSE 'curl/8.5.0' END),
       substr(lower(hex(randomblob(48))), 1, 32 * (1 + abs(random() % 3)))
FROM g;
SQL
  local dbb=(env -i PATH="$PATH" DB_TYPE=sqlite DB_PATH="$db" DB_CONTAINER=bench BACKUP_DIR="$BENCH_OUT"
    BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn)
  local cases=(
    "sqlite3 .backup"
    "db-backup backup-db (gzip)"
    "db-backup backup-db (zstd)"
    "sqlite3 .backup && gzip -6"
  )
  local round
  for round in $(seq "$rounds"); do
    log "== SQLite: round $round of $rounds"
    bench_run "${cases[0]}" "x.db" sqlite3 "$db" ".backup '$BENCH_OUT/x.db'"
    bench_run "${cases[1]}" "bench-*.gz" "${dbb[@]}" "$bin" backup-db
    bench_run "${cases[2]}" "bench-*.zst" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db
    bench_run "${cases[3]}" "x.db.gz" sh -c 'sqlite3 "$1" ".backup '"'"'$2'"'"'" && gzip -6 "$2"' sh "$db" "$BENCH_OUT/x.db"
  done
  bench_rss "${cases[1]}" "${dbb[@]}" "$bin" backup-db
  bench_rss "${cases[2]}" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db

  log "== SQLite: restores of one file, gunzip -c > file against db-backup restore"
  "${dbb[@]}" "$bin" backup-db
  local file
  file=$(ls "$BENCH_OUT"/bench-*.gz | head -n 1)
  local restores=("gunzip -c file > db" "db-backup restore")
  for round in $(seq "$rounds"); do
    rm -f "$work/lite/r1.db" "$work/lite/r2.db"*
    bench_time "${restores[0]}" sh -c 'gunzip -c "$1" > "$2"' sh "$file" "$work/lite/r1.db"
    bench_time "${restores[1]}" "${dbb[@]}" DB_PATH="$work/lite/r2.db" "$bin" restore "$(basename "$file")" >/dev/null
  done

  echo "## SQLite"
  echo
  echo "$(date -u +%Y-%m-%d): $rows rows of the same \`events\` table, a $(($(stat -c %s "$db") / 1000000)) MB database file,"
  echo "$rounds rounds, SQLite $(sqlite3 --version | awk '{print $1}'). Machine: $(bench_machine)."
  echo
  bench_table "${cases[0]}" "${cases[@]}"
  echo
  bench_table "${restores[0]}" "${restores[@]}"
}
