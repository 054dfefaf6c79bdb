//! Permission errors name the uid and the access it needs: a `DB_PASSWORD_FILE` the process cannot read, a
//! SQLite database owned by another user. As root the runs are made as `nobody` (root reads and writes
//! anywhere), from a copy of the binary that `nobody` can reach; otherwise as the test's own user, with the
//! files' modes taking the access away.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use tempfile::TempDir;

use crate::cli::links::{runuser, uid_of};
use crate::support::{DbBackup, Run};

/// How to run the binary as a user who does not own the test's files.
struct Other {
    uid: u32,
    runuser: Option<PathBuf>,
    /// Holds the copy of the binary (mode 0755, reachable by everyone).
    bin: TempDir,
}

impl Other {
    /// `None` (after a notice) when root has no runuser and CI is not set.
    fn new() -> Option<Other> {
        let bin = open_dir();
        fs::copy(
            env!("CARGO_BIN_EXE_db-backup"),
            bin.path().join("db-backup"),
        )
        .expect("copy binary");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // SAFETY: as above.
            let uid = unsafe { libc::geteuid() };
            return Some(Other {
                uid,
                runuser: None,
                bin,
            });
        }
        let Some(runuser) = runuser() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("missing tool: runuser (util-linux), needed to run as nobody");
            }
            eprintln!("SKIPPED: no runuser to run as nobody");
            return None;
        };
        Some(Other {
            uid: uid_of("nobody"),
            runuser: Some(runuser),
            bin,
        })
    }

    /// Runs `db-backup args...` as that user with `cmd`'s environment.
    fn run(&self, cmd: DbBackup, args: &[&str]) -> Run {
        let binary = self.bin.path().join("db-backup");
        let binary = binary.to_str().expect("UTF-8 temp path");
        match &self.runuser {
            Some(runuser) => {
                let mut all = vec!["-u", "nobody", "--", binary];
                all.extend_from_slice(args);
                cmd.program(runuser).run(&all)
            }
            None => cmd.program(Path::new(binary)).run(args),
        }
    }

    /// Takes away the access of a user other than the owner (as root) or of the owner (otherwise).
    fn deny(&self, path: &Path, owner_mode: u32) {
        let mode = if self.runuser.is_some() {
            owner_mode
        } else {
            0
        };
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

/// A temporary directory everyone may enter and read.
fn open_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// A temporary directory everyone may write (the backup directory of the other user).
fn writable_dir() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777)).expect("chmod");
    dir
}

#[test]
fn an_unreadable_password_file_names_the_uid_that_needs_read_access() {
    let Some(other) = Other::new() else { return };
    let secrets = open_dir();
    let secret = secrets.path().join("db_password");
    fs::write(&secret, "s3cret-value\n").expect("write secret");
    other.deny(&secret, 0o600);
    let backups = writable_dir();
    let cmd = DbBackup::offline(backups.path()).env(
        "DB_PASSWORD_FILE",
        secret.to_str().expect("UTF-8 temp path"),
    );
    let run = other.run(cmd, &["config"]);
    run.expect_code(2).expect_stderr_mentions(&[
        "DB_PASSWORD_FILE",
        &format!("uid {}", other.uid),
        "needs read access",
    ]);
    assert!(
        !run.stderr.contains("mount the secret there"),
        "the file is there; the message must not send the user looking for it:\n{run}"
    );
    assert!(!run.all_output().contains("s3cret-value"), "{run}");
}

#[test]
fn a_sqlite_database_owned_by_another_user_names_the_uid_and_the_access() {
    let Some(other) = Other::new() else { return };
    let data = open_dir();
    let db = data.path().join("app.db");
    {
        let conn = Connection::open(&db).expect("create database");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("WAL mode");
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .expect("fill database");
    }
    other.deny(&db, 0o644);
    if other.runuser.is_none() {
        // The owner could still write the directory and make -wal and -shm files: take that away too.
        other.deny(data.path(), 0o755);
    }
    let backups = writable_dir();
    let cmd = DbBackup::bare()
        .env("DB_TYPE", "sqlite")
        .env("DB_PATH", db.to_str().expect("UTF-8 temp path"))
        .env("DB_CONTAINER", "app")
        .env(
            "BACKUP_DIR",
            backups.path().to_str().expect("UTF-8 temp path"),
        )
        .env("TZ", "UTC");
    let run = other.run(cmd, &["backup-db"]);
    fs::set_permissions(data.path(), fs::Permissions::from_mode(0o755)).expect("chmod back");
    run.expect_code(1).expect_stderr_mentions(&[
        "DB_PATH",
        &format!("uid {}", other.uid),
        "read and write access",
    ]);
    let left: Vec<String> = crate::support::files::backups(backups.path());
    assert!(left.is_empty(), "a refused backup left files: {left:?}");
}
