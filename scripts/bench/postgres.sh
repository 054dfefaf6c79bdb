# shellcheck shell=bash
# The PostgreSQL section of scripts/bench.sh (sourced by it): the data set of the speed issue, db-backup
# against `pg_dump > /dev/null` and the pipelines users run today; restores against `gunzip -c | psql`.
source scripts/lib/pg.sh

bench_postgres() {
  local rows=${BENCH_ROWS:-3000000}
  log "== PostgreSQL: starting a throwaway server and loading $rows rows"
  pg_start "$work/pg"
  CLEANUP+=("pg_stop $work/pg")
  local password
  password=$(<"$PG_PASSWORD_FILE")
  psql_() { PGPASSWORD=$password "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
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

  # The dump tool and db-backup both get the password from their environment or a file, never argv.
  local dump=(env PGPASSWORD="$password" "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench)
  local dbb=(env -i PATH="$PATH" DB_TYPE=postgres DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_USER=postgres
    DB_PASSWORD_FILE="$PG_PASSWORD_FILE" DB_NAME=bench DB_CONTAINER=bench BACKUP_DIR="$BENCH_OUT"
    BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn)
  local cases=(
    "pg_dump > /dev/null"
    "db-backup backup-db (gzip)"
    "db-backup backup-db (zstd)"
    "pg_dump | gzip -6"
    "pg_dump -Fc"
    "pg_dump | pigz -6 -p2"
    "pg_dump | zstd -3 -T2"
  )
  local round
  for round in $(seq "$rounds"); do
    log "== PostgreSQL: round $round of $rounds"
    bench_run "${cases[0]}" "" sh -c '"$@" > /dev/null' sh "${dump[@]}"
    bench_run "${cases[1]}" "bench-*.sql.gz" "${dbb[@]}" "$bin" backup-db
    bench_run "${cases[2]}" "bench-*.sql.zst" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db
    bench_run "${cases[3]}" "x.gz" sh -c '"$@" | gzip -6 > '"$BENCH_OUT/x.gz" sh "${dump[@]}"
    bench_run "${cases[4]}" "x.dump" "${dump[@]}" -Fc -f "$BENCH_OUT/x.dump"
    bench_run "${cases[5]}" "x.gz" sh -c '"$@" | pigz -6 -p2 > '"$BENCH_OUT/x.gz" sh "${dump[@]}"
    bench_run "${cases[6]}" "x.zst" sh -c '"$@" | zstd -q -3 -T2 > '"$BENCH_OUT/x.zst" sh "${dump[@]}"
  done
  bench_rss "${cases[1]}" "${dbb[@]}" "$bin" backup-db
  bench_rss "${cases[2]}" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db

  log "== PostgreSQL: restores of one file, gunzip -c | psql against db-backup restore"
  "${dbb[@]}" "$bin" backup-db
  local file
  file=$(ls "$BENCH_OUT"/bench-*.sql.gz | head -n 1)
  local restores=("gunzip -c file | psql" "db-backup restore")
  # Each restored database is dropped right after its run, so that its autovacuum does not run during the next.
  for round in $(seq "$rounds"); do
    psql_ -d postgres -c "CREATE DATABASE r1"
    bench_time "${restores[0]}" env PGPASSWORD="$password" sh -c 'gunzip -c "$1" | "$2" -h 127.0.0.1 -p "$3" -U postgres -X -q -v ON_ERROR_STOP=1 --single-transaction -d r1 >/dev/null' \
      sh "$file" "$PG_BIN/psql" "$PG_PORT"
    psql_ -d postgres -c "DROP DATABASE r1"
    bench_time "${restores[1]}" "${dbb[@]}" DB_NAME=r2 "$bin" restore "$(basename "$file")" >/dev/null
    psql_ -d postgres -c "DROP DATABASE r2"
  done
  # Memory must not grow with the data: the same backup of five times the dump, fed by the command engine.
  log "== PostgreSQL: peak memory at five times the data"
  "${dump[@]}" -f "$work/dump.sql"
  local dump_size five="db-backup backup-db (gzip), 5x the data"
  dump_size=$(stat -c %s "$work/dump.sql")
  bench_rss "$five" env -i PATH="$PATH" BACKUP_CMD="for i in 1 2 3 4 5; do cat '$work/dump.sql'; done" \
    DB_CONTAINER=bench BACKUP_DIR="$BENCH_OUT" BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn "$bin" backup-db
  rm -f "$work/dump.sql"

  echo "## PostgreSQL"
  echo
  echo "$(date -u +%Y-%m-%d): $rows rows of the speed issue's \`events\` table, a $((dump_size / 1000000)) MB plain dump,"
  echo "$rounds rounds, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'). Machine: $(bench_machine)."
  echo
  bench_table "${cases[0]}" "${cases[@]}"
  echo
  bench_table "${restores[0]}" "${restores[@]}"
  echo
  echo "Peak resident memory of db-backup with five times the data (the dump fed five times over through"
  echo "\`BACKUP_CMD\`, $((dump_size * 5 / 1000000)) MB): $((${BENCH_RSS[$five]} / 1024)) MiB."
}
