//! A full disk: BACKUP_DIR is an 8 MiB tmpfs (mounted in a private mount namespace with `unshare -m`, so
//! nothing outside the test sees it) holding an older backup, and the database dumps to more than that.
//! The run must fail at once (no retry, no hang), say the disk is full, leave no temporary file, and keep the
//! older backup exactly as it was. Mounting needs root: elsewhere the tests skip with a notice, and under
//! `CI=true` they fail naming the need.

use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::files::{self, DirState, backup_dir, plant_backup};
use crate::support::service::{children_of, path_str, wait_until};
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, require_tools, tools};

/// The size of the tmpfs; the dump (uncompressed) is about twice as large.
const TMPFS_SIZE: &str = "size=8m";
/// A tmpfs with room for the data but not for files: the new backup's temporary file is the last one that
/// fits (after the root, the older backup and its checksum and the run lock; tmpfs keeps one inode back), so
/// the dump is written whole and the checksum, created at commit, fails with "No space left on device".
const TMPFS_FEW_INODES: &str = "size=64m,nr_inodes=6";
/// Rows of 32 hex characters: about 12 MB of plain dump.
const ROWS: u32 = 300_000;
const OLDER: &str = "pg-2001-01-01T00-00-00.sql.gz";

/// Mounts the tmpfs on `$1`, copies the older backup in from `$2`, runs db-backup (`$3`) with the remaining
/// arguments, then copies what the directory holds to `$4` (the tmpfs goes away with the namespace) and
/// exits with db-backup's status.
pub(crate) const SCRIPT: &str = r#"
set -e
mount -t tmpfs -o "$TMPFS_OPTIONS,mode=0700" tmpfs "$1"
dir=$1 bin=$3 out=$4
cp -a "$2"/. "$dir"/
shift 4
set +e
"$bin" "$@"
rc=$?
cp -a "$dir"/. "$out"/
exit $rc
"#;

/// Whether this process may mount a tmpfs in a private mount namespace. When not: a notice and `false`, or
/// under `CI=true` a failure that names what is needed.
pub(crate) fn can_mount() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let probe = backup_dir();
    let works = root
        && tools::find("unshare").is_some()
        && Command::new(tools::path("unshare"))
            .args([
                "-m",
                "sh",
                "-c",
                "mount -t tmpfs -o size=1m tmpfs \"$1\"",
                "sh",
            ])
            .arg(probe.path())
            .status()
            .is_ok_and(|s| s.success());
    if works {
        return true;
    }
    let message = "the disk-full tests need root and `unshare -m` (util-linux) with the right to mount a \
                   tmpfs (CAP_SYS_ADMIN): run them as root, e.g. with scripts/test.sh";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// A server whose database `app` dumps to about 12 MB; a stash holding the older backup; a directory that
/// receives what BACKUP_DIR holds after the run.
struct Scene {
    pg: PgServer,
    mount_point: TempDir,
    stash: TempDir,
    out: TempDir,
    before: DirState,
}

fn scene() -> Scene {
    let pg = PgServer::start();
    pg.create_db("app");
    pg.add_big_table("app", ROWS);
    let stash = backup_dir();
    plant_backup(stash.path(), OLDER);
    let before = files::snapshot(stash.path());
    Scene {
        pg,
        mount_point: backup_dir(),
        stash,
        out: backup_dir(),
        before,
    }
}

impl Scene {
    /// db-backup (`args`) inside the namespace, BACKUP_DIR on the full tmpfs, no compression.
    fn command(&self) -> DbBackup {
        self.command_on(TMPFS_SIZE)
    }

    /// The same on a tmpfs mounted with `options`.
    fn command_on(&self, options: &str) -> DbBackup {
        DbBackup::for_server(&self.pg, "app", self.mount_point.path())
            .env("BACKUP_COMPRESSION", "none")
            .env("TMPFS_OPTIONS", options)
            .program(&tools::path("unshare"))
    }

    fn args<'a>(&'a self, command: &'a str) -> Vec<&'a str> {
        vec![
            "-m",
            "sh",
            "-c",
            SCRIPT,
            "sh",
            path_str(self.mount_point.path()),
            path_str(self.stash.path()),
            env!("CARGO_BIN_EXE_db-backup"),
            path_str(self.out.path()),
            command,
        ]
    }

    /// What BACKUP_DIR held after the run: exactly the older backup, nothing else (no temporary file, no
    /// new backup or checksum; db-backup's own dotfiles aside).
    fn assert_older_backup_intact(&self, run: &Run) {
        let after = files::snapshot(self.out.path());
        assert!(
            after == self.before,
            "the full disk must leave the backup dir as it was.\nafter: {:?}\n{run}",
            files::names(self.out.path())
        );
        let partials: Vec<String> = files::names(self.out.path())
            .into_iter()
            .filter(|n| n.ends_with(".partial"))
            .collect();
        assert!(partials.is_empty(), "temporary files left: {partials:?}");
    }
}

/// What the service logs when it retries a failed attempt.
const RETRIED: &str = "backup attempt failed; retrying";
const DISK_FULL_WORDS: &[&str] = &["no space", "disk is full", "disk full"];

#[test]
fn backup_db_on_a_full_disk_fails_at_once_and_keeps_the_older_backup() {
    require_tools!(PG_SERVER, &["sh", "cp", "mount"]);
    if !can_mount() {
        return;
    }
    let s = scene();
    let run = s.command().run(&s.args("backup-db"));
    run.expect_code(1)
        .expect_stderr_mentions_any(DISK_FULL_WORDS);
    assert!(
        run.elapsed < Duration::from_secs(20),
        "a full disk must fail the run at once:\n{run}"
    );
    assert_eq!(
        run.stderr.matches("backup started").count(),
        1,
        "one attempt only:\n{run}"
    );
    s.assert_older_backup_intact(&run);
}

#[test]
fn backup_service_does_not_retry_a_full_disk() {
    require_tools!(PG_SERVER, &["sh", "cp", "mount"]);
    if !can_mount() {
        return;
    }
    let run = service_on_a_full_disk(&scene(), TMPFS_SIZE);
    run.expect_stderr_mentions_any(DISK_FULL_WORDS);
}

/// The disk fills up after the dump, when the checksum is written at commit: the same promise.
#[test]
fn backup_service_does_not_retry_a_disk_full_at_commit() {
    require_tools!(PG_SERVER, &["sh", "cp", "mount"]);
    if !can_mount() {
        return;
    }
    let run = service_on_a_full_disk(&scene(), TMPFS_FEW_INODES);
    run.expect_stderr_mentions(&[".sha256"])
        .expect_stderr_mentions_any(DISK_FULL_WORDS);
}

/// Runs backup-service with retries on a tmpfs mounted with `options` until its first run fails; checks that
/// the run was not retried and the directory is as it was; returns the service's run.
fn service_on_a_full_disk(s: &Scene, options: &str) -> Run {
    let service = s
        .command_on(options)
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_RETRIES", "2")
        .spawn(&s.args("backup-service"));
    // A retry would come after a backoff of many seconds: the failure must be final at once.
    let failed = wait_until(Duration::from_secs(30), || {
        let said = service.stderr_so_far();
        said.contains("backup run failed") || said.contains(RETRIED)
    });
    let said = service.stderr_so_far();
    // The service is db-backup, a child of the shell that unshare became.
    let pids: Vec<u32> = children_of(service.id())
        .into_iter()
        .filter(|(_, name)| name == "db-backup")
        .map(|(pid, _)| pid)
        .collect();
    for pid in &pids {
        // SAFETY: kill(2) on the service process this test started (through unshare and sh).
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGTERM) };
    }
    let run = service.wait(Duration::from_secs(30));
    assert!(failed, "the run never ended:\n{said}");
    assert_eq!(pids.len(), 1, "the service process: {pids:?}\n{run}");
    run.expect_success();
    assert!(
        !run.stderr.contains(RETRIED),
        "a full disk was retried:\n{run}"
    );
    run.expect_stderr_mentions(&["backup run failed", "not retried", "attempts=1"]);
    assert_eq!(
        run.stderr.matches("backup started").count(),
        1,
        "one attempt only:\n{run}"
    );
    s.assert_older_backup_intact(&run);
    run
}
