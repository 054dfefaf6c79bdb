//! Redis round trips: a server with every value type and encoding (small and large), TTLs, several logical
//! databases and a function library is backed up over the replication protocol, then restored into a fresh
//! server over the network, and written out with `restore --to-file` for a server to load; each copy must hold
//! exactly the source's keys, types, encodings, values and TTLs.

use std::time::Duration;

use crate::support::files::{self, backup_dir};
use crate::support::redis::{
    REDIS_CLI, REDIS_SERVER, RedisServer, assert_same_data, fill_every_type, functions,
    only_rdb_backup, snapshot,
};
use crate::support::require_tools;

/// TTLs move on between reading the source and the copy.
const TTL_SLACK: Duration = Duration::from_secs(30);

#[test]
fn every_type_survives_backup_and_restore_into_a_fresh_server() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    fill_every_type(&source);
    let before = snapshot(&source);
    assert!(before.len() > 50, "the fill made {} keys", before.len());
    let encodings: std::collections::BTreeSet<&str> =
        before.values().map(|k| k.encoding.as_str()).collect();
    for expected in [
        "int",
        "embstr",
        "raw",
        "quicklist",
        "intset",
        "listpack",
        "hashtable",
        "skiplist",
        "stream",
    ] {
        assert!(
            encodings.contains(expected),
            "no {expected} value in {encodings:?}"
        );
    }
    let dir = backup_dir();

    source
        .db_backup(dir.path())
        .run(&["backup-db"])
        .expect_success();
    let name = only_rdb_backup(dir.path());
    assert_eq!(files::mode(&dir.path().join(&name)), 0o600);
    files::run_tool(dir.path(), "sha256sum", &["-c", &format!("{name}.sha256")]);
    let rdb = files::decompress(&dir.path().join(&name));
    assert!(rdb.starts_with(b"REDIS0010"), "an RDB of version 10");
    source
        .db_backup(dir.path())
        .run(&["verify", "latest"])
        .expect_success();

    let target = RedisServer::start();
    let run = target.db_backup(dir.path()).run(&["restore", "latest"]);
    run.expect_success();
    assert!(run.stdout.contains(&name), "{run}");

    assert_same_data(&before, &snapshot(&target), TTL_SLACK);
    assert_eq!(functions(&source), functions(&target));
    // The source is untouched by being backed up.
    assert_same_data(&before, &snapshot(&source), TTL_SLACK);
}

#[test]
fn a_disk_based_transfer_and_zstd_work_too() {
    require_tools!(REDIS_SERVER);
    // Without diskless sync the server sends a sized payload ($<len>) from a snapshot on its own disk.
    let source = RedisServer::start_with(&["--repl-diskless-sync", "no"]);
    fill_every_type(&source);
    let before = snapshot(&source);
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .env("BACKUP_COMPRESSION", "zstd")
        .run(&["backup-db"])
        .expect_success();
    let name = only_rdb_backup(dir.path());
    assert!(name.ends_with(".rdb.zst"), "{name}");

    let target = RedisServer::start();
    target
        .db_backup(dir.path())
        .run(&["restore", &name])
        .expect_success();
    assert_same_data(&before, &snapshot(&target), TTL_SLACK);
}

#[test]
fn restore_to_file_writes_an_rdb_that_redis_loads() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    fill_every_type(&source);
    let before = snapshot(&source);
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .run(&["backup-db"])
        .expect_success();

    let out = tempfile::tempdir().expect("temp dir");
    let rdb = out.path().join("dump.rdb");
    // Only the backup directory is needed, not the server: the configuration may point anywhere.
    let run = source.db_backup(dir.path()).env("DB_PORT", "1").run(&[
        "restore",
        "latest",
        "--to-file",
        rdb.to_str().expect("UTF-8"),
    ]);
    run.expect_success();
    assert_eq!(files::mode(&rdb), 0o600);
    let name = only_rdb_backup(dir.path());
    assert_eq!(
        std::fs::read(&rdb).expect("read the RDB"),
        files::decompress(&dir.path().join(&name))
    );
    if crate::support::tools::find("redis-check-rdb").is_some() {
        let report = files::run_tool(
            out.path(),
            "redis-check-rdb",
            &[rdb.to_str().expect("UTF-8")],
        );
        assert!(report.contains("RDB looks OK"), "{report}");
    }
    // Nothing but the file in the directory: no temporary left behind.
    assert_eq!(files::names(out.path()), vec!["dump.rdb".to_string()]);

    // The file-based restore: a server started on the file holds the same data.
    let loaded = RedisServer::start_from_file(&rdb);
    assert_same_data(&before, &snapshot(&loaded), TTL_SLACK);
    assert_eq!(functions(&source), functions(&loaded));
}

#[test]
fn an_empty_server_backs_up_and_restores() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start();
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .run(&["backup-db"])
        .expect_success();
    let target = RedisServer::start();
    target
        .db_backup(dir.path())
        .run(&["restore", "latest"])
        .expect_success();
    assert!(target.keyspace().is_empty());
}

#[test]
fn an_acl_user_with_a_password_backs_up() {
    require_tools!(REDIS_SERVER);
    let source = RedisServer::start_with(&["--requirepass", "s3cret-Pw"]);
    source.cmd(&[
        "ACL",
        "SETUSER",
        "backup",
        "on",
        ">backup-pw",
        "~*",
        "+@connection",
        "+info",
        "+sync",
        "+replconf",
    ]);
    source.cmd(&["SET", "k", "v"]);
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .env("DB_USER", "backup")
        .env("DB_PASSWORD", "backup-pw")
        .run(&["backup-db"])
        .expect_success();
    let target = RedisServer::start_with(&["--requirepass", "other-Pw"]);
    target
        .db_backup(dir.path())
        .run(&["restore", "latest"])
        .expect_success();
    assert_eq!(target.keyspace().get(&0), Some(&1));
}

/// A key as an RDB holds it: db, key, type, expiry, serialized value.
type RdbKey = (u64, Vec<u8>, u8, Option<i64>, Vec<u8>);

/// Every key of an RDB, read with db-backup's own reader.
fn rdb_keys(bytes: &[u8]) -> Vec<RdbKey> {
    use db_backup::engine::redis::rdb::{Item, Reader};
    let mut reader = Reader::new(bytes, true).expect("an RDB header");
    let mut keys = Vec::new();
    while let Some(item) = reader.next_item().expect("a readable RDB") {
        if let Item::Key(e) = item {
            keys.push((e.db, e.key, e.value_type, e.expire_ms, e.serialized));
        }
    }
    keys
}

#[test]
fn the_backup_holds_what_redis_cli_rdb_takes() {
    require_tools!(REDIS_SERVER, REDIS_CLI);
    let source = RedisServer::start();
    fill_every_type(&source);
    let dir = backup_dir();
    source
        .db_backup(dir.path())
        .run(&["backup-db"])
        .expect_success();
    let ours = files::decompress(&dir.path().join(only_rdb_backup(dir.path())));
    let theirs_path = dir.path().join("cli.rdb");
    files::run_tool(
        dir.path(),
        "redis-cli",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &source.port_string(),
            "--rdb",
            theirs_path.to_str().expect("UTF-8"),
        ],
    );
    let theirs = std::fs::read(&theirs_path).expect("read redis-cli's RDB");
    // The header and aux fields (creation time, memory) differ; every key and value is the same.
    assert_eq!(&ours[..9], &theirs[..9]);
    let (ours, theirs) = (rdb_keys(&ours), rdb_keys(&theirs));
    assert!(ours.len() > 50);
    assert!(ours == theirs, "the keys of the two RDBs differ");
}
