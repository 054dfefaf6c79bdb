//! Restore and verify refuse a damaged or unchecked backup, before touching any database.

use std::fs;
use std::io::Write;

use tempfile::TempDir;

use crate::support::files;
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// `restore <target>` fails naming one of `cause`, and neither a new nor an existing database is
/// touched.
fn assert_restore_refused(pg: &PgServer, cmd: &DbBackup, target: &str, cause: &[&str]) {
    cmd.run(&["restore", target, "--database", "copy"])
        .expect_code(1)
        .expect_stderr_mentions_any(cause);
    assert!(
        !pg.db_exists("copy"),
        "a refused restore created the database"
    );
    let existing = pg.dump("existing");
    cmd.run(&["restore", target, "--database", "existing"])
        .expect_code(1)
        .expect_stderr_mentions_any(cause);
    assert_eq!(
        pg.dump("existing"),
        existing,
        "a refused restore changed the database"
    );
}

/// `verify <target>` fails, its report (stdout or stderr) naming one of `cause`.
fn assert_verify_fails(cmd: &DbBackup, target: &str, cause: &[&str]) {
    cmd.run(&["verify", target])
        .expect_code(1)
        .expect_output_mentions_any(cause);
}

const CHECKSUM_WORDS: &[&str] = &["checksum", "sha256", "sha-256"];
/// A flipped byte may be reported as a checksum mismatch or as a stream that does not decode.
const DAMAGE_WORDS: &[&str] = &["checksum", "sha256", "sha-256", "corrupt"];

#[test]
fn corrupted_backup_is_refused_by_restore_and_verify() {
    require_tools!(PG_SERVER);
    let (pg, dir, cmd, name) = fixture::backed_up_beside_existing();
    let path = dir.path().join(&name);
    files::flip_byte(&path, fs::metadata(&path).expect("stat").len() / 2);

    for target in ["latest", "all", name.as_str()] {
        assert_verify_fails(&cmd, target, DAMAGE_WORDS);
    }
    assert_restore_refused(&pg, &cmd, "latest", DAMAGE_WORDS);
}

#[test]
fn backup_without_checksum_is_refused() {
    require_tools!(PG_SERVER);
    let (pg, dir, cmd, name) = fixture::backed_up_beside_existing();
    fs::remove_file(dir.path().join(format!("{name}.sha256"))).expect("remove checksum");
    assert_verify_fails(&cmd, &name, CHECKSUM_WORDS);
    assert_restore_refused(&pg, &cmd, &name, CHECKSUM_WORDS);
    // `latest` may skip a backup without checksum or name it; it must not restore it.
    // `latest` looks only at complete backups (with their checksum), so it finds none.
    assert_restore_refused(&pg, &cmd, "latest", &["no complete backup of series pg"]);
}

/// Rewrites the backup with `bytes` and a checksum that matches them: only deeper checks can tell.
fn replace_with_checksum(dir: &TempDir, name: &str, bytes: &[u8]) {
    fs::remove_file(dir.path().join(format!("{name}.sha256"))).expect("remove checksum");
    files::write_with_checksum(dir.path(), name, bytes);
}

#[test]
fn truncated_dump_with_matching_checksum_is_refused() {
    require_tools!(PG_SERVER);
    let (pg, dir, cmd, name) = fixture::backed_up_beside_existing();
    let dump = files::decompress(&dir.path().join(&name));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Cut between two statements before the middle, where psql alone would apply what came (a cut inside a
    // statement fails in psql anyway).
    let text = String::from_utf8(dump).expect("UTF-8 dump");
    let cut = text[..text.len() / 2]
        .rfind("\n--\n-- Name: ")
        .expect("a statement boundary before the middle");
    gz.write_all(&text.as_bytes()[..cut + 1])
        .expect("gzip in memory");
    replace_with_checksum(&dir, &name, &gz.finish().expect("gzip in memory"));

    let cause = &["incomplete", "truncat", "complete"];
    assert_verify_fails(&cmd, "latest", cause);
    // Half a dump must never be reported as restored (the contract leaves open whether the
    // database was created before the end of the stream showed the damage).
    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_code(1);
    // Either way, nothing of the half dump was committed.
    if pg.db_exists("copy") {
        let copy = pg.dump("copy");
        assert!(copy.contains("PostgreSQL database dump"), "{copy}");
        assert!(
            !copy.contains("CREATE TABLE"),
            "a cut-off restore committed tables:\n{copy}"
        );
    }
    pg.create_db("empty");
    let empty = pg.dump("empty");
    assert!(!empty.contains("CREATE TABLE"), "{empty}");
    cmd.run(&["restore", "latest", "--database", "empty"])
        .expect_code(1);
    assert_eq!(
        pg.dump("empty"),
        empty,
        "a cut-off restore changed the empty database"
    );
}

#[test]
fn undecodable_backup_with_matching_checksum_fails_verify() {
    require_tools!(PG_SERVER);
    let (_pg, dir, cmd, name) = fixture::backed_up_beside_existing();
    let mut bytes = fs::read(dir.path().join(&name)).expect("read backup");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    replace_with_checksum(&dir, &name, &bytes);
    assert_verify_fails(
        &cmd,
        "latest",
        &["gzip", "decompress", "corrupt", "crc", "invalid"],
    );
}
