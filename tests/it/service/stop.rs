//! Stopping `backup-service`: a backup that finishes within `BACKUP_STOP_TIMEOUT` is kept; one that does not is
//! abandoned cleanly (dump stopped, temporary file removed), even when the dump is stuck; exit status 0 within
//! the deadline; and as PID 1 of its own PID namespace it still reacts to SIGTERM.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::support::files::{self, backup_dir};
use crate::support::service::{
    alive, assert_only_complete_backups, children_of, partials, path_str, slow_pg_dump, wait_until,
};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools, tools};

/// A server with database `app` whose plain dump has about `rows` + 60 lines.
fn server(rows: u32) -> PgServer {
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        &format!("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, {rows}) g"),
    );
    pg
}

/// The service with one backup at start (and the next one a day away), dumping through `bin`.
fn service_cmd(pg: &PgServer, dir: &Path, bin: &TempDir, stop_timeout: &str) -> DbBackup {
    DbBackup::for_server(pg, "app", dir)
        .env("PG_BIN_DIR", path_str(bin.path()))
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_STOP_TIMEOUT", stop_timeout)
}

#[test]
fn sigterm_abandons_a_long_dump_cleanly_within_the_deadline() {
    require_tools!(PG_SERVER, &["perl"]);
    let pg = server(2000);
    let dir = backup_dir();
    // About 2000 lines at 10 ms each: a dump of 20 s.
    let bin = slow_pg_dump(Duration::from_millis(10));
    let service = service_cmd(&pg, dir.path(), &bin, "1").spawn(&["backup-service"]);
    assert!(
        wait_until(Duration::from_secs(10), || !partials(dir.path()).is_empty()),
        "the backup never started:\n{}",
        service.stderr_so_far()
    );
    std::thread::sleep(Duration::from_millis(500));
    let dump = the_child(service.id(), "perl");

    let stopping = Instant::now();
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(15));
    let took = stopping.elapsed();
    run.expect_success();
    // BACKUP_STOP_TIMEOUT=1, then at most 1.5 s to cancel, and some slack for a loaded machine.
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} to stop:\n{run}"
    );
    assert!(run.stderr.contains("abandoning"), "{run}");
    assert!(
        files::backups(dir.path()).is_empty(),
        "{:?}",
        files::names(dir.path())
    );
    assert_only_complete_backups(dir.path());
    assert!(
        !alive(dump, "perl"),
        "the dump tool outlived the service:\n{run}"
    );
}

#[test]
fn a_backup_that_ends_within_the_grace_period_is_kept() {
    require_tools!(PG_SERVER, &["perl"]);
    let pg = server(100);
    let dir = backup_dir();
    // About 160 lines at 10 ms each: 1.6 s, well inside the default 8 s.
    let bin = slow_pg_dump(Duration::from_millis(10));
    let service = DbBackup::for_server(&pg, "app", dir.path())
        .env("PG_BIN_DIR", path_str(bin.path()))
        .env("BACKUP_ON_START", "1")
        .spawn(&["backup-service"]);
    assert!(
        wait_until(Duration::from_secs(10), || !partials(dir.path()).is_empty()),
        "the backup never started:\n{}",
        service.stderr_so_far()
    );
    service.signal(libc::SIGINT);
    let run = service.wait(Duration::from_secs(15));
    run.expect_success();
    assert!(run.elapsed < Duration::from_secs(10), "{run}");
    assert_eq!(files::backups(dir.path()).len(), 1, "{run}");
    assert_only_complete_backups(dir.path());
}

#[test]
fn a_second_signal_exits_at_once_and_the_next_run_cleans_up() {
    require_tools!(PG_SERVER, &["perl"]);
    let pg = server(2000);
    let dir = backup_dir();
    let bin = slow_pg_dump(Duration::from_millis(10));
    let service = service_cmd(&pg, dir.path(), &bin, "60").spawn(&["backup-service"]);
    assert!(
        wait_until(Duration::from_secs(10), || !partials(dir.path()).is_empty()),
        "the backup never started:\n{}",
        service.stderr_so_far()
    );
    service.signal(libc::SIGTERM);
    assert!(
        wait_until(Duration::from_secs(5), || service
            .stderr_so_far()
            .contains("stop requested")),
        "the first signal was not noticed:\n{}",
        service.stderr_so_far()
    );
    let stopping = Instant::now();
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(10));
    assert!(stopping.elapsed() < Duration::from_secs(3), "{run}");
    run.expect_code(128 + libc::SIGTERM);
    assert!(run.stderr.contains("second stop signal"), "{run}");

    // The next run removes what the interrupted one left.
    DbBackup::for_server(&pg, "app", dir.path())
        .run(&["backup-db"])
        .expect_success();
    assert_eq!(files::backups(dir.path()).len(), 1);
    assert_only_complete_backups(dir.path());
}

#[test]
fn sigterm_kills_a_dump_that_is_stuck_on_a_lock() {
    require_tools!(PG_SERVER);
    let pg = server(10);
    let dir = backup_dir();
    // A session that holds an exclusive lock on the table: pg_dump waits for it and writes nothing, so the
    // cancel flag (checked between chunks) is never looked at.
    let mut locker: Child = pg
        .client("psql")
        .args([
            "-X",
            "-d",
            "app",
            "-c",
            "BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start psql");
    let service = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_STOP_TIMEOUT", "1")
        .spawn(&["backup-service"]);
    let waiting = wait_until(Duration::from_secs(10), || {
        pg.psql(
            "postgres",
            "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pg_dump (%' AND wait_event_type = 'Lock'",
        ) == "1"
    });
    assert!(
        waiting,
        "pg_dump never waited for the lock:\n{}",
        service.stderr_so_far()
    );
    let dump = the_child(service.id(), "pg_dump");

    let stopping = Instant::now();
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(15));
    let took = stopping.elapsed();
    // Asked while the lock is still held: a session of the killed pg_dump would still be waiting for it.
    let left = pg.dump_sessions("pg_dump");
    let _ = locker.kill();
    let _ = locker.wait();
    run.expect_success();
    assert!(
        took < Duration::from_secs(6),
        "took {took:?} to stop:\n{run}"
    );
    assert!(run.stderr.contains("killing its dump process"), "{run}");
    assert_eq!(
        left, 0,
        "the stopped pg_dump's session stayed on the server:\n{run}"
    );
    assert!(
        !alive(dump, "pg_dump"),
        "pg_dump outlived the service:\n{run}"
    );
    assert!(
        files::backups(dir.path()).is_empty(),
        "{:?}",
        files::names(dir.path())
    );
    assert_only_complete_backups(dir.path());
}

#[test]
fn as_pid_1_the_service_still_stops_on_sigterm() {
    require_tools!(&["unshare"][..]);
    let works = Command::new(tools::path("unshare"))
        .args(["--pid", "--fork", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        eprintln!(
            "SKIPPED: cannot create a PID namespace here (unshare --pid needs root or user namespaces)"
        );
        return;
    }
    let dir = backup_dir();
    let service = DbBackup::offline(dir.path())
        .program(&tools::path("unshare"))
        .spawn(&[
            "--pid",
            "--fork",
            "--kill-child",
            env!("CARGO_BIN_EXE_db-backup"),
            "backup-service",
        ]);
    let state = dir.path().join(".db-backup-state-pg.json");
    assert!(
        wait_until(Duration::from_secs(10), || state.exists()),
        "the service did not start:\n{}",
        service.stderr_so_far()
    );
    // The service is the child of `unshare`, and PID 1 inside its namespace.
    let inner = children(service.id());
    assert_eq!(inner.len(), 1, "unshare should have one child: {inner:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", inner[0])).expect("status");
    let ns_pid = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .and_then(|ids| ids.split_whitespace().last())
        .expect("NSpid line");
    assert_eq!(ns_pid, "1", "{status}");

    let stopping = Instant::now();
    // SAFETY: kill(2) on the grandchild this test started through unshare.
    unsafe { libc::kill(inner[0] as libc::pid_t, libc::SIGTERM) };
    let run = service.wait(Duration::from_secs(10));
    run.expect_success();
    assert!(stopping.elapsed() < Duration::from_secs(3), "{run}");
    assert!(run.stderr.contains("backup-service stopped"), "{run}");
}

/// The ids of the processes whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The one child of `parent` named `name`.
fn the_child(parent: u32, name: &str) -> u32 {
    let found: Vec<u32> = children_of(parent)
        .into_iter()
        .filter(|(_, comm)| comm == name)
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {name} child of {parent}: {:?}",
        children_of(parent)
    );
    found[0]
}
