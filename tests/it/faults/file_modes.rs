//! `umask 000`: whatever umask the container runs with, every file db-backup creates is 0600: backups, their
//! `.sha256`, temporary files while they are written, the lock, the service's state file, SQLite's temporary
//! copies, the private password files of the dump tools, and `restore --to-file` output. A watcher polls
//! the directories while each run works, so that files that exist only for a moment are seen too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::sqlite::roundtrip::sqlite_backup;
use crate::support::files::{self, backup_dir, check_artifacts};
use crate::support::service::{path_str, wait_until};
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, fixture, require_tools, tools};

/// Runs db-backup with umask 000; first it creates `$UMASK_CANARY`, whose mode shows the umask took effect.
const UMASK_000: &str = r#"umask 000; : > "$UMASK_CANARY"; exec "$0" "$@""#;

/// The modes of every file seen in some directories while a run works.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<BTreeMap<PathBuf, BTreeSet<u32>>>,
}

impl Watcher {
    fn start(dirs: &[&Path]) -> Watcher {
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| d.to_path_buf()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut seen: BTreeMap<PathBuf, BTreeSet<u32>> = BTreeMap::new();
            loop {
                let last = flag.load(Ordering::SeqCst);
                for dir in &dirs {
                    let Ok(entries) = fs::read_dir(dir) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        // A file may vanish between the listing and the look at it.
                        if let Ok(meta) = fs::symlink_metadata(entry.path())
                            && meta.is_file()
                        {
                            seen.entry(entry.path())
                                .or_default()
                                .insert(meta.permissions().mode() & 0o777);
                        }
                    }
                }
                if last {
                    return seen;
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        });
        Watcher { stop, thread }
    }

    fn finish(self) -> BTreeMap<PathBuf, BTreeSet<u32>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the watcher thread")
    }
}

/// Fails unless every file seen was 0600 at every look; returns the names seen.
fn assert_all_private(seen: &BTreeMap<PathBuf, BTreeSet<u32>>, run: &Run) -> Vec<String> {
    let open: Vec<String> = seen
        .iter()
        .filter(|(_, modes)| modes.iter().any(|m| *m != 0o600))
        .map(|(path, modes)| {
            let modes: Vec<String> = modes.iter().map(|m| format!("{m:o}")).collect();
            format!("{} {}", path.display(), modes.join("/"))
        })
        .collect();
    assert!(
        open.is_empty(),
        "files not 0600 under umask 000: {open:?}\n{run}"
    );
    seen.keys()
        .filter_map(|p| Some(p.file_name()?.to_str()?.to_string()))
        .collect()
}

/// `cmd` started through `sh -c 'umask 000; exec db-backup ...'`, with the canary in `canary_dir`.
fn with_umask_000(cmd: DbBackup, canary_dir: &Path) -> DbBackup {
    cmd.env(
        "UMASK_CANARY",
        path_str(&canary_dir.join(format!("canary-{}", files::names(canary_dir).len()))),
    )
    .program(&tools::path("sh"))
}

fn args<'a>(command: &'a [&'a str]) -> Vec<&'a str> {
    let mut args = vec!["-c", UMASK_000, env!("CARGO_BIN_EXE_db-backup")];
    args.extend_from_slice(command);
    args
}

/// The umask reached the run: the canary it created is 0666.
fn assert_umask_took_effect(canary_dir: &Path) {
    for name in files::names(canary_dir) {
        assert_eq!(
            files::mode(&canary_dir.join(&name)),
            0o666,
            "the shell's umask 000 did not take effect"
        );
    }
}

/// Runs `command` of `cmd` under umask 000 (canary in `canary_dir`) while [`Watcher`] looks into `dirs`; fails
/// unless the run succeeds and every file seen was 0600 at every look. Returns the names of the files seen.
fn run_watched(cmd: DbBackup, canary_dir: &Path, dirs: &[&Path], command: &[&str]) -> Vec<String> {
    let watcher = Watcher::start(dirs);
    let run = with_umask_000(cmd, canary_dir).run(&args(command));
    let seen = watcher.finish();
    run.expect_success();
    assert_all_private(&seen, &run)
}

/// Fails unless every entry left in `dir` is mode 0600.
fn assert_every_file_0600(dir: &Path) {
    for name in files::names(dir) {
        assert_eq!(files::mode(&dir.join(&name)), 0o600, "{name} is not 0600");
    }
}

fn any_named(names: &[String], pred: impl Fn(&str) -> bool) -> bool {
    names.iter().any(|n| pred(n))
}

#[test]
fn postgres_backup_restore_and_service_files_are_0600_under_umask_000() {
    require_tools!(PG_SERVER, &["sh", "gzip", "sha256sum"]);
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    pg.psql(
        "app",
        "CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g",
    );
    let dir = backup_dir();
    let tmp = tempfile::tempdir().expect("TMPDIR");
    let canaries = tempfile::tempdir().expect("canary dir");
    let cmd = DbBackup::for_server(&pg, "app", dir.path()).env("TMPDIR", path_str(tmp.path()));

    // backup-db: the temporary file, the password file of the PostgreSQL tools, the backup, its checksum, the lock.
    let names = run_watched(
        cmd.clone(),
        canaries.path(),
        &[dir.path(), tmp.path()],
        &["backup-db"],
    );
    assert!(
        any_named(&names, |n| n.ends_with(".partial")),
        "the temporary file was never seen: {names:?}"
    );
    assert!(
        any_named(&names, |n| n.starts_with("db-backup-pgpass-")),
        "the PostgreSQL password file was never seen in TMPDIR: {names:?}"
    );
    let backup = files::only_backup(dir.path(), "pg");
    check_artifacts(dir.path(), &backup);
    assert_eq!(files::mode(&dir.path().join(".db-backup.lock")), 0o600);

    // restore --to-file: its temporary file and the result.
    let out = tempfile::tempdir().expect("output dir");
    let target = out.path().join("app.sql");
    let names = run_watched(
        cmd.clone(),
        canaries.path(),
        &[out.path(), dir.path()],
        &["restore", "latest", "--to-file", path_str(&target)],
    );
    assert!(
        any_named(&names, |n| n == "app.sql"),
        "the output was never seen: {names:?}"
    );
    assert_eq!(files::mode(&target), 0o600);

    // backup-service: its state file (and the state's temporary file) as well.
    std::thread::sleep(Duration::from_millis(1100)); // a backup name of its own
    let watcher = Watcher::start(&[dir.path(), tmp.path()]);
    let service = with_umask_000(cmd.env("BACKUP_ON_START", "true"), canaries.path())
        .spawn(&args(&["backup-service"]));
    let done = wait_until(Duration::from_secs(60), || {
        service.stderr_so_far().contains("backup run succeeded")
    });
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(30));
    let seen = watcher.finish();
    assert!(done, "the service's backup never succeeded:\n{run}");
    run.expect_success();
    let names = assert_all_private(&seen, &run);
    assert!(
        any_named(&names, |n| n.starts_with(".db-backup-state-")),
        "the state file was never seen: {names:?}"
    );
    assert_every_file_0600(dir.path());
    assert_umask_took_effect(canaries.path());
}

#[test]
fn sqlite_temporary_copies_are_0600_under_umask_000() {
    require_tools!(&["sh", "gzip", "sha256sum"][..]);
    let data = tempfile::tempdir().expect("data dir");
    let db = data.path().join("app.db");
    let conn = Connection::open(&db).expect("create the database");
    // Some megabytes, so that the temporary copy lives long enough to be looked at.
    conn.execute_batch(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO t (v) SELECT randomblob(4000) FROM n;",
    )
    .expect("fill the database");
    drop(conn);
    let dir = backup_dir();
    let canaries = tempfile::tempdir().expect("canary dir");
    let cmd = sqlite_backup(&db, dir.path());

    let names = run_watched(cmd.clone(), canaries.path(), &[dir.path()], &["backup-db"]);
    assert!(
        any_named(&names, |n| n.starts_with(".db-backup-sqlite-")),
        "the temporary copy was never seen: {names:?}"
    );

    // The restore's temporary copy is made in BACKUP_DIR too.
    let copy = data.path().join("copy.db");
    let names = run_watched(
        cmd,
        canaries.path(),
        &[dir.path()],
        &["restore", "latest", "--database", path_str(&copy)],
    );
    assert!(
        any_named(&names, |n| n.starts_with(".db-backup-sqlite-")),
        "the restore's temporary copy was never seen: {names:?}"
    );
    assert_every_file_0600(dir.path());
    assert_umask_took_effect(canaries.path());
}
