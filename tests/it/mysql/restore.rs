//! MySQL/MariaDB restores: a cut-off dump changes nothing, a statement the server refuses stops the restore
//! with the server's message, and `--to-file` writes the dump itself.

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
    // The refused statement comes after table a's CREATE and before its rows and everything of table b: a
    // client that went on after the error would leave rows in a and a table b.
    let broken = dump.replacen(
        "INSERT INTO `a`",
        "INSERT INTO `a` (broken;\nINSERT INTO `a`",
        1,
    );
    assert_ne!(broken, dump);
    replace_backup(dir.path(), &name, broken.as_bytes());
    // An existing empty database is used as it is and kept after a failure, so what ran stays visible.
    my.create_db("copy");

    let run = my
        .db_backup("app", dir.path())
        .run(&["restore", &name, "--database", "copy"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["mariadb", "error", "syntax", "restore again"]);
    // Stopped at the first error: the statement before it ran, none after it did.
    assert_eq!(my.sql(Some("copy"), "SELECT COUNT(*) FROM a"), "0");
    assert!(my.try_sql(Some("copy"), "SELECT COUNT(*) FROM b").is_err());
}

/// `restore --to-file` writes the decompressed dump: byte for byte the backup's content, which the client
/// restores into a database that dumps as the source.
#[test]
fn restore_to_file_writes_the_dump_the_client_restores() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, name, dump) = backed_up();
    assert!(dump.contains("-- Dump completed"), "not a complete dump");
    let out = tempfile::tempdir().expect("temp dir");
    let target = out.path().join("app.sql");
    my.db_backup("app", dir.path())
        .run(&[
            "restore",
            &name,
            "--to-file",
            target.to_str().expect("UTF-8"),
        ])
        .expect_success();
    let written = std::fs::read_to_string(&target).expect("read the written dump");
    assert!(
        written == dump,
        "--to-file wrote other bytes than the backup holds"
    );

    my.create_db("copy");
    my.sql(Some("copy"), &written);
    assert_eq!(my.dump("copy"), my.dump("app"));
    assert_eq!(my.sql(Some("copy"), "SELECT COUNT(*) FROM a"), "3000");
}

/// A trigger written with the source database in its names (`CREATE TRIGGER app.t ... ON app.items`) would
/// fail part-way through a restore under another name: the restore is refused during its first read, naming
/// the line, and leaves no database behind; under the source's own name the same backup restores.
#[test]
fn a_dump_naming_its_database_is_refused_under_another_name() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my.create_db("app");
    my.sql(
        Some("app"),
        "CREATE TABLE items (id INT PRIMARY KEY, v INT);
         INSERT INTO items VALUES (1, 1), (2, 2);
         CREATE TRIGGER app.t BEFORE INSERT ON app.items FOR EACH ROW SET NEW.v = NEW.id * 10;",
    );
    let dir = backup_dir();
    my.db_backup("app", dir.path())
        .run(&["backup-db"])
        .expect_success();
    let name = files::only_backup(dir.path(), "my");
    let source = my.dump("app");

    let run = my
        .db_backup("app", dir.path())
        .run(&["restore", &name, "--database", "copy"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "database app",
        "TRIGGER app.t",
        "--database app",
        "nothing was restored",
    ]);
    assert!(
        !my.db_exists("copy"),
        "the refused restore left database copy"
    );

    my.sql(None, "DROP DATABASE app");
    my.db_backup("app", dir.path())
        .run(&["restore", &name])
        .expect_success();
    assert_eq!(my.dump("app"), source);
    my.sql(Some("app"), "INSERT INTO items (id) VALUES (3)");
    assert_eq!(
        my.sql(Some("app"), "SELECT v FROM items WHERE id = 3"),
        "30"
    );
}
