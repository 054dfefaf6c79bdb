//! Restore drills (`test-restore`) against servers the tests start: a passing drill per engine, the
//! failures a drill exists to catch (a role missing on a new server, rows missing against the manifest or a
//! custom archive, a Redis scratch server that is the source), and the run lock and leftover scratch
//! databases.

mod custom;
mod guards;
mod mysql;
mod others;
mod postgres;
mod s3;
mod service;

use tempfile::TempDir;

use crate::support::mariadb::MariaDb;
use crate::support::{DbBackup, PgServer, files::backup_dir, fixture, my_fixture};

/// A new PostgreSQL server holding the fixture database `fixture_db`, and one backup of `DB_NAME=db_name` made
/// into a new `BACKUP_DIR` by the returned command (`env` added to it).
fn pg_backed_up(
    fixture_db: &str,
    db_name: &str,
    env: &[(&str, &str)],
) -> (PgServer, TempDir, DbBackup) {
    let pg = PgServer::start();
    fixture::create(&pg, fixture_db);
    let dir = backup_dir();
    let cmd = env.iter().fold(
        DbBackup::for_server(&pg, db_name, dir.path()),
        |cmd, (k, v)| cmd.env(k, v),
    );
    cmd.run(&["backup-db"]).expect_success();
    (pg, dir, cmd)
}

/// A new MariaDB server holding the fixture database `db`, and one backup of it made into a new `BACKUP_DIR` by
/// the returned command.
fn mariadb_backed_up(db: &str) -> (MariaDb, TempDir, DbBackup) {
    let my = MariaDb::start();
    my_fixture::create(&my, db);
    let dir = backup_dir();
    let cmd = my.db_backup(db, dir.path());
    cmd.run(&["backup-db"]).expect_success();
    (my, dir, cmd)
}
