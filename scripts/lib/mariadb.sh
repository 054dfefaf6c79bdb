# shellcheck shell=bash
# Throwaway MariaDB servers for scripts (source this file):
#   mariadb_start <dir>   mariadb-install-db in <dir>/data, mariadbd on a free port of 127.0.0.1 (socket
#                         <dir>/sock); root gets a random password; sets MARIADB_PORT, MARIADB_PASSWORD_FILE and
#                         MARIADB_CNF (a client option file with the socket and the password, for mariadb and
#                         mariadb-dump: `mariadb --defaults-file="$MARIADB_CNF"`)
#   mariadb_stop <dir>    shutdown, then removes <dir>.

source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

mariadb_start() {
  local dir=${1:?usage: mariadb_start <dir>}
  mkdir -p "$dir/tmp"
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir"
  local as_root=()
  [[ $EUID -eq 0 ]] && as_root=(--user=root)
  if ! mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve "${as_root[@]}" >"$dir/install.log" 2>&1; then
    cat "$dir/install.log" >&2
    return 1
  fi
  MARIADB_PORT=$(free_port) || return 1
  mariadbd --no-defaults --datadir="$dir/data" --tmpdir="$dir/tmp" --socket="$dir/sock" \
    --pid-file="$dir/mariadbd.pid" --port="$MARIADB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
    --skip-log-bin --innodb-log-file-size=256M --innodb-buffer-pool-size=512M \
    --innodb-flush-log-at-trx-commit=0 --skip-innodb-doublewrite --event-scheduler=OFF "${as_root[@]}" \
    >"$dir/server.log" 2>&1 &
  local i
  for i in $(seq 300); do
    [[ -S $dir/sock ]] && mariadb --no-defaults --socket="$dir/sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ((i == 300)); then
    echo "mariadb.sh: mariadbd did not start; its log:" >&2
    cat "$dir/server.log" >&2
    return 1
  fi
  MARIADB_PASSWORD_FILE=$dir/password
  (umask 077 && head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$MARIADB_PASSWORD_FILE")
  # root exists for localhost and, without name resolution, for 127.0.0.1 and ::1: each gets the password.
  local host
  for host in $(mariadb --no-defaults --socket="$dir/sock" -uroot -N -e \
    "SELECT Host FROM mysql.user WHERE User = 'root' AND Host IN ('localhost', '127.0.0.1', '::1')"); do
    mariadb --no-defaults --socket="$dir/sock" -uroot \
      -e "ALTER USER 'root'@'$host' IDENTIFIED BY '$(<"$MARIADB_PASSWORD_FILE")'"
  done
  MARIADB_CNF=$dir/client.cnf
  (umask 077 && printf '[client]\nuser=root\npassword=%s\nsocket=%s\n' "$(<"$MARIADB_PASSWORD_FILE")" \
    "$dir/sock" >"$MARIADB_CNF")
  export MARIADB_PORT MARIADB_PASSWORD_FILE MARIADB_CNF
}

mariadb_stop() {
  local dir=${1:?usage: mariadb_stop <dir>}
  [[ -d $dir ]] || return 0
  if [[ -f $dir/mariadbd.pid ]]; then
    local pid
    pid=$(<"$dir/mariadbd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -rf "$dir"
}
