//! PostgreSQL restore promises: a database that holds tables is refused, a dump cut short commits nothing
//! (plain or custom format), and `--to-file` writes the plain dump that `psql` restores.

use std::io::Write;

use tempfile::TempDir;

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// The server with the fixture in `app`, a database `empty` with nothing in it, and one backup of `app` made
/// with `env`. Returns the server, the BACKUP_DIR, the command, the backup's name and the source's dump.
fn backed_up(env: &[(&str, &str)]) -> (PgServer, TempDir, DbBackup, String, String) {
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    pg.create_db("empty");
    let dir = backup_dir();
    let cmd = env.iter().fold(
        DbBackup::for_server(&pg, "app", dir.path()),
        |cmd, (k, v)| cmd.env(k, v),
    );
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");
    (pg, dir, cmd, name, source)
}

/// Replaces the backup with `dump` gzipped, and a checksum that matches: only the restore itself can tell.
fn replace_with(dir: &TempDir, name: &str, dump: &[u8]) {
    std::fs::remove_file(dir.path().join(format!("{name}.sha256"))).expect("remove checksum");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(dump).expect("gzip in memory");
    files::write_with_checksum(dir.path(), name, &gz.finish().expect("gzip in memory"));
}

/// The restore of the cut backup fails, and commits nothing: the existing empty database stays as it was,
/// and the new database `copy` is either gone again or empty.
fn assert_cut_restore_commits_nothing(pg: &PgServer, cmd: &DbBackup) {
    let empty = pg.dump("empty");
    assert!(
        empty.contains("PostgreSQL database dump complete") && !empty.contains("CREATE TABLE"),
        "{empty}"
    );
    cmd.run(&["restore", "latest", "--database", "empty"])
        .expect_code(1);
    let after = pg.dump("empty");
    assert!(
        !after.contains("CREATE TABLE"),
        "a cut-off restore committed tables:\n{after}"
    );
    assert_eq!(after, empty, "a cut-off restore changed the empty database");

    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_code(1);
    if pg.db_exists("copy") {
        let copy = pg.dump("copy");
        assert!(
            !copy.contains("CREATE TABLE"),
            "a cut-off restore committed tables:\n{copy}"
        );
    }
}

#[test]
fn a_good_backup_is_refused_by_a_database_that_holds_tables() {
    require_tools!(PG_SERVER, &["gzip"]);
    let (pg, _dir, cmd, _name, _source) = backed_up(&[]);
    pg.psql(
        "empty",
        "CREATE TABLE keep (x int); INSERT INTO keep VALUES (1)",
    );
    let before = pg.dump("empty");
    assert!(before.contains("CREATE TABLE public.keep"), "{before}");
    cmd.run(&["restore", "latest", "--database", "empty"])
        .expect_code(1)
        .expect_stderr_mentions(&["database empty is not empty", "--database"]);
    assert_eq!(
        pg.dump("empty"),
        before,
        "a refused restore changed the database"
    );
    assert_eq!(pg.psql("empty", "SELECT count(*) FROM keep"), "1");
}

/// A plain dump cut right after a complete `CREATE TABLE` statement: `psql` alone would apply that table;
/// the restore's transaction must end in a rollback because the end-of-dump marker never came.
#[test]
fn a_plain_dump_cut_between_statements_commits_nothing() {
    require_tools!(PG_SERVER, &["gzip"]);
    let (pg, dir, cmd, name, _source) = backed_up(&[]);
    let dump = String::from_utf8(files::decompress(&dir.path().join(&name))).expect("UTF-8 dump");
    let table = dump
        .find("CREATE TABLE public.people (")
        .expect("the dump creates people");
    let end = table + dump[table..].find("\n);\n").expect("end of CREATE TABLE") + "\n);\n".len();
    replace_with(&dir, &name, &dump.as_bytes()[..end]);
    assert_cut_restore_commits_nothing(&pg, &cmd);
}

/// A custom archive cut in the middle: `pg_restore` runs in one transaction and stops at the first error.
#[test]
fn a_custom_archive_cut_short_commits_nothing() {
    require_tools!(PG_SERVER, &["gzip", "pg_restore"]);
    let (pg, dir, cmd, name, _source) = backed_up(&[("PG_DUMP_FORMAT", "custom")]);
    assert!(name.ends_with(".dump.gz"), "{name}");
    let archive = files::decompress(&dir.path().join(&name));
    assert!(archive.starts_with(b"PGDMP"), "not a custom archive");
    // Cut inside the last data block: the table of contents (with every CREATE) is whole, so the tables exist
    // before the cut is found.
    replace_with(&dir, &name, &archive[..archive.len() - 16]);
    assert_cut_restore_commits_nothing(&pg, &cmd);
}

/// `restore --to-file` writes the decompressed plain dump: byte for byte the backup's content, and a file
/// that `psql` restores into the same database as the source.
#[test]
fn restore_to_file_writes_the_plain_dump_that_psql_restores() {
    require_tools!(PG_SERVER, &["gzip"]);
    let (pg, dir, cmd, name, source) = backed_up(&[]);
    let out = tempfile::tempdir().expect("temp dir");
    let target = out.path().join("app.sql");
    cmd.run(&[
        "restore",
        "latest",
        "--to-file",
        target.to_str().expect("UTF-8"),
    ])
    .expect_success();
    let written = std::fs::read(&target).expect("read the written dump");
    let expected = files::decompress(&dir.path().join(&name));
    assert!(
        String::from_utf8_lossy(&expected).contains("-- PostgreSQL database dump complete\n"),
        "the backup is not a complete plain dump"
    );
    assert!(
        written == expected,
        "--to-file wrote other bytes than the backup holds"
    );

    pg.create_db("copy");
    pg.psql("copy", &String::from_utf8(written).expect("UTF-8 dump"));
    assert_eq!(
        pg.dump("copy"),
        source,
        "the written dump restores other data"
    );
}
