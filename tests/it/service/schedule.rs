//! `backup-service` on a seconds schedule against a throwaway PostgreSQL: backups keep coming without overlap
//! (and a hanging ping endpoint does not slow them), `healthcheck` follows reality, SIGTERM stops it; a transient
//! failure is retried within the run.

use std::time::{Duration, Instant};

use crate::support::files::{self, backup_dir};
use crate::support::service::{
    assert_only_complete_backups, black_hole, flaky_pg_dump, healthcheck, path_str, wait_until,
};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

#[test]
fn seconds_schedule_runs_backups_and_healthcheck_follows_the_server() {
    require_tools!(PG_SERVER);
    let mut pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g",
    );
    let dir = backup_dir();
    // Pings go to an endpoint that accepts connections and never answers: backups must not wait for it.
    let (_hole, hole_port) = black_hole();
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_SCHEDULE", "*/2 * * * * *")
        .env("BACKUP_RETRIES", "0")
        .env("DB_WAIT_TIMEOUT", "1")
        .env(
            "HEALTHCHECK_PING_URL",
            &format!("http://127.0.0.1:{hole_port}/ping"),
        );
    let service = cmd.spawn(&["backup-service"]);

    let enough = wait_until(Duration::from_secs(15), || {
        files::backups(dir.path()).len() >= 3
    });
    assert!(
        enough,
        "fewer than 3 backups after 15 s: {:?}\n{}",
        files::names(dir.path()),
        service.stderr_so_far()
    );
    // No drift: every time the log announces is on the schedule (an even second), each later than the last.
    let log = service.stderr_so_far();
    let announced: Vec<chrono::NaiveDateTime> = log
        .lines()
        .filter_map(|l| l.split("next backup at ").nth(1))
        .map(|rest| {
            chrono::NaiveDateTime::parse_from_str(&rest[..19], "%Y-%m-%d %H:%M:%S").expect("a time")
        })
        .collect();
    assert!(announced.len() >= 3, "{log}");
    assert!(
        announced.iter().all(|t| t.and_utc().timestamp() % 2 == 0)
            && announced.windows(2).all(|w| w[0] < w[1]),
        "announced times drift or repeat: {announced:?}\n{log}"
    );
    for backup in files::backups(dir.path()) {
        files::check_artifacts(dir.path(), &backup);
    }
    let run = healthcheck(&cmd);
    run.expect_success();
    assert!(run.stdout.starts_with("healthy: "), "{run}");
    // No overlap: each run's dump starts after the previous run ended.
    let events: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            if l.contains("backup started") {
                Some("start")
            } else if l.contains("backup run succeeded") || l.contains("backup run failed") {
                Some("end")
            } else {
                None
            }
        })
        .collect();
    // The check below holds for no events at all: the lines it looks for must be there.
    assert!(
        events.iter().filter(|e| **e == "start").count() >= 3
            && events.iter().filter(|e| **e == "end").count() >= 2,
        "the log does not show the runs: {events:?}\n{log}"
    );
    assert!(
        events
            .chunks(2)
            .all(|pair| pair[0] == "start" && pair.get(1).is_none_or(|e| *e == "end")),
        "runs overlapped: {events:?}\n{log}"
    );
    assert!(!log.contains("another backup is running"), "{log}");

    pg.stop();
    let mut last = None;
    let failed = wait_until(Duration::from_secs(10), || {
        let run = healthcheck(&cmd);
        let unhealthy = run.code == Some(1);
        last = Some(run);
        unhealthy
    });
    let last = last.expect("at least one healthcheck");
    assert!(
        failed,
        "healthcheck stayed healthy with the server down:\n{last}"
    );
    assert!(
        last.stdout.starts_with("unhealthy: the last backup failed"),
        "{last}"
    );
    assert!(
        last.stdout.contains(&pg.port().to_string()),
        "the reason names the server:\n{last}"
    );
    assert!(!last.stdout.contains(pg.password()), "{last}");

    let stopping = Instant::now();
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(10));
    run.expect_success();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "SIGTERM between runs must stop the service promptly:\n{run}"
    );
    assert!(run.stderr.contains("backup-service stopped"), "{run}");
    assert!(!run.all_output().contains(pg.password()), "{run}");
    assert_only_complete_backups(dir.path());
    // After the stop, healthcheck says the service is gone.
    let after = healthcheck(&cmd);
    after.expect_code(1);
    assert!(after.stdout.contains("stopped"), "{after}");
}

/// A run whose first attempt fails as a dropped connection does is retried within the run, and the retry's
/// backup is the run's success (attempts=2), before the next scheduled run.
#[test]
fn a_transient_failure_is_retried_and_the_retry_succeeds() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql("app", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let dir = backup_dir();
    let bin = flaky_pg_dump(1);
    // A 20 s period: the retry comes after 5-10 s (half the period at most), the next scheduled run later.
    let service = DbBackup::for_server(&pg, "app", dir.path())
        .env("PG_BIN_DIR", path_str(bin.path()))
        .env("BACKUP_SCHEDULE", "*/20 * * * * *")
        .env("BACKUP_ON_START", "1")
        .env("BACKUP_RETRIES", "2");
    let service = service.spawn(&["backup-service"]);
    let done = wait_until(Duration::from_secs(30), || {
        service.stderr_so_far().contains("backup run succeeded")
    });
    let log = service.stderr_so_far();
    assert!(done, "no run succeeded:\n{log}");
    let retried = log
        .lines()
        .find(|l| l.contains("backup attempt failed; retrying"))
        .unwrap_or_else(|| panic!("no retry was logged:\n{log}"));
    assert!(
        retried.contains("server closed the connection unexpectedly")
            && retried.contains("attempt=1"),
        "{retried}"
    );
    let succeeded = log
        .lines()
        .find(|l| l.contains("backup run succeeded"))
        .expect("found above");
    assert!(succeeded.contains("attempts=2"), "{succeeded}");
    assert!(
        !log.contains("backup run failed"),
        "the first attempt's failure ended the run:\n{log}"
    );
    // Two dumps: the failed one and the retry (a scheduled run may have begun since; it is not looked at).
    let calls = std::fs::read_to_string(bin.path().join("calls")).expect("pg_dump was called");
    assert!(calls.lines().count() >= 2, "{log}");
    let backups = files::backups(dir.path());
    assert!(!backups.is_empty(), "{:?}\n{log}", files::names(dir.path()));
    files::check_artifacts(dir.path(), &backups[0]);
    service.signal(libc::SIGTERM);
    service.wait(Duration::from_secs(15)).expect_success();
}
