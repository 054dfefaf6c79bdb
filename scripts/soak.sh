#!/usr/bin/env bash
# A short soak of backup-service (by hand, not in CI): a backup every second for SOAK_SECONDS (default 300)
# against a throwaway PostgreSQL under pgbench write load, with the database stopped for SOAK_DOWN_SECONDS
# (default 10) in the middle and started again. Every SOAK_SAMPLE_SECONDS (default 5) it samples the service's
# RSS, open file descriptors, threads, child processes (and zombies) and `db-backup healthcheck` (every second
# while the database is down).
#
# At the end it stops the service (SIGTERM) and checks: the runs while the database was up all succeeded and
# backups were made again after the restart; the health check was healthy at the end (and, noted but not
# required, unhealthy while the database was down); the RSS median of the last minute is within +20% of the
# first minute's (from the first backup on; the samples fall in two groups, between backups and during one,
# so a median that moves from one group to the other fails only when the highest RSS also grew by 20%); the
# highest file descriptor and thread counts of the last minute stay within those of the first (+2 fds,
# +4 threads: a sample may catch a backup's pipes or a worker thread that has not yet idled out);
# no child stayed a zombie from one sample to the next, there were never more than SOAK_MAX_CHILDREN (3)
# children, and nothing of the service's session is left after it exits; `db-backup verify all` passes, and a
# sample of 5 backups (oldest, newest and three between; SOAK_RESTORE=all for every one) restores into fresh
# databases holding pgbench's tables. It prints a summary table and exits non-zero when any check fails.
#
# Time: SOAK_SECONDS plus about a minute (pgbench -i, the checks and restores), plus the release build of
# db-backup on the first run. Runs as root (the server then runs as `postgres`) or as a normal user.
#
# Other settings: SOAK_KEEP (DB_BACKUP_MAX_N, default 20), SOAK_SCALE (pgbench scale, default 5: about 75 MB),
# SOAK_WAIT_TIMEOUT (DB_WAIT_TIMEOUT, default 2, so that runs fail while the server is down rather than wait),
# SOAK_KEEP_WORK=1 to keep the work directory (backups, logs, samples) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh

soak_seconds=${SOAK_SECONDS:-300}
sample_every=${SOAK_SAMPLE_SECONDS:-5}
down_seconds=${SOAK_DOWN_SECONDS:-10}
keep=${SOAK_KEEP:-20}
scale=${SOAK_SCALE:-5}
wait_timeout=${SOAK_WAIT_TIMEOUT:-2}
restore_sample=${SOAK_RESTORE:-5}
max_children=${SOAK_MAX_CHILDREN:-3}
for v in soak_seconds sample_every down_seconds keep scale wait_timeout max_children; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "soak.sh: $v must be a whole number, not '${!v}'" >&2; exit 2; }
done
((soak_seconds >= 120)) || { echo "soak.sh: SOAK_SECONDS must be at least 120 (a first and a last minute)" >&2; exit 2; }

echo "== building db-backup (release)"
cargo build --release --quiet
bin=$PWD/target/release/db-backup

work=$(mktemp -d)
chmod 0711 "$work" # as root, the server runs as `postgres` and must reach $work/pg
mkdir -m 0700 "$work/backups"
svc_pid="" bench_pid=""
cleanup() {
  local status=$?
  [[ -n $bench_pid ]] && kill "$bench_pid" 2>/dev/null && wait "$bench_pid" 2>/dev/null
  [[ -n $svc_pid ]] && kill "$svc_pid" 2>/dev/null && wait "$svc_pid" 2>/dev/null
  pg_stop "$work/pg" || true
  if [[ ${SOAK_KEEP_WORK:-} == 1 ]]; then
    echo "work directory kept: $work"
  else
    rm -rf "$work"
  fi
  return "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== a throwaway PostgreSQL"
pg_start "$work/pg"
pg_dir=$(cd "$work/pg" && pwd)
pg_opts="-p $PG_PORT -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
password=$(<"$PG_PASSWORD_FILE")
pgbench_bin=$PG_BIN/pgbench
[[ -x $pgbench_bin ]] || pgbench_bin=$(command -v pgbench) ||
  { echo "soak.sh: pgbench not found (Debian: postgresql-contrib or the postgresql package)" >&2; exit 1; }
sql() { PGPASSWORD=$password "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -At -v ON_ERROR_STOP=1 "$@"; }
pg_ctl() { (cd "$pg_dir" && _pg_as_owner "$PG_BIN/pg_ctl" --pgdata="$pg_dir/data" --log="$pg_dir/server.log" "$@"); }
bench() { PGPASSWORD=$password "$pgbench_bin" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

sql -d postgres -c "CREATE DATABASE soak"
echo "== pgbench -i -s $scale"
bench -i -q -s "$scale" soak >"$work/pgbench-init.log" 2>&1 || { cat "$work/pgbench-init.log" >&2; exit 1; }
start_load() { # pgbench in the background until the soak's end
  local left=$((soak_seconds - (SECONDS - t0) + 5))
  bench -n -c 2 -T "$left" soak >>"$work/pgbench.log" 2>&1 &
  bench_pid=$!
}

svc_env=(env -i PATH="$PATH" TZ=UTC LOG_FORMAT=json DB_TYPE=postgres DB_HOST=127.0.0.1 DB_PORT="$PG_PORT"
  DB_USER=postgres DB_PASSWORD_FILE="$PG_PASSWORD_FILE" DB_NAME=soak DB_CONTAINER=soak
  BACKUP_DIR="$work/backups" DB_BACKUP_INTERVAL=1 DB_BACKUP_MAX_N="$keep" DB_WAIT_TIMEOUT="$wait_timeout")
log=$work/service.log
count() { grep -c "\"message\":\"$1" "$log" || true; }

echo "== backup-service every second for $soak_seconds s (database down for $down_seconds s at the middle)"
t0=$SECONDS
start_load
# A session of its own, so that whatever the service starts can be found (and must be gone) after it exits.
setsid "${svc_env[@]}" "$bin" backup-service >"$log" 2>&1 &
svc_pid=$!
sleep 0.5
[[ $(readlink "/proc/$svc_pid/exe") == "$bin" ]] || { echo "soak.sh: the service did not start:" >&2; cat "$log" >&2; exit 1; }

samples=$work/samples.tsv
printf 't\trss_kb\tfds\tthreads\tchildren\tzombies\thealth\tdb\tok\tfailed\tzombie_pids\n' >"$samples"
printf '%6s %9s %5s %8s %9s %8s %10s %5s %6s %7s\n' t rss_kb fds threads children zombies health db ok failed
sample() {
  local t=$((SECONDS - t0)) rss fds threads kids=() zombies=0 zpids=() k health db
  [[ -d /proc/$svc_pid ]] || { echo "soak.sh: backup-service exited during the soak:" >&2; tail -n 20 "$log" >&2; exit 1; }
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$svc_pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$svc_pid/status")
  fds=$(find "/proc/$svc_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
  mapfile -t kids < <(cat /proc/"$svc_pid"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d')
  for k in ${kids[@]+"${kids[@]}"}; do
    if [[ $(awk '{print $3}' "/proc/$k/stat" 2>/dev/null) == Z ]]; then
      zombies=$((zombies + 1))
      zpids+=("$k")
    fi
  done
  if "${svc_env[@]}" "$bin" healthcheck >/dev/null 2>&1; then health=healthy; else health=unhealthy; fi
  if sql -d postgres -c 'SELECT 1' >/dev/null 2>&1; then db=up; else db=down; fi
  local line=("$t" "$rss" "$fds" "$threads" "${#kids[@]}" "$zombies" "$health" "$db" "$(count 'backup run succeeded')"
    "$(count 'backup run failed')" "$(IFS=, && echo "${zpids[*]:--}")")
  (IFS=$'\t' && echo "${line[*]}") >>"$samples"
  printf '%6s %9s %5s %8s %9s %8s %10s %5s %6s %7s\n' "${line[@]:0:10}"
}

half=$((soak_seconds / 2))
down_at="" up_at="" failed_at_down=0 ok_at_up=0 recovered_at=""
next_sample=0
while (((SECONDS - t0) < soak_seconds)); do
  now=$((SECONDS - t0))
  if [[ -z $down_at ]] && ((now >= half)); then
    failed_at_down=$(count 'backup run failed')
    echo "-- t=$now: stopping PostgreSQL for $down_seconds s"
    down_at=$now
    pg_ctl --mode=fast --wait --silent stop
    wait "$bench_pid" 2>/dev/null || true # pgbench loses its connections
    bench_pid=""
    while (((SECONDS - t0) < down_at + down_seconds)); do # a sample a second while it is down: unhealthy?
      sleep 1
      sample
    done
    pg_ctl --wait --silent --timeout=30 -o "$pg_opts" start >/dev/null
    up_at=$((SECONDS - t0))
    ok_at_up=$(count 'backup run succeeded')
    echo "-- t=$up_at: PostgreSQL is up again"
    start_load
  fi
  if [[ -n $up_at && -z $recovered_at ]] && (($(count 'backup run succeeded') > ok_at_up)); then
    recovered_at=$((SECONDS - t0))
  fi
  if ((now >= next_sample)); then
    sample
    next_sample=$((now + sample_every))
  fi
  sleep 1
done
sample
final_health=$(tail -n 1 "$samples" | cut -f 7)

echo "== stopping backup-service (SIGTERM)"
[[ -n $bench_pid ]] && { kill "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; bench_pid=""; }
kill -TERM "$svc_pid"
svc_status=0
wait "$svc_pid" || svc_status=$?
sid=$svc_pid
svc_pid=""
sleep 1
left_over=$(ps -e -o sid=,pid=,args= | awk -v s="$sid" '$1 == s' || true)

ok_total=$(count 'backup run succeeded')
failed_total=$(count 'backup run failed')
attempts_failed=$(count 'backup attempt failed')
# Runs that failed while the database was up: before the stop, and after the first success after the start
# (counted in the log: failures logged after that success).
failed_before=$failed_at_down
failed_after_log=$(awk -v n="$ok_at_up" '/"message":"backup run succeeded/ {s++} s > n && /"message":"backup run failed/ {f++} END {print f + 0}' "$log")

# The first and the last minute of samples (t < 60, t >= end - 60).
end_t=$(tail -n 1 "$samples" | cut -f 1)
column_in() { # column_in COLUMN FROM TO: the values of a column for FROM <= t < TO, one a line
  awk -F'\t' -v c="$1" -v a="$2" -v b="$3" 'NR > 1 && $1 >= a && $1 < b {print $c}' "$samples"
}
median() { sort -n | awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2)}'; }
maximum() { sort -n | tail -n 1; }
first_backup_t=$(awk -F'\t' 'NR > 1 && $9 > 0 {print $1; exit}' "$samples")
rss_first=$(column_in 2 "${first_backup_t:-0}" $((${first_backup_t:-0} + 60)) | median)
rss_first_max=$(column_in 2 "${first_backup_t:-0}" $((${first_backup_t:-0} + 60)) | maximum)
rss_last=$(column_in 2 $((end_t - 60)) $((end_t + 1)) | median)
rss_last_max=$(column_in 2 $((end_t - 60)) $((end_t + 1)) | maximum)
fds_first_max=$(column_in 3 0 60 | maximum)
fds_first=$(column_in 3 0 60 | median)
fds_last=$(column_in 3 $((end_t - 60)) $((end_t + 1)) | median)
fds_last_max=$(column_in 3 $((end_t - 60)) $((end_t + 1)) | maximum)
threads_first_max=$(column_in 4 0 60 | maximum)
threads_last_max=$(column_in 4 $((end_t - 60)) $((end_t + 1)) | maximum)
children_max=$(column_in 5 0 $((end_t + 1)) | maximum)
zombies_seen=$(column_in 6 0 $((end_t + 1)) | awk '{s += $1} END {print s + 0}')
# A child between its exit and the service's wait for it is a zombie for a moment; one still a zombie at a
# later sample (a second or more on) was never waited for.
zombies_kept=$(column_in 11 0 $((end_t + 1)) | tr ',' '\n' | awk '$0 != "-"' | sort | uniq -d | wc -l)
skipped=$(awk '/"message":"scheduled run\(s\) skipped/ {sub(/.*"skipped":/, ""); s += $0 + 0} END {print s + 0}' "$log")
unhealthy_down=$(awk -F'\t' -v a="$down_at" -v b="${recovered_at:-999999}" 'NR > 1 && $1 >= a && $1 <= b && $7 == "unhealthy"' "$samples" | wc -l)

echo "== db-backup verify all"
verify_ok=yes
"${svc_env[@]}" "$bin" verify all >"$work/verify.log" 2>&1 || { verify_ok=no; tail -n 20 "$work/verify.log" >&2; }

mapfile -t files < <(cd "$work/backups" && find . -maxdepth 1 -name 'soak-*.sql.gz' -printf '%f\n' | sort)
n=${#files[@]}
picks=()
if [[ $restore_sample == all ]]; then
  for ((i = 0; i < n; i++)); do picks+=("$i"); done
elif ((n > 0)); then
  k=$restore_sample
  ((k > n)) && k=$n
  for ((j = 0; j < k; j++)); do
    ((k == 1)) && picks+=($((n - 1))) && break
    picks+=($((j * (n - 1) / (k - 1))))
  done
  mapfile -t picks < <(printf '%s\n' "${picks[@]}" | sort -nu)
fi
echo "== restoring ${#picks[@]} of $n backups into fresh databases"
restored=0 restore_failed=()
for i in ${picks[@]+"${picks[@]}"}; do
  f=${files[$i]} db=check_$i
  if "${svc_env[@]}" "$bin" restore "$f" --database "$db" >"$work/restore-$i.log" 2>&1 &&
    [[ $(sql -d "$db" -c 'SELECT count(*) FROM pgbench_branches') == "$scale" ]] &&
    [[ $(sql -d "$db" -c 'SELECT count(*) FROM pgbench_accounts') == "$((scale * 100000))" ]]; then
    restored=$((restored + 1))
    echo "   $f -> $db: pgbench_accounts $((scale * 100000)) rows, history $(sql -d "$db" -c 'SELECT count(*) FROM pgbench_history') rows"
  else
    restore_failed+=("$f")
    echo "   $f -> $db: FAILED" >&2
    tail -n 5 "$work/restore-$i.log" >&2
  fi
  sql -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
done

# The summary.
failures=0
row() { # row CHECK FIGURES (note | COMMAND...): the command's status decides ok or FAIL
  local name=$1 figures=$2 mark=ok
  shift 2
  if [[ $1 == note ]]; then
    mark=note
  elif ! "$@"; then
    mark=FAIL failures=$((failures + 1))
  fi
  printf '%-44s %-50s %s\n' "$name" "$figures" "$mark"
}
rss_limit=$((rss_first * 120 / 100))
rss_grew=no
((rss_last > rss_limit && rss_last_max > rss_first_max * 120 / 100)) && rss_grew=yes
left_count=0
[[ -n $left_over ]] && left_count=$(wc -l <<<"$left_over")
echo
echo "== summary: ${soak_seconds} s soak, backup every second, PostgreSQL down t=${down_at}-${up_at} s"
printf '%-44s %-50s %s\n' check figures result
row "backup runs (succeeded / failed)" "$ok_total / $failed_total (+$attempts_failed retried attempts)" note
row "scheduled runs skipped (previous running)" "$skipped" note
row "runs failed before the stop" "$failed_before" test "$failed_before" -eq 0
row "runs failed during the outage" "$((failed_total - failed_before - failed_after_log)) (down t=$down_at, up t=$up_at)" note
row "backups again after the restart" "first success at t=${recovered_at:-never}" test -n "$recovered_at"
row "runs failed after recovery" "$failed_after_log" test "$failed_after_log" -eq 0
row "unhealthy while the database was down" "$unhealthy_down sample(s)" note
row "healthy at the end" "$final_health" test "$final_health" = healthy
row "RSS median, first -> last minute (kB)" "$rss_first -> $rss_last (highest $rss_first_max -> $rss_last_max)" \
  test "$rss_grew" = no
row "open fds, median first -> last minute" "$fds_first -> $fds_last (highest $fds_first_max -> $fds_last_max)" \
  test "$fds_last_max" -le $((fds_first_max + 2))
row "threads, highest first -> last minute" "$threads_first_max -> $threads_last_max" \
  test "$threads_last_max" -le $((threads_first_max + 4))
row "children at a sample, highest" "$children_max" test "$children_max" -le "$max_children"
row "zombies kept (seen at 2+ samples)" "$zombies_kept ($zombies_seen seen for a moment)" test "$zombies_kept" -eq 0
row "service exit status after SIGTERM" "$svc_status" test "$svc_status" -eq 0
row "processes left in the service's session" "$left_count" test "$left_count" -eq 0
row "backups present (DB_BACKUP_MAX_N=$keep)" "$n" test "$n" -gt 0
row "db-backup verify all" "$verify_ok" test "$verify_ok" = yes
row "restored into fresh databases" "$restored of ${#picks[@]} ($restore_sample of $n sampled)" \
  test "$restored" -eq "${#picks[@]}" -a "$restored" -gt 0
if [[ -n $left_over ]]; then echo "left in the session:"; echo "$left_over"; fi
if ((failures)); then
  echo "soak: $failures check(s) failed (samples: $samples, log: $log; SOAK_KEEP_WORK=1 keeps them)" >&2
  exit 1
fi
echo "soak: every check passed"
