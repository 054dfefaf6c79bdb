# shellcheck shell=bash
# The Redis section of scripts/bench.sh (sourced by it): strings of event-like JSON and small hashes,
# db-backup against `redis-cli --rdb` and `redis-cli --rdb` followed by `gzip -6`; a restore into the
# emptied server.
source scripts/lib/redis.sh

bench_redis() {
  local keys=${BENCH_OTHER_ROWS:-1000000}
  log "== Redis: starting a throwaway server and loading $keys keys"
  redis_start "$work/redis"
  CLEANUP+=("redis_stop $work/redis")
  # Every key a JSON string like a row of the events table; every tenth also a hash of four fields.
  awk -v n="$keys" 'BEGIN {
    srand(42)
    split("login logout purchase view click signup", kinds, " ")
    for (i = 1; i <= n; i++) {
      key = "event:" i
      val = sprintf("{\"user_id\":%d,\"kind\":\"%s\",\"ip\":\"%d.%d.%d.%d\",\"amount\":%.2f,\"sku\":\"%08x%08x%08x%08x\"}",
        int(rand() * 100000), kinds[1 + int(rand() * 6)], int(rand() * 256), int(rand() * 256),
        int(rand() * 256), int(rand() * 256), rand() * 1000,
        rand() * 4294967295, rand() * 4294967295, rand() * 4294967295, rand() * 4294967295)
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, length(val), val
      if (i % 10 == 0) {
        key = "user:" i
        printf "*10\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(key), key
        for (f = 1; f <= 4; f++) {
          v = sprintf("%08x", rand() * 4294967295)
          printf "$2\r\nf%d\r\n$%d\r\n%s\r\n", f, length(v), v
        }
      }
    }
  }' | rcli --pipe >/dev/null

  local dbb=(env -i PATH="$PATH" DB_TYPE=redis DB_HOST=127.0.0.1 DB_PORT="$REDIS_PORT"
    DB_PASSWORD_FILE="$REDIS_PASSWORD_FILE" DB_CONTAINER=bench BACKUP_DIR="$BENCH_OUT"
    BACKUP_RETENTION_DAYS=0 DB_BACKUP_MAX_N=0 LOG_LEVEL=warn)
  local cases=(
    "redis-cli --rdb"
    "db-backup backup-db (gzip)"
    "db-backup backup-db (zstd)"
    "redis-cli --rdb && gzip -6"
  )
  local round auth
  auth=$(<"$REDIS_PASSWORD_FILE")
  for round in $(seq "$rounds"); do
    log "== Redis: round $round of $rounds"
    bench_run "${cases[0]}" "x.rdb" env REDISCLI_AUTH="$auth" sh -c \
      'redis-cli -p "$1" --rdb "$2" >/dev/null 2>&1' sh "$REDIS_PORT" "$BENCH_OUT/x.rdb"
    bench_run "${cases[1]}" "bench-*.gz" "${dbb[@]}" "$bin" backup-db
    bench_run "${cases[2]}" "bench-*.zst" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db
    bench_run "${cases[3]}" "x.rdb.gz" env REDISCLI_AUTH="$auth" sh -c \
      'redis-cli -p "$1" --rdb "$2" >/dev/null 2>&1 && gzip -6 "$2"' sh "$REDIS_PORT" "$BENCH_OUT/x.rdb"
  done
  bench_rss "${cases[1]}" "${dbb[@]}" "$bin" backup-db
  bench_rss "${cases[2]}" "${dbb[@]}" BACKUP_COMPRESSION=zstd "$bin" backup-db

  log "== Redis: restores of one file into the emptied server"
  "${dbb[@]}" "$bin" backup-db
  local file
  file=$(ls "$BENCH_OUT"/bench-*.gz | head -n 1)
  local restores=("db-backup restore")
  for round in $(seq "$rounds"); do
    rcli flushall >/dev/null
    bench_time "${restores[0]}" "${dbb[@]}" "$bin" restore "$(basename "$file")" >/dev/null
  done
  local restored
  restored=$(rcli dbsize)

  echo "## Redis"
  echo
  echo "$(date -u +%Y-%m-%d): $keys JSON strings and $((keys / 10)) hashes ($restored keys after the last restore;"
  echo "the RDB's size is the first row's output), $rounds rounds,"
  echo "Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2). Machine: $(bench_machine)."
  echo "There is no bare restore to compare with (a restore of an RDB means replacing the server's file and restarting it)."
  echo
  bench_table "${cases[0]}" "${cases[@]}"
  echo
  bench_table "${restores[0]}" "${restores[@]}"
}
