//! Redis restore refusals: a cut-off or damaged RDB, a module value and a server that already holds keys are
//! refused before anything is written, with a message that names the cause (and the key).

use std::io::Write;

use crate::support::files::{self, backup_dir, write_with_checksum};
use crate::support::redis::{REDIS_SERVER, RedisServer, craft_rdb, only_rdb_backup};
use crate::support::require_tools;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

/// A real backup of a server with a few hundred keys in two databases.
fn real_backup(dir: &std::path::Path) -> Vec<u8> {
    let source = RedisServer::start();
    let mut conn = source.conn();
    let mut pipe = redis::pipe();
    for db in [0, 3] {
        pipe.cmd("SELECT").arg(db).ignore();
        for i in 0..300 {
            pipe.cmd("SET")
                .arg(format!("k{i}"))
                .arg(format!("v{i}"))
                .ignore();
            pipe.cmd("RPUSH")
                .arg(format!("l{i}"))
                .arg(&["a", "b"])
                .ignore();
        }
    }
    pipe.query::<()>(&mut conn).expect("fill");
    source.db_backup(dir).run(&["backup-db"]).expect_success();
    files::decompress(&dir.join(only_rdb_backup(dir)))
}

#[test]
fn a_truncated_rdb_is_refused_before_anything_is_written() {
    require_tools!(REDIS_SERVER);
    let dir = backup_dir();
    let rdb = real_backup(dir.path());
    // A cut-off dump that was compressed and checksummed as if good: only the RDB check can tell.
    let name = "redis-2030-01-01T00-00-00.rdb.gz";
    write_with_checksum(dir.path(), name, &gzip(&rdb[..rdb.len() / 2]));
    let target = RedisServer::start();
    let run = target.db_backup(dir.path()).run(&["restore", name]);
    run.expect_code(1)
        .expect_stderr_mentions(&["cut short", "nothing was written"]);
    assert!(
        target.keyspace().is_empty(),
        "keys were written: {:?}",
        target.keyspace()
    );
    // verify says so too, and --to-file leaves no file.
    target
        .db_backup(dir.path())
        .run(&["verify", name])
        .expect_code(1)
        .expect_output_mentions_any(&["cut short"]);
    let out = tempfile::tempdir().expect("temp dir");
    let path = out.path().join("dump.rdb");
    target
        .db_backup(dir.path())
        .run(&["restore", name, "--to-file", path.to_str().expect("UTF-8")])
        .expect_code(1);
    assert!(
        files::names(out.path()).is_empty(),
        "{:?}",
        files::names(out.path())
    );
}

#[test]
fn a_damaged_rdb_is_refused_by_its_crc() {
    require_tools!(REDIS_SERVER);
    let dir = backup_dir();
    let mut rdb = real_backup(dir.path());
    let middle = rdb.len() / 2;
    rdb[middle] ^= 0x01;
    let name = "redis-2030-01-01T00-00-00.rdb.gz";
    write_with_checksum(dir.path(), name, &gzip(&rdb));
    let target = RedisServer::start();
    target
        .db_backup(dir.path())
        .run(&["restore", name])
        .expect_code(1)
        .expect_stderr_mentions_any(&["CRC-64", "not a complete"]);
    assert!(target.keyspace().is_empty());
}

#[test]
fn a_module_value_is_refused_naming_the_key() {
    require_tools!(REDIS_SERVER);
    let mut body = vec![0xfe, 0x00]; // SELECTDB 0
    body.extend_from_slice(&[0x00, 0x05]);
    body.extend_from_slice(b"plain");
    body.extend_from_slice(&[0x01, b'v']);
    // A module value (type 7): the key, the module id, one unsigned field, the end of the fields.
    body.extend_from_slice(&[0x07, 0x0a]);
    body.extend_from_slice(b"module-key");
    body.push(0x81);
    body.extend_from_slice(&0x1234_5678_9abc_0001u64.to_be_bytes());
    body.extend_from_slice(&[0x02, 0x05, 0x00]);
    let dir = backup_dir();
    let name = "redis-2030-01-01T00-00-00.rdb.gz";
    write_with_checksum(dir.path(), name, &gzip(&craft_rdb(&body)));
    let target = RedisServer::start();
    // A module value is a complete backup (verify accepts it), but RESTORE cannot carry it.
    target
        .db_backup(dir.path())
        .run(&["verify", name])
        .expect_success();
    target
        .db_backup(dir.path())
        .run(&["restore", name])
        .expect_code(1)
        .expect_stderr_mentions(&[
            "\"module-key\"",
            "module",
            "--to-file",
            "nothing was written",
        ]);
    assert!(target.keyspace().is_empty());
}

#[test]
fn a_server_that_holds_keys_is_refused() {
    require_tools!(REDIS_SERVER);
    let dir = backup_dir();
    real_backup(dir.path());
    let target = RedisServer::start();
    target.cmd(&["SET", "precious", "data"]);
    target
        .db_backup(dir.path())
        .run(&["restore", "latest"])
        .expect_code(1)
        .expect_stderr_mentions(&["1 in db 0", "FLUSHALL"]);
    assert_eq!(target.keyspace().get(&0), Some(&1));
    target
        .db_backup(dir.path())
        .run(&["restore", "latest", "--database", "2"])
        .expect_code(2)
        .expect_stderr_mentions(&["--database"]);
}
