//! Drills of the engines without databases: SQLite into a temporary file, Redis into a scratch server (and
//! refused when the scratch server is the source), the command engine through `TEST_RESTORE_CMD`.

use crate::support::files::backup_dir;
use crate::support::redis::{REDIS_SERVER, RedisServer, fill_every_type};
use crate::support::{DbBackup, require_tools};

#[test]
fn a_sqlite_drill_checks_integrity_and_counts_rows_in_a_temporary_file() {
    let work = tempfile::tempdir().unwrap();
    let db = work.path().join("app.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b'), ('c');",
    )
    .unwrap();
    drop(conn);
    let dir = backup_dir();
    let cmd = DbBackup::bare()
        .env("DB_PATH", db.to_str().unwrap())
        .env("DB_CONTAINER", "app")
        .env("BACKUP_DIR", dir.path().to_str().unwrap())
        .env("TZ", "UTC");
    cmd.run(&["backup-db"]).expect_success();
    let run = cmd.run(&["test-restore"]);
    run.expect_success();
    assert!(
        run.stdout.contains("integrity_check") && run.stdout.contains("1 tables, 3 rows"),
        "{run}"
    );
    // Nothing is left beside the backups but their side files and the lock.
    for name in crate::support::files::names(dir.path()) {
        assert!(
            name.starts_with("app-") || name == ".db-backup.lock",
            "left behind: {name}"
        );
    }
}

#[test]
fn a_redis_drill_compares_keys_per_database_and_refuses_the_source_server() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    fill_every_type(&source);
    let dir = backup_dir();
    let cmd = source.db_backup(dir.path());
    cmd.run(&["backup-db"]).expect_success();

    // No scratch server named: refused, naming the setting.
    cmd.run(&["test-restore"])
        .expect_code(2)
        .expect_stderr_mentions(&["TEST_RESTORE_HOST"]);
    // The source server under its own address, and under another name for the same server (its run_id).
    for host in ["127.0.0.1", "localhost"] {
        cmd.clone()
            .env("TEST_RESTORE_HOST", host)
            .env("TEST_RESTORE_PORT", &source.port_string())
            .run(&["test-restore"])
            .expect_code(2)
            .expect_stderr_mentions(&["TEST_RESTORE_HOST", "is the source server"]);
    }
    assert!(!source.keyspace().is_empty(), "the source keeps its keys");

    let scratch = RedisServer::start();
    let run = cmd
        .clone()
        .env("TEST_RESTORE_HOST", "127.0.0.1")
        .env("TEST_RESTORE_PORT", &scratch.port_string())
        .run(&["test-restore"]);
    run.expect_success();
    assert!(run.stdout.contains("logical database"), "{run}");
    assert!(
        scratch.keyspace().is_empty(),
        "the scratch server is emptied"
    );
}

#[test]
fn a_command_drill_is_the_exit_status_of_test_restore_cmd() {
    require_tools!(&["sh", "wc"][..]);
    let dir = backup_dir();
    let cmd = DbBackup::bare()
        .env("BACKUP_CMD", "printf 'one\\ntwo\\n'")
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.path().to_str().unwrap())
        .env("TZ", "UTC");
    cmd.run(&["backup-db"]).expect_success();
    cmd.run(&["test-restore"])
        .expect_code(2)
        .expect_stderr_mentions(&["TEST_RESTORE_CMD"]);
    cmd.clone()
        .env("TEST_RESTORE_CMD", "test \"$(wc -l)\" -eq 2")
        .run(&["test-restore"])
        .expect_success();
    let run = cmd
        .clone()
        .env(
            "TEST_RESTORE_CMD",
            "cat >/dev/null; echo 'no good' >&2; exit 3",
        )
        .run(&["test-restore"]);
    run.expect_code(1);
    assert!(
        run.stdout.contains("FAILED") && run.stdout.contains("no good"),
        "{run}"
    );
}
