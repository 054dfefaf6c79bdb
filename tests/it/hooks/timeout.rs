//! `HOOK_TIMEOUT` and stop signals end a hook with every process it started, even one that ignores SIGTERM.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::command_backup;
use crate::support::files::{self, assert_failed_cleanly, backup_dir};
use crate::support::service::wait_until;

/// A hook that starts a background `sleep` (its pid written to `<out>/child`), then sleeps itself; both ignore
/// SIGTERM, so only SIGKILL ends them.
fn stubborn_hook(out: &Path) -> String {
    format!(
        "trap '' TERM; sleep 120 & echo $! > '{}/child'; echo 'hook started'; sleep 120",
        out.display()
    )
}

/// Whether process `pid` is gone (or a zombie waiting for a parent that does not reap it).
fn gone(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

fn child_pid(out: &Path) -> i32 {
    fs::read_to_string(out.join("child"))
        .expect("the hook should write its child's pid")
        .trim()
        .parse()
        .expect("a pid")
}

#[test]
fn a_hook_that_outlasts_hook_timeout_is_ended_with_its_children() {
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let before = files::snapshot(dir.path());
    let started = Instant::now();
    let run = command_backup(dir.path())
        .env("HOOK_TIMEOUT", "1")
        .env("BACKUP_PRE_CMD", &stubborn_hook(out.path()))
        .run(&["backup-db"]);
    let took = started.elapsed();
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["BACKUP_PRE_CMD", "HOOK_TIMEOUT"],
    );
    // One second, then two of grace after SIGTERM, then SIGKILL.
    assert!(took < Duration::from_secs(10), "took {took:?}: {run}");
    let child = child_pid(out.path());
    assert!(
        wait_until(Duration::from_secs(5), || gone(child)),
        "the hook's background process {child} is still running"
    );
}

#[test]
fn a_stop_signal_ends_a_running_hook() {
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let running = command_backup(dir.path())
        .env("BACKUP_PRE_CMD", &stubborn_hook(out.path()))
        .spawn(&["backup-db"]);
    assert!(
        wait_until(Duration::from_secs(30), || running
            .stderr_so_far()
            .contains("hook started")),
        "the hook never started: {}",
        running.stderr_so_far()
    );
    let stopped_at = Instant::now();
    running.signal(libc::SIGTERM);
    let run = running.wait(Duration::from_secs(30));
    assert!(
        stopped_at.elapsed() < Duration::from_secs(5),
        "the stop took {:?}: {run}",
        stopped_at.elapsed()
    );
    assert_ne!(run.code, Some(0), "{run}");
    assert!(files::backups(dir.path()).is_empty(), "{run}");
    let child = child_pid(out.path());
    assert!(
        wait_until(Duration::from_secs(5), || gone(child)),
        "the hook's background process {child} is still running"
    );
}
