//! SQLite (`DB_PATH`): a backup restores to the same `.dump`, into a missing file or over a database an
//! application holds open, or as a file with `--to-file`; damaged or cut-short backups are refused before the
//! target is touched.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, require_tools, tools};

/// What these tests need besides the binary: the sqlite3 shell, for `.dump`.
pub const SQLITE_TOOLS: &[&str] = &["sqlite3"];

/// Schema objects of every kind and awkward values: unicode, NULLs, small and overflowing blobs, a
/// `WITHOUT ROWID` table, AUTOINCREMENT (so `sqlite_sequence`), a trigger, a view, indexes.
pub const FIXTURE: &str = r#"
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    nickname TEXT,
    avatar BLOB,
    score REAL,
    born TEXT
);
CREATE INDEX people_lower_name ON people (lower(name));
CREATE UNIQUE INDEX people_nick ON people (nickname) WHERE nickname IS NOT NULL;
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, person_id INTEGER REFERENCES people (id), action TEXT);
CREATE TRIGGER people_audit AFTER INSERT ON people
BEGIN
    INSERT INTO audit (person_id, action) VALUES (NEW.id, 'insert');
END;
CREATE VIEW loud AS SELECT id, upper(name) || '!' AS shout FROM people;
CREATE TABLE kv (k TEXT PRIMARY KEY, v ANY) STRICT, WITHOUT ROWID;
INSERT INTO people (name, nickname, avatar, score, born) VALUES
    ('Zoë Ångström', NULL, x'00ff10', 1.5, '2000-02-29'),
    ('李小龍', 'dragon', NULL, -0.0, NULL),
    ('emoji 🎉', 'tab	and
newline', randomblob(200000), 1e300, '1970-01-01'),
    ('quotes '' and " and \', '', zeroblob(5000), NULL, 'x');
INSERT INTO kv VALUES ('int', 42), ('text', 'forty-two'), ('blob', x'deadbeef'), ('null', NULL), ('real', 4.2);
PRAGMA user_version = 7;
"#;

/// A database at `path` in WAL mode with the fixture, left with its last writes in the WAL (no
/// checkpoint), and the connection that holds it, as a running application would.
pub fn create_wal(path: &Path) -> Connection {
    let conn = Connection::open(path).expect("open source database");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;")
        .expect("WAL mode");
    conn.execute_batch(FIXTURE).expect("fixture");
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO people (name) SELECT 'bulk ' || i FROM n;",
    )
    .expect("bulk rows");
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    assert!(
        fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0,
        "the writes should still be in the WAL"
    );
    conn
}

/// `sqlite3 PATH .dump`: the text the round trip compares.
pub fn dump(path: &Path) -> String {
    let out = std::process::Command::new(tools::path("sqlite3"))
        .arg(path)
        .arg(".dump")
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success(),
        "sqlite3 .dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 dump")
}

/// `PRAGMA integrity_check` of the file at `path`.
pub fn integrity(path: &Path) -> String {
    let conn = Connection::open(path).expect("open for integrity check");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check")
}

/// db-backup for the SQLite file `db`, series `app`, into `dir`; the engine is detected from DB_PATH.
pub fn sqlite_backup(db: &Path, dir: &Path) -> DbBackup {
    DbBackup::bare()
        .env("DB_PATH", db.to_str().expect("UTF-8 path"))
        .env("DB_CONTAINER", "app")
        .env("BACKUP_DIR", dir.to_str().expect("UTF-8 path"))
        .env("TZ", "UTC")
}

/// `restore latest --database <copy>` of the backups in `dir` (made of `db`), failing unless it succeeds.
pub fn restore_latest_into(db: &Path, dir: &Path, copy: &Path) {
    sqlite_backup(db, dir)
        .run(&[
            "restore",
            "latest",
            "--database",
            copy.to_str().expect("UTF-8"),
        ])
        .expect_success();
}

/// A work directory holding `app.db`, made by [`create_wal`] with its connection closed, and a fresh
/// BACKUP_DIR; returns (work dir, database path, backup dir). Both dirs live as long as the handles.
fn closed_wal_fixture() -> (TempDir, PathBuf, TempDir) {
    let work = tempfile::tempdir().expect("temp dir");
    let source = work.path().join("app.db");
    drop(create_wal(&source));
    (work, source, backup_dir())
}

/// The backups (`app-<time>.db.gz`) in `dir`, sorted by name.
pub fn db_backups(dir: &Path) -> Vec<String> {
    files::names(dir)
        .into_iter()
        .filter(|n| n.starts_with("app-") && n.ends_with(".db.gz"))
        .collect()
}

/// Fails unless `dir` holds only backups, their checksums and db-backup's lock: no temporary copies.
pub fn assert_no_strays(dir: &Path) {
    for name in files::names(dir) {
        let backup = name.starts_with("app-")
            && (name.ends_with(".db.gz") || name.ends_with(".db.gz.sha256"));
        assert!(
            backup || name == ".db-backup.lock",
            "unexpected file {name} in {:?}",
            files::names(dir)
        );
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn round_trip_of_a_wal_database_held_open() {
    require_tools!(SQLITE_TOOLS, &["sha256sum", "gzip"]);
    let work = tempfile::tempdir().expect("temp dir");
    let source = work.path().join("app.db");
    let app = create_wal(&source);
    let expected = dump(&source);
    assert!(
        expected.contains("CREATE TRIGGER people_audit") && expected.contains("CREATE VIEW loud")
    );

    let dir = backup_dir();
    // A leftover of a crashed run, which the sweep removes.
    fs::write(dir.path().join(".db-backup-sqlite-crashed.db"), b"stale").expect("plant leftover");
    let run = sqlite_backup(&source, dir.path()).run(&["backup-db"]);
    run.expect_success();
    assert!(
        run.stderr.contains("DB_PATH"),
        "the log should say why sqlite was chosen:\n{run}"
    );
    let names = db_backups(dir.path());
    assert_eq!(names.len(), 1, "one backup: {:?}", files::names(dir.path()));
    let name = &names[0];
    assert_no_strays(dir.path());
    assert_eq!(files::mode(&dir.path().join(name)), 0o600);
    let said = files::run_tool(dir.path(), "sha256sum", &["-c", &format!("{name}.sha256")]);
    assert_eq!(said.trim(), format!("{name}: OK"));
    let content = files::decompress(&dir.path().join(name));
    assert!(content.starts_with(b"SQLite format 3\0"));

    sqlite_backup(&source, dir.path())
        .run(&["verify", "latest"])
        .expect_success();

    // Into a file that does not exist yet, named by --database.
    let copy = work.path().join("copy.db");
    restore_latest_into(&source, dir.path(), &copy);
    assert_eq!(dump(&copy), expected);
    assert_eq!(integrity(&copy), "ok");
    let version: i64 = Connection::open(&copy)
        .expect("open copy")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version");
    assert_eq!(version, 7);
    drop(app);
    assert_no_strays(dir.path());
}

#[test]
fn restore_creates_a_missing_db_path() {
    require_tools!(SQLITE_TOOLS);
    let (work, source, dir) = closed_wal_fixture();
    let expected = dump(&source);
    sqlite_backup(&source, dir.path())
        .run(&["backup-db"])
        .expect_success();

    let gone = work.path().join("lost").join("app.db");
    fs::create_dir(gone.parent().expect("parent")).expect("mkdir");
    let run = sqlite_backup(&gone, dir.path()).run(&["restore", "latest"]);
    run.expect_success();
    assert!(gone.is_file());
    assert_eq!(dump(&gone), expected);
    assert_eq!(integrity(&gone), "ok");
    assert_no_strays(dir.path());
}

/// The application keeps its connection open across the restore and sees the restored content after it.
#[test]
fn restore_replaces_a_database_an_application_holds() {
    require_tools!(SQLITE_TOOLS);
    let (_work, source, dir) = closed_wal_fixture();
    let expected = dump(&source);
    let cmd = sqlite_backup(&source, dir.path()).env("DB_TYPE", "sqlite");
    cmd.run(&["backup-db"]).expect_success();

    // The application goes on: new rows after the backup, its connection open.
    let app = Connection::open(&source).expect("app connection");
    app.execute_batch(
        "DELETE FROM audit; DELETE FROM people WHERE id > 2; CREATE TABLE later (x);",
    )
    .expect("app writes");
    assert_ne!(dump(&source), expected);

    let run = cmd.run(&["restore", "latest"]);
    run.expect_success();
    assert!(run.stdout.contains("SQLite database"), "{run}");
    let people: i64 = app
        .query_row("SELECT count(*) FROM people", [], |r| r.get(0))
        .expect("app reads after the restore");
    assert_eq!(people, 3004);
    drop(app);
    assert_eq!(dump(&source), expected);
    assert_eq!(integrity(&source), "ok");
}

#[test]
fn damaged_and_cut_backups_are_refused_before_the_target_is_touched() {
    require_tools!(SQLITE_TOOLS);
    let (_work, source, dir) = closed_wal_fixture();
    let cmd = sqlite_backup(&source, dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let good = files::decompress(&dir.path().join(&db_backups(dir.path())[0]));
    let before = dump(&source);

    // Garbage over a b-tree page in the middle, with a checksum that matches: only the integrity check
    // can tell.
    let page = u16::from_be_bytes([good[16], good[17]]) as usize;
    let mut damaged = good.clone();
    for b in &mut damaged[3 * page..3 * page + 64] {
        *b = 0x5a;
    }
    let damaged_name = "app-2030-01-01T00-00-00.db.gz";
    files::write_with_checksum(dir.path(), damaged_name, &gzip(&damaged));
    let run = cmd.run(&["restore", damaged_name]);
    run.expect_code(1)
        .expect_stderr_mentions_any(&["integrity", "malformed", "not a sound"]);
    assert!(run.stderr.contains("not touched"), "{run}");
    assert_eq!(dump(&source), before);

    // Cut at a page boundary: still a valid-looking file, but shorter than its header says.
    let cut_name = "app-2030-01-02T00-00-00.db.gz";
    files::write_with_checksum(dir.path(), cut_name, &gzip(&good[..good.len() - page]));
    let run = cmd.run(&["restore", cut_name]);
    run.expect_code(1).expect_stderr_mentions(&["cut short"]);
    assert_eq!(dump(&source), before);
    cmd.run(&["verify", cut_name])
        .expect_code(1)
        .expect_output_mentions_any(&["cut short"]);
    assert!(
        !files::names(dir.path())
            .iter()
            .any(|n| n.starts_with(".db-backup-sqlite-")),
        "temporary copies left: {:?}",
        files::names(dir.path())
    );
}

#[test]
fn a_missing_or_foreign_db_path_fails_cleanly() {
    let work = tempfile::tempdir().expect("temp dir");
    let dir = backup_dir();
    let missing = work.path().join("nope.db");
    let run = sqlite_backup(&missing, dir.path()).run(&["backup-db"]);
    run.expect_code(1)
        .expect_stderr_mentions(&[missing.to_str().expect("UTF-8"), "does not exist"]);
    assert!(db_backups(dir.path()).is_empty());

    let text = work.path().join("notes.txt");
    fs::write(
        &text,
        "this is not a database, but it is long enough to have a header ".repeat(20),
    )
    .expect("write");
    let run = sqlite_backup(&text, dir.path()).run(&["backup-db"]);
    run.expect_code(1).expect_stderr_mentions(&["notes.txt"]);
    run.expect_stderr_mentions_any(&["not a database", "sqlite"]);
    assert!(db_backups(dir.path()).is_empty());
    assert_no_strays(dir.path());
}

/// `restore --to-file` writes the backup's database file itself: byte for byte the decompressed backup, a
/// sound SQLite file that dumps as the source, and the source file is left alone.
#[test]
fn restore_to_file_writes_the_database_file() {
    require_tools!(SQLITE_TOOLS, &["gzip"]);
    let (_work, source, dir) = closed_wal_fixture();
    let expected = dump(&source);
    assert!(
        expected.contains("CREATE TRIGGER people_audit"),
        "{expected}"
    );
    sqlite_backup(&source, dir.path())
        .run(&["backup-db"])
        .expect_success();
    let backups = db_backups(dir.path());
    let [name] = backups.as_slice() else {
        panic!("expected one backup: {backups:?}");
    };
    let out = tempfile::tempdir().expect("temp dir");
    let target = out.path().join("copy.db");
    sqlite_backup(&source, dir.path())
        .run(&[
            "restore",
            "latest",
            "--to-file",
            target.to_str().expect("UTF-8"),
        ])
        .expect_success();
    let written = fs::read(&target).expect("read the written file");
    assert!(
        written.starts_with(b"SQLite format 3\0"),
        "not a SQLite file"
    );
    assert!(
        written == files::decompress(&dir.path().join(name)),
        "--to-file wrote other bytes than the backup holds"
    );
    assert_eq!(integrity(&target), "ok");
    assert_eq!(dump(&target), expected);
    assert_eq!(dump(&source), expected, "the source changed");
}
