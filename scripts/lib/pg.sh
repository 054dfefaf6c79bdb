# shellcheck shell=bash
# Throwaway PostgreSQL servers for scripts (source this file):
#   pg_start <dir>   initdb in <dir>/data, start on a free port of 127.0.0.1 (socket in <dir>),
#                    password auth (scram-sha-256) for TCP; sets PG_BIN, PG_PORT, PG_PASSWORD_FILE
#                    and writes <dir>/port and <dir>/password (the superuser `postgres`'s password).
#   pg_stop <dir>    fast shutdown, then removes <dir>.
# initdb and postgres refuse to run as root: as root, the server runs as the `postgres` user, so the
# parents of <dir> must be searchable by that user (mktemp -d makes 0700 directories: chmod 0711).

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

# The newest /usr/lib/postgresql/<N>/bin (Debian), else wherever initdb is on PATH.
pg_bin_dir() {
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -n $newest && -x $newest/postgres ]]; then
    echo "$newest"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v initdb)")"
  else
    echo "pg.sh: no PostgreSQL server binaries (install the postgresql package)" >&2
    return 1
  fi
}

# Runs a command as the owner of the cluster: `postgres` when we are root, else ourselves.
_pg_as_owner() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local dir=${1:?usage: pg_start <dir>}
  PG_BIN=$(pg_bin_dir) || return 1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir"
  [[ $EUID -eq 0 ]] && chown postgres: "$dir"
  PG_PASSWORD_FILE=$dir/password
  (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PG_PASSWORD_FILE")
  # initdb reads the password from a file the server's user can read; it is removed right after.
  (umask 077 && cp "$PG_PASSWORD_FILE" "$dir/pwfile")
  [[ $EUID -eq 0 ]] && chown postgres: "$dir/pwfile"
  if ! (cd "$dir" && _pg_as_owner "$PG_BIN/initdb" --pgdata="$dir/data" --username=postgres \
    --pwfile="$dir/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1); then
    cat "$dir/initdb.log" >&2
    return 1
  fi
  rm -f "$dir/pwfile"
  local attempt
  for attempt in 1 2 3 4 5; do
    PG_PORT=$(free_port) || return 1
    if (cd "$dir" && _pg_as_owner "$PG_BIN/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" \
      --wait --timeout=30 --silent \
      -o "-p $PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" \
      start >/dev/null); then
      echo "$PG_PORT" >"$dir/port"
      export PG_BIN PG_PORT PG_PASSWORD_FILE
      return 0
    fi
    grep -q "could not bind" "$dir/server.log" 2>/dev/null || break
  done
  echo "pg.sh: PostgreSQL did not start (attempt $attempt); its log:" >&2
  cat "$dir/server.log" >&2 2>/dev/null
  return 1
}

pg_stop() {
  local dir=${1:?usage: pg_stop <dir>}
  [[ -d $dir ]] || return 0
  local bin
  bin=$(pg_bin_dir) || return 1
  if [[ -f $dir/data/postmaster.pid ]]; then
    (cd "$dir" && _pg_as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=fast --wait --silent stop) ||
      echo "pg.sh: pg_ctl stop failed for $dir" >&2
  fi
  rm -rf "$dir"
}
