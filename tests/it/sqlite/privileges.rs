//! What the user db-backup runs as needs on a SQLite database, as the README's Privileges say: a WAL-mode
//! database needs write access to the file and its directory (SQLite keeps its `-wal` and `-shm` files there);
//! a rollback-journal database can be backed up with read access alone; a restore writes the file. Without the
//! access the run fails naming DB_PATH, with no backup file. Run as an unprivileged uid (root ignores file modes).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rusqlite::Connection;

use crate::sqlite::roundtrip::sqlite_backup;
use crate::support::files::{self, assert_failed_cleanly, backup_dir};
use crate::support::{DbBackup, tools};

/// The uid and gid the runs use when the tests run as root: `nobody`.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(uid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

/// `cmd` started as `nobody` (through `setpriv`) when the tests run as root; as it is otherwise.
fn unprivileged(cmd: DbBackup, wrapper_dir: &Path) -> DbBackup {
    if !is_root() {
        return cmd;
    }
    let wrapper = wrapper_dir.join("db-backup-as-nobody");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec '{}' --reuid={NOBODY} --regid={NOBODY} --clear-groups '{}' \"$@\"\n",
            tools::path("setpriv").display(),
            env!("CARGO_BIN_EXE_db-backup")
        ),
    )
    .expect("write the wrapper");
    chmod(&wrapper, 0o755);
    cmd.program(&wrapper)
}

/// A database directory (world-readable, owned by root) holding `app.db` in `journal_mode`, and a backup
/// directory the unprivileged user may write.
fn setup(journal_mode: &str) -> (tempfile::TempDir, std::path::PathBuf, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    let db = data.path().join("app.db");
    let conn = Connection::open(&db).expect("create the database");
    conn.execute_batch(&format!(
        "PRAGMA journal_mode={journal_mode}; CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept');"
    ))
    .expect("fill the database");
    drop(conn);
    chmod(data.path(), 0o755);
    chmod(&db, 0o644);
    let dir = backup_dir();
    if is_root() {
        chown(dir.path(), NOBODY);
    }
    (data, db, dir)
}

/// The SQLite backups (`app-<time>.db.gz`) in `dir`.
fn db_backups(dir: &Path) -> Vec<String> {
    files::names(dir)
        .into_iter()
        .filter(|n| n.starts_with("app-") && n.ends_with(".db.gz"))
        .collect()
}

#[test]
fn a_wal_database_needs_write_access_to_the_file_and_its_directory() {
    if is_root() && !tools::available(&["setpriv"]) {
        return;
    }
    let (data, db, dir) = setup("WAL");
    let bin = tempfile::tempdir().expect("temp dir");
    chmod(bin.path(), 0o755);
    let before = files::snapshot(dir.path());
    let cmd = unprivileged(sqlite_backup(&db, dir.path()), bin.path());
    let run = cmd.run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["DB_PATH", "readonly"]);

    // Write access to the file alone is not enough: SQLite creates app.db-wal and app.db-shm beside it.
    chmod(&db, 0o666);
    let run = cmd.run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["DB_PATH", "readonly"]);

    chmod(data.path(), 0o777);
    cmd.run(&["backup-db"]).expect_success();
    assert_eq!(db_backups(dir.path()).len(), 1);
    cmd.run(&["verify", "latest"]).expect_success();
}

#[test]
fn a_rollback_journal_database_is_backed_up_with_read_access_but_restored_only_with_write_access() {
    if is_root() && !tools::available(&["setpriv"]) {
        return;
    }
    let (data, db, dir) = setup("DELETE");
    let bin = tempfile::tempdir().expect("temp dir");
    chmod(bin.path(), 0o755);
    let cmd = unprivileged(sqlite_backup(&db, dir.path()), bin.path());
    cmd.run(&["backup-db"]).expect_success();
    let backup = db_backups(dir.path()).pop().expect("one backup");

    // Restoring writes DB_PATH: refused while the file is read-only, and the file is left as it was.
    let before = fs::read(&db).expect("read the database");
    let run = cmd.run(&["restore", &backup]);
    run.expect_code(1).expect_stderr_mentions(&["app.db"]);
    assert_eq!(fs::read(&db).expect("read the database"), before);

    chmod(&db, 0o666);
    chmod(data.path(), 0o777);
    cmd.run(&["restore", &backup]).expect_success();
    let conn = Connection::open(&db).expect("open the restored database");
    let kept: String = conn
        .query_row("SELECT x FROM t", [], |r| r.get(0))
        .expect("read the restored row");
    assert_eq!(kept, "kept");
}
