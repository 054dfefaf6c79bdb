//! Name dispatch: links named `backup-db`, `list` and `restore` act as those subcommands.

use std::path::PathBuf;

use tempfile::TempDir;

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

/// A directory with symlinks to the binary, as the image puts them on PATH.
fn links() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["backup-db", "list", "restore"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_db-backup"), dir.path().join(name))
            .expect("symlink");
    }
    dir
}

fn link(links: &TempDir, name: &str) -> PathBuf {
    links.path().join(name)
}

#[test]
fn list_link_on_an_empty_dir_succeeds() {
    let (links, backups) = (links(), backup_dir());
    DbBackup::offline(backups.path())
        .program(&link(&links, "list"))
        .run(&[])
        .expect_success();
}

#[test]
fn list_link_and_snapshots_alias_list_backups() {
    let (links, backups) = (links(), backup_dir());
    let name = "pg-2001-01-01T00-00-00.sql.gz";
    files::plant_backup(backups.path(), name);
    let by_link = DbBackup::offline(backups.path())
        .program(&link(&links, "list"))
        .run(&[]);
    by_link.expect_success();
    assert!(
        by_link.stdout.contains(name),
        "the list link does not list {name}:\n{by_link}"
    );
    let by_alias = DbBackup::offline(backups.path()).run(&["snapshots"]);
    by_alias.expect_success();
    assert_eq!(by_alias.stdout, by_link.stdout);
}

/// Without an argument `restore` is a usage error; with one it is a restore that fails on the
/// missing file (exit 1), which the bare binary, taking the name for a subcommand, would not be.
#[test]
fn restore_link_acts_as_restore() {
    let (links, backups) = (links(), backup_dir());
    let restore = DbBackup::offline(backups.path()).program(&link(&links, "restore"));
    restore.run(&[]).expect_code(2);
    restore
        .run(&["nosuch-2001-01-01T00-00-00.sql.gz", "--database", "x"])
        .expect_code(1)
        .expect_stderr_mentions(&["nosuch-2001-01-01T00-00-00.sql.gz"]);
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let backups = backup_dir();
    DbBackup::offline(backups.path())
        .run(&["frobnicate"])
        .expect_code(2);
}

#[test]
fn backup_db_link_takes_a_backup() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let (links, backups) = (links(), backup_dir());
    DbBackup::for_server(&pg, "app", backups.path())
        .program(&link(&links, "backup-db"))
        .run(&[])
        .expect_success();
    files::only_backup(backups.path(), "pg");
}
