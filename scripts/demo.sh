#!/usr/bin/env bash
# Demo: a throwaway PostgreSQL with a little data; db-backup backs it up, lists, verifies and
# restores it into a second database, and the two databases' dumps are shown to be identical.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/pg.sh

echo "== building db-backup"
cargo build --quiet
bin=$PWD/target/debug/db-backup

work=$(mktemp -d)
chmod 0711 "$work" # as root, the server runs as `postgres` and must reach $work/pg
trap 'pg_stop "$work/pg"; rm -rf "$work"' EXIT
mkdir -m 0700 "$work/backups"

echo "== starting a throwaway PostgreSQL"
pg_start "$work/pg"
echo "   port $PG_PORT, data in $work/pg"

# psql/pg_dump for the demo itself; the password reaches them through their environment.
pg() {
  local tool=$1
  shift
  PGPASSWORD=$(<"$PG_PASSWORD_FILE") "$PG_BIN/$tool" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"
}
sql() { pg psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }
dump() { pg pg_dump -d "$1" | grep -v -e '^\\restrict ' -e '^\\unrestrict '; }

# db-backup with only the configuration a compose file would give it.
db_backup() {
  env -i PATH="$PATH" TZ=UTC DB_TYPE=postgres DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_USER=postgres \
    DB_PASSWORD_FILE="$PG_PASSWORD_FILE" DB_NAME=demo DB_CONTAINER=demo BACKUP_DIR="$work/backups" \
    "$bin" "$@"
}

echo "== sample data: a table, a view, a function"
sql postgres "CREATE DATABASE demo"
sql demo "
  CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, amount numeric(10, 2), note text);
  INSERT INTO orders (customer, amount, note)
    SELECT 'customer ' || g, g * 1.5, CASE WHEN g % 3 = 0 THEN NULL ELSE 'note ✓ ' || g END
    FROM generate_series(1, 1000) g;
  CREATE FUNCTION with_tax(amount numeric) RETURNS numeric LANGUAGE plpgsql IMMUTABLE
    AS \$\$ BEGIN RETURN round(amount * 1.2, 2); END \$\$;
  CREATE VIEW big_orders AS SELECT id, customer, with_tax(amount) AS total FROM orders WHERE amount > 1000;"

echo "== db-backup backup-db"
db_backup backup-db
echo "== db-backup list"
db_backup list
echo "== db-backup verify latest"
db_backup verify latest
echo "== db-backup restore latest --database demo_restored"
db_backup restore latest --database demo_restored

echo "== row counts"
for db in demo demo_restored; do
  printf '   %-14s orders: %s, big_orders: %s\n' "$db" \
    "$(sql "$db" 'SELECT count(*) FROM orders')" "$(sql "$db" 'SELECT count(*) FROM big_orders')"
done
echo "== diff of the two databases' pg_dump output (empty means identical)"
diff <(dump demo) <(dump demo_restored)
echo "   (no difference)"
