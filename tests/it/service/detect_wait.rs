//! `backup-service` without `DB_TYPE` started before its database (the usual compose race): it keeps running,
//! says what it waits for, and detects the engine once the server answers; `healthcheck` meanwhile reads the
//! service's state and never waits on the database. The database is found through a socket directory
//! (`DB_HOST=/dir`), where the probe looks for PostgreSQL's standard socket `.s.PGSQL.5432`: the test links it
//! to its own server's socket when the "database comes up".

use std::path::Path;
use std::time::Duration;

use crate::support::files::{self, backup_dir};
use crate::support::service::{assert_only_complete_backups, healthcheck, path_str, wait_until};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// The service, its engine left to detection, its database expected in the socket directory `host`.
fn service_cmd(host: &Path, dir: &Path, password: &str) -> DbBackup {
    DbBackup::bare()
        .env("DB_HOST", path_str(host))
        .env("DB_USER", "postgres")
        .env("DB_PASSWORD", password)
        .env("DB_NAME", "app")
        .env("DB_CONTAINER", "pg")
        .env("BACKUP_DIR", path_str(dir))
        .env("BACKUP_ON_START", "true")
        .env("DB_WAIT_TIMEOUT", "10")
        .env("TZ", "UTC")
}

#[test]
fn a_service_started_before_its_database_waits_then_detects_and_backs_up() {
    require_tools!(PG_SERVER);
    let host = tempfile::tempdir().expect("temp dir");
    let dir = backup_dir();
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let cmd = service_cmd(host.path(), dir.path(), pg.password());

    let service = cmd.spawn(&["backup-service"]);
    let waiting = format!(
        "waiting for the database server at {}",
        path_str(host.path())
    );
    assert!(
        wait_until(Duration::from_secs(30), || service
            .stderr_so_far()
            .contains(&waiting)),
        "the service does not say what it waits for:\n{}",
        service.stderr_so_far()
    );
    // Still running (a detection error would have ended it with exit status 2): the health check answers from
    // the state, saying the service has not started its schedule yet.
    let health = healthcheck(&cmd);
    health.expect_code(1);
    assert!(
        health.stdout.contains("waiting for its database"),
        "{health}"
    );
    assert!(
        files::backups(dir.path()).is_empty(),
        "{:?}",
        files::names(dir.path())
    );

    // The database comes up.
    std::os::unix::fs::symlink(
        pg.socket_dir().join(format!(".s.PGSQL.{}", pg.port())),
        host.path().join(".s.PGSQL.5432"),
    )
    .expect("link the socket");
    assert!(
        wait_until(Duration::from_secs(60), || !files::backups(dir.path())
            .is_empty()),
        "no backup after the database came up:\n{}",
        service.stderr_so_far()
    );
    assert!(
        wait_until(Duration::from_secs(30), || healthcheck(&cmd).code
            == Some(0)),
        "not healthy after its backup: {}",
        healthcheck(&cmd)
    );
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(30));
    run.expect_success();
    assert!(run.stderr.contains("engine detected"), "{run}");
    files::only_backup(dir.path(), "pg");
    cmd.run(&["verify", "latest"]).expect_success();
    assert_only_complete_backups(dir.path());
}

#[test]
fn a_stop_while_waiting_for_the_database_exits_cleanly() {
    let host = tempfile::tempdir().expect("temp dir");
    let dir = backup_dir();
    let service = service_cmd(host.path(), dir.path(), "unused").spawn(&["backup-service"]);
    assert!(
        wait_until(Duration::from_secs(30), || service
            .stderr_so_far()
            .contains("waiting for the database server")),
        "{}",
        service.stderr_so_far()
    );
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(30));
    run.expect_success();
    assert!(
        files::backups(dir.path()).is_empty(),
        "{:?}",
        files::names(dir.path())
    );
}
