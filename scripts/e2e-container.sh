#!/usr/bin/env bash
# The sidecar proven as a container, the way the README and docker-compose.example.yml use it, without an image
# registry: base images made by debootstrap from Debian packages only, this repository's Dockerfile built with
# build arguments for what cannot run offline, then for each engine a database container and the sidecar on a
# private network (DB_HOST = the service name, the password as a mounted *_FILE secret, ./backups bind-mounted
# and owned by uid 10001): `exec backup-db`, `list`, `verify all`, `restore latest --database check` compared
# with the source, the bad day (drop, `restore latest`), health going healthy, unhealthy while the database is
# down past the schedule, healthy again, and `stop` exiting 0 with only complete backups left. Then
# docker-compose.example.yml itself (profile postgres) with podman-compose, or `docker compose` with Docker.
#
# Runs with Docker when an engine answers `docker info`, else with podman (Debian package, installed with
# apt-get when missing) as root with the runc runtime. Under CI=true a missing or failing container runtime
# fails the run; elsewhere it is skipped with a notice.
#
# Caches (rebuilt when missing): the debootstrap bases as tarballs in E2E_CACHE (default
# /var/cache/db-backup-e2e); the release binary in target/. E2E_KEEP=1 leaves containers and files for a look.
# E2E_ENGINES="postgres mariadb redis sqlite compose" picks the scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${CI:-} ]] && export CI

CACHE=${E2E_CACHE:-/var/cache/db-backup-e2e}
# The Debian mirror the bases come from: E2E_MIRROR, else the one this machine's apt uses for bookworm.
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
    [[ -r $f ]] || continue
    if [[ $f == *.sources ]]; then
      uri=$(awk '/^URIs:/ { uri = $2 } /^Suites:.*bookworm( |$)/ && uri !~ /security/ { print uri; exit }' "$f")
    else
      uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' "$f")
    fi
    if [[ -n $uri ]]; then
      echo "$uri"
      return 0
    fi
  done
  return 0
}
MIRROR=${E2E_MIRROR:-$(host_mirror)}
ENGINES=${E2E_ENGINES:-postgres mariadb redis sqlite compose}
BASE_IMAGE=localhost/db-backup-e2e/bookworm-slim:latest
DB_IMAGE=localhost/db-backup-e2e/bookworm-db
IMAGE=localhost/db-backup-e2e/db-backup:latest
PREFIX=db-backup-e2e
started_all=$SECONDS

say() { printf '\n== %s\n' "$*"; }
fail() {
  echo "e2e-container: FAILED: $*" >&2
  exit 1
}
skip_or_fail() {
  if [[ ${CI:-} == true ]]; then
    fail "$1"
  fi
  echo "e2e-container: SKIPPED: $1" >&2
  exit 0
}

# ---------------------------------------------------------------------------------------------------------
# The container runtime.
ctr_flags=()
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  engine=docker
else
  if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1 ||
      skip_or_fail "no Docker engine and no podman; install podman, runc and debootstrap (Debian packages) as root"
    echo "installing podman, runc and debootstrap"
    pkgs=(podman runc debootstrap netavark aardvark-dns containernetworking-plugins iptables uidmap slirp4netns fuse-overlayfs)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${pkgs[@]}" >/dev/null; } || skip_or_fail "cannot install ${pkgs[*]} with apt-get"
  fi
  engine=podman
  # crun fails on hybrid cgroups; runc works.
  ctr_flags=(--runtime "$(command -v runc)")
fi
ctr() { "$engine" "${ctr_flags[@]}" "$@"; }
ctr info >/dev/null 2>&1 || skip_or_fail "$engine does not work here (\`$engine info\` fails)"
[[ $EUID -eq 0 ]] || skip_or_fail "this script needs root (debootstrap, bind mounts owned by uid 10001)"
# Within the host's hard limits: podman as root asks for more open files and processes than this kernel allows.
run_flags=(--ulimit nofile=20000:20000 --ulimit nproc=20000:20000)
# podman has no health timer without systemd: it runs the check when asked (`healthcheck run`); Docker every 2 s.
if [[ $engine == podman ]]; then
  health_flags=(--health-interval disable)
else
  health_flags=(--health-interval 2s)
fi
echo "container runtime: $engine ($($engine --version))"

# ---------------------------------------------------------------------------------------------------------
# Base images from Debian packages: a slim bookworm (the documentation left out as debian:bookworm-slim does) and
# one with PostgreSQL 15, MariaDB, Redis and sqlite3 with a small entrypoint.
mkdir -p "$CACHE"
make_base() {
  local root=$CACHE/root-slim
  [[ -n $MIRROR ]] || fail "no Debian mirror for bookworm in this machine's apt sources; set E2E_MIRROR"
  rm -rf "$root"
  say "debootstrap bookworm into $root"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; fail "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  # apt settings of the Debian images: no cached packages, no translations.
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$root"/usr/share/{man,info,lintian}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root"/usr/share/locale/*/
  echo "deb $MIRROR bookworm main" >"$root/etc/apt/sources.list"
  echo "deb $MIRROR bookworm-updates main" >>"$root/etc/apt/sources.list"
  tar -C "$root" -cf "$CACHE/bookworm-slim.tar.partial" . && mv "$CACHE/bookworm-slim.tar.partial" "$CACHE/bookworm-slim.tar"
}
make_db() {
  local root=$CACHE/root-db
  rm -rf "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$CACHE/bookworm-slim.tar"
  say "installing PostgreSQL 15, MariaDB, Redis and sqlite3 into $root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  mkdir -p "$root/etc/postgresql-common"
  echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.conf"
  chroot "$root" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends postgresql-15 mariadb-server redis-server sqlite3 >/dev/null && rm -rf /var/lib/apt/lists/*' >"$CACHE/db-install.log" 2>&1 ||
    fail "installing the database packages into $root failed"
  rm -f "$root/usr/sbin/policy-rc.d"
  tar -C "$root" -cf "$CACHE/bookworm-db.tar.partial" . && mv "$CACHE/bookworm-db.tar.partial" "$CACHE/bookworm-db.tar"
}
[[ -s $CACHE/bookworm-slim.tar ]] || make_base
[[ -s $CACHE/bookworm-db.tar ]] || make_db
import() {
  local image=$1 tar=$2
  if ! ctr image inspect "$image" >/dev/null 2>&1 || [[ $tar -nt $CACHE/.imported-$(basename "$tar") ]]; then
    say "importing $tar as $image"
    ctr import --change 'CMD ["/bin/bash"]' "$tar" "$image" >"$CACHE/import.log" 2>&1 || { cat "$CACHE/import.log" >&2; fail "podman import $tar failed"; }
    touch "$CACHE/.imported-$(basename "$tar")"
  fi
}
import "$BASE_IMAGE" "$CACHE/bookworm-slim.tar"
import "$DB_IMAGE-packages:latest" "$CACHE/bookworm-db.tar"
# The database image: the packages and the entrypoint scripts/lib/e2e-db.sh.
printf 'FROM %s\nCOPY e2e-db.sh /usr/local/bin/e2e-db\n' "$DB_IMAGE-packages:latest" |
  ctr build "${run_flags[@]}" -t "$DB_IMAGE" -f - scripts/lib >"$CACHE/db-build.log" 2>&1 ||
  { cat "$CACHE/db-build.log" >&2; fail "building $DB_IMAGE failed"; }

# ---------------------------------------------------------------------------------------------------------
# The image: this repository's Dockerfile with the release binary built here (Debian 12, like the image), the
# PostgreSQL client from Debian (apt.postgresql.org cannot be reached), and the bases made above.
say "cargo build --release --locked"
cargo build --release --locked --quiet
mkdir -p target/docker
cp target/release/db-backup target/docker/db-backup
say "$engine build the Dockerfile"
build_flags=()
[[ $engine == podman ]] && build_flags=(--format docker)
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
ctr build "${build_flags[@]}" "${run_flags[@]}" -t "$IMAGE" \
  --build-arg BUILD_IMAGE="$BASE_IMAGE" --build-arg RUNTIME_IMAGE="$BASE_IMAGE" \
  --build-arg BINARY_FROM=prebuilt --build-arg PG_CLIENT_SOURCE=debian --build-arg PG_CLIENT_VERSIONS=15 \
  --build-arg VERSION="$version" --build-arg REVISION="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --build-arg SOURCE_URL="$(git remote get-url origin 2>/dev/null || echo unknown)" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  . >"$CACHE/build.log" 2>&1 || { tail -30 "$CACHE/build.log" >&2; fail "the image build failed (log: $CACHE/build.log)"; }
image_bytes=$(ctr image inspect --format '{{.Size}}' "$IMAGE")
image_mb=$((image_bytes / 1000 / 1000))
echo "image $IMAGE: $image_mb MB"

# ---------------------------------------------------------------------------------------------------------
# The image itself: links on PATH, no dangling link, non-root, the HEALTHCHECK kept (`--format docker`).
say "the image: links, clients, user, HEALTHCHECK"
ctr run --rm "${run_flags[@]}" "${health_flags[@]}" --entrypoint bash "$IMAGE" -c '
  set -e
  for name in backup-service backup-db restore list verify prune; do
    [ "$(readlink "$(command -v "$name")")" = db-backup ] || { echo "$name is not a link to db-backup" >&2; exit 1; }
  done
  dangling=$(find /usr/bin /usr/sbin /usr/local/bin -xtype l)
  [ -z "$dangling" ] || { echo "dangling links: $dangling" >&2; exit 1; }
  /usr/lib/postgresql/15/bin/pg_dump --version
  mariadb-dump --version
  [ "$(id -u)" = 10001 ] || { echo "runs as uid $(id -u), not 10001" >&2; exit 1; }'
labels=$(ctr image inspect --format '{{json .Config.Labels}}' "$IMAGE")
for label in licenses source url created version revision; do
  [[ $labels == *"\"org.opencontainers.image.$label\""* ]] || fail "the image has no org.opencontainers.image.$label label (labels: $labels)"
done
[[ $labels == *'"org.opencontainers.image.licenses":"MIT"'* ]] || fail "the image's licenses label is not MIT (labels: $labels)"
ctr run --rm "${run_flags[@]}" --entrypoint cat "$IMAGE" /usr/share/doc/db-backup/LICENSE | grep -q "MIT License" ||
  fail "the image has no /usr/share/doc/db-backup/LICENSE"
healthcheck_cmd=$(ctr image inspect --format '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null || true)
[[ $healthcheck_cmd == *healthcheck* ]] || fail "the image has no HEALTHCHECK (got: ${healthcheck_cmd:-nothing})"
out=$(ctr run --rm "${run_flags[@]}" "${health_flags[@]}" -e DB_TYPE=postgres -e DB_NAME=app "$IMAGE" db-backup list 2>&1) ||
  fail "\`run IMAGE db-backup list\` failed: $out"

# ---------------------------------------------------------------------------------------------------------
work=$(mktemp -d /tmp/db-backup-e2e.XXXXXX)
chmod 0755 "$work"
password="e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s' "$password" >"$work/db_password"
chmod 0644 "$work/db_password" # read by the database's own user and by uid 10001
created=()
last_sidecar=
cleanup() {
  local status=$?
  if ((status != 0)) && [[ -n $last_sidecar ]]; then
    echo "--- logs of $last_sidecar (last 40 lines)" >&2
    ctr logs --tail 40 "$last_sidecar" >&2 2>&1 || true
  fi
  if [[ ${E2E_KEEP:-} == 1 ]]; then
    echo "E2E_KEEP=1: left ${created[*]} and $work in place" >&2
    return
  fi
  remove_all
  rm -rf "$work"
}
# Every container and network of this script (also those a killed earlier run left).
remove_all() {
  local c n
  for c in $(ctr ps -a --format '{{.Names}}' | grep "^$PREFIX-" || true); do
    ctr rm -f -t 0 "$c" >/dev/null 2>&1 || true
  done
  for n in $(ctr network ls --format '{{.Name}}' | grep "^$PREFIX-" || true); do
    ctr network rm -f "$n" >/dev/null 2>&1 || true
  done
}
remove_all
trap cleanup EXIT

now_ms() { date +%s%3N; }
# healthy or unhealthy: podman runs the check on demand (it has no timer without systemd), Docker on its own.
health() {
  if [[ $engine == podman ]]; then
    if ctr healthcheck run "$1" >/dev/null 2>&1; then echo healthy; else echo unhealthy; fi
  else
    docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1"
  fi
}
wait_health() {
  local name=$1 want=$2 tries=$3 got=
  for _ in $(seq "$tries"); do
    got=$(health "$name")
    [[ $got == "$want" ]] && return 0
    sleep 1
  done
  fail "$name is ${got:-without health} after ${tries} s, not $want: $(ctr exec "$name" db-backup healthcheck 2>&1 || true)"
}
wait_for() {
  local what=$1 tries=$2
  shift 2
  for _ in $(seq "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  fail "$what: not ready after $tries s"
}
# A sidecar as the compose example runs it: name, network, backups directory, then environment (-e ...) and
# any other run options.
sidecar() {
  local name=$1 net=$2 backups=$3
  shift 3
  created+=("$name")
  last_sidecar=$name
  ctr run -d --name "$name" --network "$net" "${run_flags[@]}" "${health_flags[@]}" \
    -v "$work/db_password:/run/secrets/db_password:ro" -v "$backups:/backups" \
    -e DB_PASSWORD_FILE=/run/secrets/db_password -e TZ=UTC "$@" "$IMAGE" >/dev/null
}
# Stops a sidecar: exit status 0, and what it leaves is only complete backups.
stop_cleanly() {
  local name=$1 backups=$2
  ctr stop -t 10 "$name" >/dev/null
  local code
  code=$(ctr inspect -f '{{.State.ExitCode}}' "$name")
  [[ $code == 0 ]] || fail "$name exited with status $code on stop"
  local leftovers
  leftovers=$(find "$backups" -name '*.partial' -o -name '.db-backup-spool-*' -o -name '.db-backup-sqlite-*')
  [[ -z $leftovers ]] || fail "$name left unfinished files: $leftovers"
  echo "ok: $name stopped with status 0, no unfinished files"
}
backups_dir() {
  local dir=$work/$1/backups
  mkdir -p "$dir"
  chown 10001:10001 "$dir"
  echo "$dir"
}
network() {
  created+=("$1")
  ctr network create "$1" >/dev/null
}
db_container() {
  local name=$1 net=$2 alias=$3 kind=$4
  created+=("$name")
  ctr run -d --name "$name" --network "$net" --network-alias "$alias" "${run_flags[@]}" \
    -v "$work/db_password:/run/secrets/db_password:ro" "$DB_IMAGE" e2e-db "$kind" >/dev/null
}
# The common part: healthy after start (timed), idle memory, backup-db, list, verify all.
first_steps() {
  local name=$1 series=$2 t0=$3
  wait_health "$name" healthy 120
  local took=$(($(now_ms) - t0))
  echo "ok: $name healthy $took ms after run"
  timings+=("$took")
  sleep 2
  local mem
  mem=$(ctr stats --no-stream --format '{{.MemUsage}}' "$name" | sed -n 1p)
  echo "idle memory of $name: $mem"
  memories+=("${mem%% /*}")
  say "$name: exec backup-db, list, verify all"
  ctr exec "$name" backup-db
  local listing
  listing=$(ctr exec "$name" list)
  echo "$listing"
  grep -q "^$series-" <<<"$listing" || fail "list shows no $series-* backup"
  ctr exec "$name" verify all
}
# Health follows the database: unhealthy when it is stopped past the schedule, healthy again after it returns.
health_cycle() {
  local name=$1 db=$2
  say "$name: health follows $db"
  wait_health "$name" healthy 60
  ctr stop -t 5 "$db" >/dev/null
  wait_health "$name" unhealthy 90
  echo "ok: unhealthy while $db is down: $(ctr exec "$name" db-backup healthcheck || true)"
  ctr start "$db" >/dev/null
  wait_health "$name" healthy 120
  echo "ok: healthy again: $(ctr exec "$name" db-backup healthcheck)"
}
timings=()
memories=()
# Schedule of the health cycle's sidecar: every 3 s, no retries, a short wait for the server.
fast=(-e 'BACKUP_SCHEDULE=*/3 * * * * *' -e BACKUP_RETRIES=0 -e DB_WAIT_TIMEOUT=2)

scenario_postgres() {
  local net=$PREFIX-pg db=$PREFIX-pg-db side=$PREFIX-pg-backup backups
  backups=$(backups_dir postgres)
  network "$net"
  db_container "$db" "$net" postgres postgres
  psql_in() {
    local dbname=$1
    shift
    ctr exec -e PGPASSWORD="$password" "$db" /usr/lib/postgresql/15/bin/psql -X -q -At -v ON_ERROR_STOP=1 \
      -h 127.0.0.1 -U app -d "$dbname" "$@"
  }
  dump_of() {
    ctr exec -e PGPASSWORD="$password" "$db" /usr/lib/postgresql/15/bin/pg_dump -h 127.0.0.1 -U app -d "$1" |
      grep -v '^\\\(un\)\?restrict '
  }
  wait_for "PostgreSQL in $db" 60 psql_in app -c 'SELECT 1'
  psql_in app -c "
    CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10, 2), note text);
    CREATE INDEX items_name ON items (name);
    CREATE VIEW cheap AS SELECT * FROM items WHERE price < 10;
    INSERT INTO items (name, price, note)
      SELECT 'item ' || g, g * 1.25, CASE WHEN g % 4 = 0 THEN NULL ELSE 'note ✓ ' || g END
      FROM generate_series(1, 5000) g;"
  local before t0
  before=$(dump_of app)
  t0=$(now_ms)
  sidecar "$side" "$net" "$backups" -e DB_TYPE=postgres -e DB_HOST=postgres -e DB_NAME=app -e DB_USER=app
  first_steps "$side" postgres "$t0"
  say "$side: restore latest --database check"
  ctr exec "$side" restore latest --database check
  [[ $(dump_of check) == "$before" ]] || fail "database check differs from app"
  say "$side: the bad day: DROP DATABASE app, restore latest"
  psql_in postgres -c "DROP DATABASE app WITH (FORCE)"
  ctr exec "$side" restore latest
  [[ $(dump_of app) == "$before" ]] || fail "the restored app differs from the original"
  echo "ok: check and the restored app are the same as the original"
  stop_cleanly "$side" "$backups"
  sidecar "$side-fast" "$net" "$backups" -e DB_TYPE=postgres -e DB_HOST=postgres -e DB_NAME=app -e DB_USER=app "${fast[@]}"
  health_cycle "$side-fast" "$db"
  stop_cleanly "$side-fast" "$backups"
}

scenario_mariadb() {
  local net=$PREFIX-my db=$PREFIX-my-db side=$PREFIX-my-backup backups
  backups=$(backups_dir mariadb)
  network "$net"
  db_container "$db" "$net" mariadb mariadb
  my_in() { ctr exec -i -e MYSQL_PWD="$password" "$db" mariadb -uroot -h127.0.0.1 "$@"; }
  dump_of() {
    ctr exec -e MYSQL_PWD="$password" "$db" mariadb-dump -uroot -h127.0.0.1 --skip-dump-date --routines \
      --triggers "$1" | grep -v -e '^-- Host:' -e '^-- Dumping routines for database'
  }
  wait_for "MariaDB in $db" 90 my_in -e 'SELECT 1' app
  my_in app <<'SQL'
CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL, price DECIMAL(10,2), note TEXT)
  DEFAULT CHARSET=utf8mb4;
SET SESSION max_recursive_iterations = 10000;
INSERT INTO items (name, price, note)
  WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 5000)
  SELECT CONCAT('item ', n), n * 1.25, IF(n % 4 = 0, NULL, CONCAT('note ✓ ', n)) FROM g;
CREATE VIEW cheap AS SELECT * FROM items WHERE price < 10;
SQL
  local before t0
  before=$(dump_of app)
  t0=$(now_ms)
  sidecar "$side" "$net" "$backups" -e DB_TYPE=mysql -e DB_HOST=mariadb -e DB_NAME=app -e DB_USER=root
  first_steps "$side" mariadb "$t0"
  say "$side: restore latest --database check"
  ctr exec "$side" restore latest --database check
  [[ $(dump_of check) == "$before" ]] || fail "database check differs from app"
  say "$side: the bad day: DROP DATABASE app, restore latest"
  my_in -e 'DROP DATABASE app'
  ctr exec "$side" restore latest
  [[ $(dump_of app) == "$before" ]] || fail "the restored app differs from the original"
  echo "ok: check and the restored app are the same as the original"
  stop_cleanly "$side" "$backups"
  sidecar "$side-fast" "$net" "$backups" -e DB_TYPE=mysql -e DB_HOST=mariadb -e DB_NAME=app -e DB_USER=root "${fast[@]}"
  health_cycle "$side-fast" "$db"
  stop_cleanly "$side-fast" "$backups"
}

scenario_redis() {
  local net=$PREFIX-redis db=$PREFIX-redis-db side=$PREFIX-redis-backup backups
  backups=$(backups_dir redis)
  network "$net"
  db_container "$db" "$net" redis redis
  rc() { ctr exec -i -e REDISCLI_AUTH="$password" "$db" redis-cli "$@"; }
  # Every key with its type and value, in key order.
  fingerprint() {
    ctr exec -e REDISCLI_AUTH="$password" "$db" sh -c '
      redis-cli --scan | sort | while read -r k; do
        t=$(redis-cli TYPE "$k")
        printf "%s %s: " "$k" "$t"
        case $t in
        string) redis-cli GET "$k" ;;
        hash) redis-cli HGETALL "$k" | paste - - | sort ;;
        list) redis-cli LRANGE "$k" 0 -1 ;;
        set) redis-cli SMEMBERS "$k" | sort ;;
        zset) redis-cli ZRANGE "$k" 0 -1 WITHSCORES ;;
        esac
      done | md5sum'
  }
  wait_for "Redis in $db" 60 rc PING
  {
    for i in $(seq 1 100); do echo "SET key:$i value-$i"; done
    echo "HSET user:1 name alice email alice@example.com"
    echo "RPUSH queue a b c"
    echo "SADD tags x y z"
    echo "ZADD scores 1 one 2 two"
  } | rc >/dev/null
  local before t0
  before=$(fingerprint)
  t0=$(now_ms)
  sidecar "$side" "$net" "$backups" -e DB_TYPE=redis -e DB_HOST=redis
  first_steps "$side" redis "$t0"
  say "$side: the bad day: FLUSHALL, restore latest (over the network)"
  rc FLUSHALL >/dev/null
  ctr exec "$side" restore latest
  [[ $(fingerprint) == "$before" ]] || fail "the restored keys differ from the original"
  echo "ok: the restored keys are the same as the original"
  stop_cleanly "$side" "$backups"
  sidecar "$side-fast" "$net" "$backups" -e DB_TYPE=redis -e DB_HOST=redis "${fast[@]}"
  health_cycle "$side-fast" "$db"
  stop_cleanly "$side-fast" "$backups"
}

scenario_sqlite() {
  local net=$PREFIX-sqlite app=$PREFIX-sqlite-app side=$PREFIX-sqlite-backup backups data
  backups=$(backups_dir sqlite)
  data=$work/sqlite/data
  mkdir -p "$data"
  chown 10001:10001 "$data"
  network "$net"
  created+=("$app")
  # The application: keeps writing to /data/app.db (WAL mode) as uid 10001, on the volume it shares.
  ctr run -d --name "$app" --network "$net" --user 10001:10001 "${run_flags[@]}" -v "$data:/data" "$DB_IMAGE" \
    sh -c 'sqlite3 /data/app.db "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, at TEXT NOT NULL)" >/dev/null
      while :; do sqlite3 /data/app.db "INSERT INTO events (at) VALUES (datetime('"'now'"'))"; sleep 0.2; done' >/dev/null
  rows() { python3 -c 'import sqlite3, sys; print("\n".join(repr(r) for r in sqlite3.connect(sys.argv[1]).execute("SELECT * FROM events ORDER BY id")))' "$1"; }
  wait_for "the application's database" 30 test -s "$data/app.db"
  sleep 2
  local t0
  t0=$(now_ms)
  sidecar "$side" "$net" "$backups" -v "$data:/data" -e DB_TYPE=sqlite -e DB_PATH=/data/app.db -e DB_CONTAINER=app
  first_steps "$side" app "$t0"
  say "$side: restore latest --to-file, compared with the application's database"
  ctr exec "$side" restore latest --to-file /backups/check.db
  local restored live
  restored=$(rows "$backups/check.db")
  live=$(rows "$data/app.db")
  [[ -n $restored && $live == "$restored"* ]] || fail "the restored database is not a state of the live one"
  echo "ok: the backup holds the first $(wc -l <<<"$restored") rows of the live database"
  say "$side: the bad day: the application stopped, its database gone, restore latest"
  ctr stop -t 1 "$app" >/dev/null
  rm -f "$data"/app.db "$data"/app.db-wal "$data"/app.db-shm
  ctr exec "$side" restore latest
  [[ $(rows "$data/app.db") == "$restored" ]] || fail "the restored database differs from the backup"
  echo "ok: the restored database is the backup"
  rm -f "$backups/check.db"
  stop_cleanly "$side" "$backups"
}

# docker-compose.example.yml itself (profile postgres), the database image mapped to the local one: with
# podman-compose (PyPI, in target/venv-compose) on podman, with `docker compose` where Docker runs. podman has no
# health timer without systemd, so a loop runs the project's checks every 2 s while it is up.
compose_pids=()
compose_cmd=()
compose_cleanup() {
  if ((${#compose_cmd[@]})); then
    "${compose_cmd[@]}" down -v >/dev/null 2>&1 || true
  fi
  local pid
  for pid in ${compose_pids[@]+"${compose_pids[@]}"}; do
    kill "$pid" 2>/dev/null || true
  done
  return 0
}
scenario_compose() {
  local dir=$work/compose project=$PREFIX-compose tool
  mkdir -p "$dir/backups" "$dir/secrets"
  chown 10001:10001 "$dir/backups"
  cp "$work/db_password" "$dir/secrets/db_password.txt"
  cat >"$dir/override.yml" <<EOF
services:
  postgres:
    image: $DB_IMAGE
    command: ["e2e-db", "postgres"]
  db-backup:
    image: $IMAGE
    volumes:
      - $dir/backups:/backups
secrets:
  db_password:
    file: $dir/secrets/db_password.txt
EOF
  local files=(-p "$project" -f docker-compose.example.yml -f "$dir/override.yml")
  if [[ $engine == podman ]]; then
    tool=target/venv-compose/bin/podman-compose
    if ! "$tool" version >/dev/null 2>&1; then
      echo "installing podman-compose into target/venv-compose"
      rm -rf target/venv-compose
      python3 -m venv target/venv-compose &&
        target/venv-compose/bin/pip install --quiet --disable-pip-version-check 'podman-compose==1.6.0' ||
        skip_or_fail "cannot install podman-compose (PyPI) into target/venv-compose"
    fi
    # The same limits and runtime for the containers podman-compose starts.
    cat >"$dir/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF=$dir/containers.conf
    compose_cmd=("$tool" --profile postgres "${files[@]}")
    (while sleep 2; do
      for c in $(podman ps --format '{{.Names}}' --filter "label=io.podman.compose.project=$project"); do
        podman healthcheck run "$c" >/dev/null 2>&1 || true
      done
    done) &
    compose_pids+=($!)
  else
    compose_cmd=(docker compose "${files[@]}" --profile postgres)
  fi
  say "compose -f docker-compose.example.yml --profile postgres up -d"
  "${compose_cmd[@]}" up -d --no-build >"$dir/up.log" 2>&1 || { cat "$dir/up.log" >&2; fail "compose up failed"; }
  last_sidecar=db-backup
  wait_health db-backup healthy 180
  say "exec db-backup backup-db, list, restore latest --database app_check"
  ctr exec db-backup backup-db
  local listing
  listing=$(ctr exec db-backup list)
  echo "$listing"
  grep -q '^postgres-' <<<"$listing" || fail "list shows no postgres-* backup"
  ctr exec db-backup restore latest --database app_check
  local pg names
  pg=$(ctr ps --format '{{.Names}}' | grep -E "^${project}[_-]postgres[_-]1$" | sed -n 1p)
  [[ -n $pg ]] || fail "no postgres container in the compose project"
  names=$(ctr exec -e PGPASSWORD="$password" "$pg" psql -h 127.0.0.1 -U app -d app -At -c \
    "SELECT datname FROM pg_database WHERE datname = 'app_check'")
  [[ $names == app_check ]] || fail "restore latest --database app_check made no database app_check"
  ctr stop -t 10 db-backup >/dev/null
  local code
  code=$(ctr inspect -f '{{.State.ExitCode}}' db-backup)
  [[ $code == 0 ]] || fail "db-backup exited with status $code on stop"
  echo "ok: the compose example backs up, restores and stops with status 0"
  compose_cleanup
  compose_cmd=()
  unset CONTAINERS_CONF
}
trap 'compose_cleanup; cleanup' EXIT

for e in $ENGINES; do
  say "scenario: $e"
  "scenario_$e"
done

say "figures"
echo "image size: $image_mb MB ($IMAGE, PostgreSQL client 15 only: PG_CLIENT_SOURCE=debian)"
echo "time from run to healthy (ms): ${timings[*]}"
echo "idle memory: ${memories[*]}"
echo "e2e-container: all checks passed in $((SECONDS - started_all)) s"
