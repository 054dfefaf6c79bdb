#!/bin/bash
# e2e-db postgres|mariadb|redis: one database server in the foreground, user `app` (root for MariaDB, as in
# the compose example), database `app`, password from /run/secrets/db_password.
set -euo pipefail
pw=$(cat /run/secrets/db_password)
case "$1" in
postgres)
  data=/var/lib/postgresql/data
  if [[ ! -s $data/PG_VERSION ]]; then
    mkdir -p "$data" && chown postgres:postgres "$data"
    printf '%s\n' "$pw" >/tmp/pw && chown postgres /tmp/pw
    su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/initdb -D $data -U app --pwfile=/tmp/pw -A scram-sha-256 >/dev/null"
    rm /tmp/pw
    echo "host all all 0.0.0.0/0 scram-sha-256" >>"$data/pg_hba.conf"
    echo 'CREATE DATABASE app' | su postgres -s /bin/sh -c "/usr/lib/postgresql/15/bin/postgres --single -D $data postgres >/dev/null"
  fi
  mkdir -p /run/postgresql && chown postgres /run/postgresql
  exec su postgres -s /bin/sh -c "exec /usr/lib/postgresql/15/bin/postgres -D $data -c listen_addresses='*'"
  ;;
mariadb)
  data=/var/lib/mysql
  if [[ ! -d $data/mysql ]]; then
    mariadb-install-db --user=mysql --datadir="$data" --auth-root-authentication-method=normal >/dev/null
  fi
  mkdir -p /run/mysqld && chown mysql /run/mysqld
  sql_pw=${pw//\\/\\\\}
  sql_pw=${sql_pw//\'/\\\'}
  cat >/run/mysqld/init.sql <<SQL
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$sql_pw';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$sql_pw';
CREATE DATABASE IF NOT EXISTS app;
SQL
  chown mysql /run/mysqld/init.sql && chmod 0600 /run/mysqld/init.sql
  exec mariadbd --user=mysql --datadir="$data" --bind-address=0.0.0.0 --init-file=/run/mysqld/init.sql
  ;;
redis)
  mkdir -p /data && chown redis /data
  cd /data
  exec su redis -s /bin/sh -c 'exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data --requirepass "$(cat /run/secrets/db_password)"'
  ;;
*)
  echo "usage: e2e-db postgres|mariadb|redis" >&2
  exit 2
  ;;
esac
