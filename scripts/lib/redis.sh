# shellcheck shell=bash
# Throwaway Redis servers for scripts (source this file):
#   redis_start <dir>   redis-server on a free port of 127.0.0.1 with a random password, nothing saved on
#                       its own, no delay before a replica's transfer (repl-diskless-sync-delay 0); sets
#                       REDIS_PORT and REDIS_PASSWORD_FILE
#   redis_stop <dir>    shutdown, then removes <dir>.
#   rcli ARGS...        redis-cli against that server (the password travels in REDISCLI_AUTH)

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

redis_start() {
  local dir=${1:?usage: redis_start <dir>}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir"
  REDIS_PASSWORD_FILE=$dir/password
  (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$REDIS_PASSWORD_FILE")
  local attempt
  for attempt in 1 2 3 4 5; do
    REDIS_PORT=$(free_port) || return 1
    # The password reaches the server on stdin, as a configuration file, never on its command line.
    printf 'requirepass %s\n' "$(<"$REDIS_PASSWORD_FILE")" |
      redis-server - --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        --dbfilename dump.rdb --logfile "$dir/server.log" --pidfile "$dir/redis.pid" --daemonize yes \
        --repl-diskless-sync-delay 0 >/dev/null
    export REDIS_PORT REDIS_PASSWORD_FILE
    for _ in $(seq 100); do
      rcli ping 2>/dev/null | grep -q PONG && return 0
      sleep 0.1
    done
  done
  echo "redis.sh: redis-server did not start (attempt $attempt); its log:" >&2
  cat "$dir/server.log" >&2 2>/dev/null
  return 1
}

rcli() { REDISCLI_AUTH=$(<"$REDIS_PASSWORD_FILE") redis-cli -p "$REDIS_PORT" "$@"; }

redis_stop() {
  local dir=${1:?usage: redis_stop <dir>}
  [[ -d $dir ]] || return 0
  if [[ -f $dir/redis.pid ]]; then
    local pid
    pid=$(<"$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$dir"
}
