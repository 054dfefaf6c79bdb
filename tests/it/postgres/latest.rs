//! The `<series>-latest.<ext>` link: a relative symlink to the newest complete backup, which plain tools can
//! read, and which no command takes for a backup.

use std::path::Path;

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

fn target(dir: &Path, link: &str) -> String {
    let meta = std::fs::symlink_metadata(dir.join(link)).expect("the latest link exists");
    assert!(meta.file_type().is_symlink(), "{link} is not a symlink");
    std::fs::read_link(dir.join(link))
        .expect("read the link")
        .to_str()
        .expect("UTF-8")
        .to_string()
}

#[test]
fn latest_link_follows_the_newest_complete_backup() {
    require_tools!(PG_SERVER, &["gzip"]);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('first')",
    );
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path()).env("DB_BACKUP_MAX_N", "2");
    cmd.run(&["backup-db"]).expect_success();
    let first = files::only_backup(dir.path(), "pg");
    assert_eq!(
        target(dir.path(), "pg-latest.sql.gz"),
        first,
        "relative, to the backup"
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    pg.psql("app", "UPDATE t SET v = 'second'");
    cmd.run(&["backup-db"]).expect_success();
    let newest = files::backups(dir.path())
        .into_iter()
        .max()
        .expect("backups");
    assert_ne!(newest, first);
    assert_eq!(target(dir.path(), "pg-latest.sql.gz"), newest);

    // What a person does by hand: gunzip -c pg-latest.sql.gz | psql.
    let sql =
        String::from_utf8(files::decompress(&dir.path().join("pg-latest.sql.gz"))).expect("UTF-8");
    pg.create_db("by_hand");
    pg.psql("by_hand", &sql);
    assert_eq!(pg.psql("by_hand", "SELECT v FROM t").trim(), "second");

    // A failed backup leaves the link on the last complete one.
    pg.psql("postgres", "DROP DATABASE app");
    cmd.run(&["backup-db"]).expect_code(1);
    assert_eq!(target(dir.path(), "pg-latest.sql.gz"), newest);

    // No command counts the link as a backup: list, verify and retention see two backups.
    let list = cmd.run(&["list"]);
    list.expect_success();
    assert!(
        !list.all_output().contains("latest."),
        "{}",
        list.all_output()
    );
    let verify = cmd.run(&["verify", "all"]);
    verify.expect_success();
    assert!(
        !verify.all_output().contains("latest."),
        "{}",
        verify.all_output()
    );

    // Retention keeps two backups (the link is not one of them), and a new compression moves the link.
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('third')",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let zstd = cmd.env("BACKUP_COMPRESSION", "zstd");
    zstd.run(&["backup-db"]).expect_success();
    let names = files::backups(dir.path());
    assert_eq!(names.len(), 2, "{:?}", files::names(dir.path()));
    let newest = names.into_iter().max().expect("backups");
    assert!(newest.ends_with(".sql.zst"), "{newest}");
    assert_eq!(target(dir.path(), "pg-latest.sql.zst"), newest);
    assert!(
        std::fs::symlink_metadata(dir.path().join("pg-latest.sql.gz")).is_err(),
        "the old extension's link stays: {:?}",
        files::names(dir.path())
    );
    zstd.run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    assert_eq!(pg.psql("copy", "SELECT v FROM t").trim(), "third");
}
