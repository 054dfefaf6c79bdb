//! Bad configuration is refused before anything happens: exit 2, and stderr names the variable.

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, Run};

/// Runs `backup-db` with an otherwise valid configuration plus `key=value`; expects exit 2, the
/// variable named on stderr, and an untouched BACKUP_DIR.
fn refused(key: &str, value: &str) -> Run {
    let dir = backup_dir();
    let run = DbBackup::offline(dir.path())
        .env(key, value)
        .run(&["backup-db"]);
    run.expect_code(2).expect_stderr_mentions(&[key]);
    assert!(
        files::names(dir.path()).is_empty(),
        "BACKUP_DIR touched: {:?}",
        files::names(dir.path())
    );
    run
}

#[test]
fn unknown_db_type() {
    refused("DB_TYPE", "oracle");
}

#[test]
fn unknown_compression() {
    refused("BACKUP_COMPRESSION", "rar");
}

#[test]
fn negative_max_n() {
    refused("DB_BACKUP_MAX_N", "-1");
}

#[test]
fn non_numeric_retention_days() {
    refused("BACKUP_RETENTION_DAYS", "abc");
}

#[test]
fn missing_password_file() {
    refused("DB_PASSWORD_FILE", "/nonexistent").expect_stderr_mentions(&["/nonexistent"]);
}

#[test]
fn misspelt_variable_gets_a_suggestion() {
    refused("DB_BACKUP_MAXN", "3").expect_stderr_mentions(&["did you mean", "DB_BACKUP_MAX_N"]);
}

#[test]
fn backup_local_takes_every_boolean_spelling() {
    let dir = backup_dir();
    let run = DbBackup::offline(dir.path())
        .env("BACKUP_LOCAL", "on")
        .run(&["config"]);
    run.expect_success();
    assert!(
        run.stdout.lines().any(|l| l == "BACKUP_LOCAL=true"),
        "{run}"
    );
    // `off` is read as false: with no S3 destination, that is refused for going nowhere.
    refused("BACKUP_LOCAL", "OFF").expect_stderr_mentions(&["is false", "S3_BACKUP_BUCKET"]);
    refused("BACKUP_LOCAL", "maybe")
        .expect_stderr_mentions(&["true, false, 1, 0, yes, no, on, off"]);
}
