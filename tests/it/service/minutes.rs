//! `backup-service` on a two-second schedule for two minutes: every announced run is on the schedule and
//! later than the one before (no drift), runs never overlap, every backup is complete and verifies, and the
//! service's memory does not grow.

use std::time::Duration;

use crate::support::files::{self, backup_dir};
use crate::support::service::assert_only_complete_backups;
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

/// The resident memory of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn two_minutes_on_a_seconds_schedule_without_drift_or_overlap() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g",
    );
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_SCHEDULE", "*/2 * * * * *")
        .env("BACKUP_RETENTION_DAYS", "0")
        .env("DB_BACKUP_MAX_N", "0");
    let service = cmd.spawn(&["backup-service"]);
    let pid = service.id();

    std::thread::sleep(Duration::from_secs(20));
    let rss_early = rss_kib(pid);
    std::thread::sleep(Duration::from_secs(100));
    let rss_late = rss_kib(pid);
    service.signal(libc::SIGTERM);
    // The deadline counts from the start of the process.
    let run = service.wait(Duration::from_secs(150));
    run.expect_success();

    let log = &run.stderr;
    let announced: Vec<i64> = log
        .lines()
        .filter_map(|l| l.split("next backup at ").nth(1))
        .filter_map(|rest| {
            chrono::NaiveDateTime::parse_from_str(rest.get(..19)?, "%Y-%m-%d %H:%M:%S").ok()
        })
        .map(|t| t.and_utc().timestamp())
        .collect();
    assert!(
        announced.len() >= 45,
        "only {} runs announced in 2 minutes:\n{log}",
        announced.len()
    );
    assert!(
        announced.iter().all(|t| t % 2 == 0) && announced.windows(2).all(|w| w[0] < w[1]),
        "announced times drift or repeat: {announced:?}"
    );
    let starts = log.lines().filter(|l| l.contains("backup started")).count();
    let ends = log
        .lines()
        .filter(|l| l.contains("backup run succeeded") || l.contains("backup run failed"))
        .count();
    assert!(!log.contains("backup run failed"), "a run failed:\n{log}");
    assert!(
        starts >= 45 && starts.abs_diff(ends) <= 1,
        "{starts} starts, {ends} ends:\n{log}"
    );
    assert!(
        !log.contains("another backup is running"),
        "runs overlapped:\n{log}"
    );

    assert_only_complete_backups(dir.path());
    let backups = files::backups(dir.path());
    assert!(backups.len() >= 45, "only {} backups", backups.len());
    for backup in &backups {
        files::check_artifacts(dir.path(), backup);
    }
    cmd.run(&["verify", "all"]).expect_success();

    assert!(
        rss_early > 0 && rss_late > 0,
        "no memory reading for pid {pid}"
    );
    assert!(
        rss_late < rss_early + rss_early / 2 + 4096,
        "memory grew from {rss_early} KiB to {rss_late} KiB"
    );
}
