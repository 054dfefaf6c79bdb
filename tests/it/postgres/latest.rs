//! The `<series>-latest.<ext>` link: a relative symlink to the newest complete backup, which plain tools can
//! read, which `restore` and `verify` follow by its name, which no command takes for a backup, and which
//! retention never leaves dangling.

use std::path::Path;

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

/// The newest backup in `dir` by name (the time is in the name).
fn newest(dir: &Path) -> String {
    files::backups(dir).into_iter().max().expect("a backup")
}

#[test]
fn latest_link_follows_the_newest_complete_backup() {
    require_tools!(PG_SERVER, &["gzip", "sha256sum"]);
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
    assert_eq!(files::links(dir.path()), ["pg-latest.sql.gz"]);
    assert_eq!(
        files::link_target(dir.path(), "pg-latest.sql.gz"),
        first,
        "relative, to the backup's bare name"
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    pg.psql("app", "UPDATE t SET v = 'second'");
    cmd.run(&["backup-db"]).expect_success();
    let second = newest(dir.path());
    assert_ne!(second, first);
    assert_eq!(files::link_target(dir.path(), "pg-latest.sql.gz"), second);
    // No checksum file of its own: the real name's checksum is what `sha256sum -c` reads.
    assert!(!dir.path().join("pg-latest.sql.gz.sha256").exists());
    assert_eq!(files::backups(dir.path()).len(), 2);

    // What a person does by hand: gunzip -c pg-latest.sql.gz | psql.
    let sql = files::run_tool(dir.path(), "gzip", &["-dc", "pg-latest.sql.gz"]);
    pg.create_db("by_hand");
    pg.psql("by_hand", &sql);
    assert_eq!(pg.psql("by_hand", "SELECT v FROM t").trim(), "second");

    // restore, verify and restore --to-file take the link's name and say which backup it is.
    let restore = cmd.run(&["restore", "pg-latest.sql.gz", "--database", "copy"]);
    restore.expect_success();
    assert!(restore.all_output().contains(&second), "{restore}");
    assert_eq!(pg.psql("copy", "SELECT v FROM t").trim(), "second");
    let verify = cmd.run(&["verify", "pg-latest.sql.gz"]);
    verify.expect_success();
    assert!(verify.all_output().contains(&second), "{verify}");
    let out = tempfile::tempdir().expect("temp dir");
    let plain = out.path().join("plain.sql");
    let path_to_link = dir.path().join("pg-latest");
    let to_file = cmd.run(&[
        "restore",
        path_to_link.to_str().expect("UTF-8"),
        "--to-file",
        plain.to_str().expect("UTF-8"),
    ]);
    to_file.expect_success();
    assert!(to_file.all_output().contains(&second), "{to_file}");
    assert_eq!(std::fs::read_to_string(&plain).expect("read"), sql);
    let wrong = cmd.run(&["restore", "pg-latest.sql.zst", "--to-file", "x.sql"]);
    wrong
        .expect_code(1)
        .expect_stderr_mentions(&["pg-latest.sql.gz"]);

    // A failed backup leaves the link where it was.
    pg.psql("postgres", "DROP DATABASE app");
    cmd.run(&["backup-db"]).expect_code(1);
    assert_eq!(files::link_target(dir.path(), "pg-latest.sql.gz"), second);

    // No command counts the link as a backup.
    for args in [&["list"][..], &["verify", "all"]] {
        let run = cmd.run(args);
        run.expect_success();
        assert!(!run.all_output().contains("latest."), "{run}");
    }
    let prune = cmd.run(&["prune", "--dry-run"]);
    prune.expect_success();
    assert!(!prune.all_output().contains("pg-latest"), "{prune}");

    // A new compression moves the link to a new name; the old extension's link goes.
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('third')",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let zstd = cmd.env("BACKUP_COMPRESSION", "zstd");
    zstd.run(&["backup-db"]).expect_success();
    assert_eq!(
        files::backups(dir.path()).len(),
        2,
        "{:?}",
        files::names(dir.path())
    );
    let third = newest(dir.path());
    assert!(third.ends_with(".sql.zst"), "{third}");
    assert_eq!(files::links(dir.path()), ["pg-latest.sql.zst"]);
    assert_eq!(files::link_target(dir.path(), "pg-latest.sql.zst"), third);
}

#[test]
fn prune_moves_a_link_off_the_backup_it_deletes() {
    require_tools!(&["gzip"][..]);
    let dir = backup_dir();
    let old = "pg-2020-01-01T00-00-00.sql.gz";
    let mid = "pg-2020-01-02T00-00-00.sql.gz";
    let new = "pg-2020-01-03T00-00-00.sql.gz";
    for name in [old, mid, new] {
        files::plant_backup(dir.path(), name);
    }
    // The link names the oldest, as after the clock went back.
    std::os::unix::fs::symlink(old, dir.path().join("pg-latest.sql.gz")).expect("link");
    let cmd = DbBackup::offline(dir.path())
        .env("DB_BACKUP_MAX_N", "2")
        .env("BACKUP_RETENTION_DAYS", "0");
    cmd.run(&["prune"]).expect_success();
    assert_eq!(files::backups(dir.path()), [mid, new]);
    assert_eq!(files::link_target(dir.path(), "pg-latest.sql.gz"), new);

    // A link whose backup retention keeps is left alone.
    std::os::unix::fs::symlink(mid, dir.path().join(".tmp")).expect("link");
    std::fs::rename(dir.path().join(".tmp"), dir.path().join("pg-latest.sql.gz")).expect("rename");
    cmd.run(&["prune"]).expect_success();
    assert_eq!(files::link_target(dir.path(), "pg-latest.sql.gz"), mid);
}
