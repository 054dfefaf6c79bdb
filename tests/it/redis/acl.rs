//! Redis ACL users: the README's ACL lines are enough to back up and to restore; a user missing one permission
//! is told which one (never the "raise `databases`" advice, which is kept for a server with too few logical
//! databases); and a backup user limited to some keys still gets every key, because the replication snapshot
//! is never filtered by key permissions (so a backup cannot silently hold a subset).

use std::time::Duration;

use crate::support::files::{assert_failed_cleanly, backup_dir, plant_backup, snapshot};
use crate::support::redis::{self as rs, REDIS_SERVER, RedisServer, fill_every_type};
use crate::support::require_tools;

/// The README's ACL rules for the backup user and for the restore user.
const BACKUP_RULES: &[&str] = &[
    "on",
    ">backup-pw",
    "~*",
    "+@connection",
    "+info",
    "+sync",
    "+replconf",
];
const RESTORE_RULES: &[&str] = &[
    "on",
    ">restore-pw",
    "~*",
    "+@connection",
    "+info",
    "+restore",
    "+function|restore",
];

fn acl_setuser(server: &RedisServer, user: &str, rules: &[&str]) {
    let mut args = vec!["ACL", "SETUSER", user];
    args.extend_from_slice(rules);
    server.cmd(&args);
}

#[test]
fn the_readme_acl_users_back_up_and_restore() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    fill_every_type(&source);
    acl_setuser(&source, "backup", BACKUP_RULES);
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .env("DB_USER", "backup")
        .env("DB_PASSWORD", "backup-pw")
        .run(&["backup-db"])
        .expect_success();

    let target = RedisServer::start();
    acl_setuser(&target, "restorer", RESTORE_RULES);
    target
        .db_backup(dir.path())
        .env("DB_USER", "restorer")
        .env("DB_PASSWORD", "restore-pw")
        .run(&["restore", "latest"])
        .expect_success();
    rs::assert_same_data(
        &rs::snapshot(&source),
        &rs::snapshot(&target),
        Duration::from_secs(60),
    );
}

/// Each missing permission is named with the rule that grants it, for backup and restore; the advice about
/// `databases` appears only when the server really has too few.
#[test]
fn a_missing_permission_is_named_and_not_mistaken_for_a_missing_database() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    fill_every_type(&source);
    let mut no_sync: Vec<&str> = BACKUP_RULES.to_vec();
    no_sync.retain(|r| *r != "+sync");
    acl_setuser(&source, "nosync", &no_sync);
    let dir = backup_dir();
    plant_backup(dir.path(), "redis-2001-01-01T00-00-00.rdb.gz");
    let before = snapshot(dir.path());
    let run = source
        .db_backup(dir.path())
        .env("DB_USER", "nosync")
        .env("DB_PASSWORD", "backup-pw")
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["refused SYNC", "'sync'", "ACL SETUSER nosync +sync"],
    );
    source
        .db_backup(dir.path())
        .run(&["backup-db"])
        .expect_success();

    // A restore user without SELECT: told to allow it, not to raise `databases`.
    let target = RedisServer::start();
    let mut no_select: Vec<&str> = RESTORE_RULES.to_vec();
    no_select.push("-select");
    acl_setuser(&target, "noselect", &no_select);
    let run = target
        .db_backup(dir.path())
        .env("DB_USER", "noselect")
        .env("DB_PASSWORD", "restore-pw")
        .run(&["restore", "latest"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "cannot select logical database",
        "'select'",
        "ACL SETUSER noselect +select",
        "nothing was written",
    ]);
    assert!(!run.stderr.contains("databases`"), "wrong advice:\n{run}");
    assert!(target.keyspace().is_empty(), "keys were written");

    // Nor without RESTORE.
    let mut no_restore: Vec<&str> = RESTORE_RULES.to_vec();
    no_restore.retain(|r| *r != "+restore");
    acl_setuser(&target, "norestore", &no_restore);
    let run = target
        .db_backup(dir.path())
        .env("DB_USER", "norestore")
        .env("DB_PASSWORD", "restore-pw")
        .run(&["restore", "latest"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["'restore'", "ACL SETUSER norestore +restore"]);
    assert!(!run.stderr.contains("databases`"), "wrong advice:\n{run}");

    // The real cause of the other advice: the backup uses database 7, the server has 2.
    let small = RedisServer::start_with(&["--databases", "2"]);
    let run = small.db_backup(dir.path()).run(&["restore", "latest"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["cannot select logical database 7", "raise `databases`"]);
    assert!(!run.stderr.contains("ACL SETUSER"), "wrong advice:\n{run}");
}

/// A backup user that may touch no key at all (`resetkeys`) still receives the whole snapshot over SYNC:
/// key permissions never shrink a Redis backup.
#[test]
fn a_backup_user_limited_to_no_keys_still_gets_every_key() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    fill_every_type(&source);
    acl_setuser(
        &source,
        "narrow",
        &[
            "on",
            ">narrow-pw",
            "resetkeys",
            "+@connection",
            "+info",
            "+sync",
            "+replconf",
        ],
    );
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .env("DB_USER", "narrow")
        .env("DB_PASSWORD", "narrow-pw")
        .run(&["backup-db"])
        .expect_success();
    let target = RedisServer::start();
    target
        .db_backup(dir.path())
        .run(&["restore", "latest"])
        .expect_success();
    rs::assert_same_data(
        &rs::snapshot(&source),
        &rs::snapshot(&target),
        Duration::from_secs(60),
    );
}
