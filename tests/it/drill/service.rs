//! `BACKUP_TEST_RESTORE=true` in `backup-service`: each new backup is drilled after its run; a passing drill
//! shows in the metrics and `list`, a failing one makes `healthcheck` unhealthy, is notified and logged with
//! its reason.

use std::time::Duration;

use crate::support::runner::Running;
use crate::support::service::{Recorder, free_port, healthcheck, http_get, wait_until};
use crate::support::{DbBackup, PG_SERVER, PgServer, files, require_tools};

/// Starts the service with a backup at start and a drill after it; waits until this service's drill is logged
/// and the metric `db_backup_last_drill_passed` says `passed`; returns the metrics and the running service.
fn one_drilled_run(cmd: &DbBackup, passed: bool) -> (String, Running) {
    let port = free_port();
    let service = cmd
        .clone()
        .env("METRICS_PORT", &port.to_string())
        .spawn(&["backup-service"]);
    let mut metrics = String::new();
    let drilled = wait_until(Duration::from_secs(60), || {
        let log = service.stderr_so_far();
        if !log.contains("restore drill passed") && !log.contains("restore drill failed") {
            return false;
        }
        metrics = http_get(port, "/metrics").map(|r| r.1).unwrap_or_default();
        metrics.contains(&format!(
            "\ndb_backup_last_drill_passed {}\n",
            u8::from(passed)
        ))
    });
    assert!(drilled, "no drill recorded:\n{}", service.stderr_so_far());
    (metrics, service)
}

/// Stops the service; its log.
fn stop(service: Running) -> String {
    service.signal(libc::SIGTERM);
    service.wait(Duration::from_secs(20)).stderr
}

#[test]
fn the_service_drills_each_new_backup_and_a_failed_drill_is_unhealthy_and_notified() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    crate::support::fixture::create(&pg, "app");
    pg.psql("postgres", "CREATE ROLE appowner NOLOGIN");
    pg.psql("app", "ALTER TABLE people OWNER TO appowner");
    let dir = files::backup_dir();
    let hook = Recorder::start();
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_SCHEDULE", "0 3 * * *")
        .env("BACKUP_TEST_RESTORE", "true")
        .env("NOTIFY_WEBHOOK_URL", &hook.url("/hook"));

    // Into a scratch database on the source server: passes.
    let (metrics, service) = one_drilled_run(&cmd, true);
    healthcheck(&cmd).expect_success();
    let log = stop(service);
    assert!(
        metrics.contains("\ndb_backup_last_drill_passed 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\ndb_backup_last_drill_success_timestamp_seconds "),
        "{metrics}"
    );
    assert!(log.contains("restore drill passed"), "{log}");
    let list = cmd.run(&["list"]);
    assert!(list.stdout.contains("drill passed"), "{list}");

    // Into a new server that lacks the role owning a table: fails, says why, and the service turns unhealthy.
    let scratch = PgServer::start();
    let towards = cmd
        .clone()
        .env("TEST_RESTORE_HOST", "127.0.0.1")
        .env("TEST_RESTORE_PORT", &scratch.port().to_string())
        .env("TEST_RESTORE_USER", "postgres")
        .env("TEST_RESTORE_PASSWORD", scratch.password());
    let (metrics, service) = one_drilled_run(&towards, false);
    let health = healthcheck(&towards);
    let log = stop(service);
    assert!(
        metrics.contains("\ndb_backup_last_drill_passed 0\n"),
        "{metrics}"
    );
    assert!(
        log.contains("restore drill failed") && log.contains("appowner"),
        "{log}"
    );
    health.expect_code(1);
    assert!(
        health.stdout.contains("restore drill failed") && health.stdout.contains("appowner"),
        "{health}"
    );
    let drill_hooks: Vec<String> = hook
        .to("/hook")
        .into_iter()
        .map(|r| r.body)
        .filter(|b| b.contains("\"event\":\"drill\""))
        .collect();
    assert!(
        drill_hooks.len() == 1 && drill_hooks[0].contains("appowner"),
        "{drill_hooks:?}"
    );
    let list = cmd.run(&["list"]);
    assert!(list.stdout.contains("drill FAILED"), "{list}");
}

#[test]
fn the_services_drill_waits_for_a_lock_that_another_process_holds() {
    require_tools!(PG_SERVER, &["flock", "setsid"]);
    let pg = PgServer::start();
    crate::support::fixture::create(&pg, "app");
    let dir = files::backup_dir();
    let marks = tempfile::tempdir().unwrap();
    let (d, m) = (dir.path().display(), marks.path().display());
    // Under the run's lock, the post-hook moves the lock file aside and has another process lock a new one
    // for 3 s: when the drill comes, the lock in BACKUP_DIR is held by someone else, as by a `prune` by hand.
    let hook = format!(
        "mv '{d}/.db-backup.lock' '{m}/lock-of-the-run' && \
         (setsid flock '{d}/.db-backup.lock' sh -c 'touch {m}/held; sleep 3' </dev/null >/dev/null 2>&1 &) && \
         until [ -e '{m}/held' ]; do sleep 0.05; done"
    );
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_SCHEDULE", "0 3 * * *")
        .env("BACKUP_TEST_RESTORE", "true")
        .env("BACKUP_POST_CMD", &hook);
    let (_, service) = one_drilled_run(&cmd, true);
    let log = stop(service);
    let waited = log.find("the drill waits for it");
    let passed = log.find("restore drill passed");
    assert!(
        waited.is_some() && passed.is_some() && waited < passed,
        "{log}"
    );
    assert!(!log.contains("restore drill failed"), "{log}");
}
