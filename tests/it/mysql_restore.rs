//! MySQL/MariaDB restores that must fail: a cut-off dump changes nothing, and a statement the server
//! refuses stops the restore with the server's message.

use std::io::Write;
use std::path::Path;

use crate::support::files::{self, backup_dir};
use crate::support::mariadb::{self, MariaDb};

/// Replaces a backup with `dump` (gzip), keeping its name and giving it a matching checksum, as if the
/// damage had happened before the checksum was taken.
fn replace_backup(dir: &Path, name: &str, dump: &[u8]) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(dump).expect("gzip in memory");
    files::write_with_checksum(dir, name, &gz.finish().expect("gzip in memory"));
}

/// A server with database `app` (two tables) backed up once; returns the server, the directory, the
/// backup's name and its plain dump.
fn backed_up() -> (MariaDb, tempfile::TempDir, String, String) {
    let my = MariaDb::start();
    my.create_db("app");
    my.sql(
        Some("app"),
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(64));
         INSERT INTO a SELECT seq, MD5(seq) FROM seq_1_to_3000;
         CREATE TABLE b (id INT PRIMARY KEY);
         INSERT INTO b VALUES (1), (2);",
    );
    let dir = backup_dir();
    my.db_backup("app", dir.path())
        .run(&["backup-db"])
        .expect_success();
    let name = files::only_backup(dir.path(), "my");
    let dump = String::from_utf8(files::decompress(&dir.path().join(&name))).expect("UTF-8 dump");
    (my, dir, name, dump)
}

#[test]
fn a_cut_off_dump_restores_nothing() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, name, dump) = backed_up();
    // Cut inside table a's rows: an INSERT without its end, which the client would run if it saw EOF.
    let cut = dump.find("INSERT INTO `a`").expect("rows of a") + 2000;
    replace_backup(dir.path(), &name, &dump.as_bytes()[..cut]);

    let run = my
        .db_backup("app", dir.path())
        .run(&["restore", &name, "--database", "copy"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "incomplete",
        "Dump completed",
        "nothing was restored",
    ]);
    assert_eq!(
        my.table_count("copy"),
        0,
        "a cut-off dump must change nothing"
    );
}

#[test]
fn a_statement_the_server_refuses_stops_the_restore() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, name, dump) = backed_up();
    let broken = dump.replacen("CREATE TABLE `b`", "CREATE TABLE `b` (broken", 1);
    assert_ne!(broken, dump);
    replace_backup(dir.path(), &name, broken.as_bytes());

    let run = my
        .db_backup("app", dir.path())
        .run(&["restore", &name, "--database", "copy"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["mariadb", "error", "syntax", "restore again"]);
    // Stopped at the first error: table b's rows never ran.
    assert!(my.try_sql(Some("copy"), "SELECT COUNT(*) FROM b").is_err());
}
