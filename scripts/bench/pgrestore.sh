# shellcheck shell=bash
# The parallel PostgreSQL restore section of scripts/bench.sh (sourced by it): a database of many tables
# restored by db-backup with psql from a plain backup, and with pg_restore -j 1, 2 and 4 from a custom one
# (gzip, so the archive is spooled to BACKUP_DIR first; and uncompressed, read in place).
source scripts/lib/pg.sh

bench_pgrestore() {
  local tables=${BENCH_PGR_TABLES:-200} rows=${BENCH_PGR_ROWS:-20000}
  log "== PostgreSQL parallel restore: starting a throwaway server, $tables tables of $rows rows"
  pg_start "$work/pgr"
  CLEANUP+=("pg_stop $work/pgr")
  local password
  password=$(<"$PG_PASSWORD_FILE")
  psql_() { PGPASSWORD=$password "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
  psql_ -d postgres -c "CREATE DATABASE bench"
  # Each table: a primary key, a secondary index and a foreign key to the first table, so that a restore
  # has indexes and constraints to build besides the data.
  psql_ -d bench <<SQL
CREATE TABLE t0 (id int PRIMARY KEY, name text);
INSERT INTO t0 SELECT g, md5(g::text) FROM generate_series(1, 1000) g;
DO \$\$ BEGIN FOR i IN 1..$tables LOOP
  EXECUTE format('CREATE TABLE t%s (id bigint PRIMARY KEY, ref int REFERENCES t0 (id), at timestamptz,
    kind text, note text)', i);
  EXECUTE format('INSERT INTO t%s SELECT g, 1 + g %% 1000, now() - g * interval ''1 minute'',
    (array[''a'',''b'',''c''])[1 + g %% 3], repeat(md5((g * %s)::text), 1 + g %% 2)
    FROM generate_series(1, $rows) g', i, i);
  EXECUTE format('CREATE INDEX t%s_at ON t%s (at)', i, i);
END LOOP; END \$\$;
VACUUM ANALYZE;
SQL

  local dbb=(env -i PATH="$PATH" DB_TYPE=postgres DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_USER=postgres
    DB_PASSWORD_FILE="$PG_PASSWORD_FILE" DB_CONTAINER=bench BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0
    LOG_LEVEL=warn)
  local plain=$BENCH_OUT/plain custom=$BENCH_OUT/custom raw=$BENCH_OUT/raw
  mkdir -p "$plain" "$custom" "$raw"
  "${dbb[@]}" DB_NAME=bench BACKUP_DIR="$plain" "$bin" backup-db
  "${dbb[@]}" DB_NAME=bench BACKUP_DIR="$custom" PG_DUMP_FORMAT=custom "$bin" backup-db
  "${dbb[@]}" DB_NAME=bench BACKUP_DIR="$raw" PG_DUMP_FORMAT=custom BACKUP_COMPRESSION=none "$bin" backup-db
  local plain_file custom_file raw_file
  plain_file=$(basename "$(ls "$plain"/bench-*.sql.gz | head -n 1)")
  custom_file=$(basename "$(ls "$custom"/bench-*.dump.gz | head -n 1)")
  raw_file=$(basename "$(ls "$raw"/bench-*.dump | head -n 1)")
  local archive_size plain_size
  archive_size=$(stat -c %s "$raw/$raw_file")
  plain_size=$(gzip -dc "$plain/$plain_file" | wc -c)

  local cases=(
    "psql, plain backup (gzip)"
    "pg_restore -j 1, custom backup (gzip)"
    "pg_restore -j 2, custom backup (gzip, spooled)"
    "pg_restore -j 4, custom backup (gzip, spooled)"
    "pg_restore -j 2, custom backup (uncompressed, in place)"
    "pg_restore -j 4, custom backup (uncompressed, in place)"
  )
  # Every case restores into a new database, dropped right after its run so that its autovacuum does not
  # run during the next.
  restore_case() {
    local name=$1 dir=$2 file=$3 jobs=$4
    bench_time "$name" "${dbb[@]}" DB_NAME=restored BACKUP_DIR="$dir" PG_RESTORE_JOBS="$jobs" \
      "$bin" restore "$file" >/dev/null
    psql_ -d postgres -c "DROP DATABASE restored"
  }
  local round
  for round in $(seq "$rounds"); do
    log "== PostgreSQL parallel restore: round $round of $rounds"
    restore_case "${cases[0]}" "$plain" "$plain_file" 1
    restore_case "${cases[1]}" "$custom" "$custom_file" 1
    restore_case "${cases[2]}" "$custom" "$custom_file" 2
    restore_case "${cases[3]}" "$custom" "$custom_file" 4
    restore_case "${cases[4]}" "$raw" "$raw_file" 2
    restore_case "${cases[5]}" "$raw" "$raw_file" 4
  done
  # The spool's own cost: one more parallel restore, its log line giving the time to write the archive out.
  local spool_ms
  spool_ms=$("${dbb[@]}" DB_NAME=restored BACKUP_DIR="$custom" PG_RESTORE_JOBS=2 LOG_LEVEL=info \
    "$bin" restore "$custom_file" 2>&1 >/dev/null | sed -n 's/.*custom archive written.*duration_ms=\([0-9]*\).*/\1/p')
  psql_ -d postgres -c "DROP DATABASE restored"
  local stored_plain stored_custom
  stored_plain=$(stat -c %s "$plain/$plain_file")
  stored_custom=$(stat -c %s "$custom/$custom_file")
  rm -rf "$plain" "$custom" "$raw"

  echo "## PostgreSQL parallel restore"
  echo
  echo "$(date -u +%Y-%m-%d): $tables tables of $rows rows (each with a primary key, an index and a foreign key),"
  echo "a $((plain_size / 1000000)) MB plain dump ($((stored_plain / 1000000)) MB stored, gzip) and a $((archive_size / 1000000)) MB custom archive ($((stored_custom / 1000000)) MB"
  echo "stored, gzip), $rounds rounds, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'); db-backup \`restore\` into a new database each"
  echo "time. A parallel restore of the gzip backup first writes the $((archive_size / 1000000)) MB archive to BACKUP_DIR (in one more"
  echo "run: ${spool_ms:-?} ms, while pg_restore reads it through); the uncompressed backup is read in place."
  echo "Machine: $(bench_machine). The 2 cores are shared with other work (hence the"
  echo "load), so the figures vary from run to run, and more jobs than cores compete with the server."
  echo
  bench_table "${cases[0]}" "${cases[@]}"
}
