//! `backup-db` by hand (what `docker exec db-backup backup-db` does) while `backup-service` runs: the two
//! share the directory's lock, so there are never two dumps at once, nothing is corrupted, and neither run
//! counts the other as a failure.

use std::time::{Duration, Instant};

use crate::support::files::{self, backup_dir};
use crate::support::service::{
    assert_only_complete_backups, healthcheck, partials, path_str, slow_pg_dump, wait_until,
};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

#[test]
fn backup_db_during_the_service_neither_doubles_work_nor_corrupts() {
    require_tools!(PG_SERVER, &["perl"]);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 100) g",
    );
    let dir = backup_dir();
    // Every dump takes about 1.6 s, so the runs surely meet.
    let bin = slow_pg_dump(Duration::from_millis(10));
    let cmd = DbBackup::for_server(&pg, "app", dir.path()).env("PG_BIN_DIR", path_str(bin.path()));

    // 1. A backup by hand is running when the service starts with BACKUP_ON_START: the service waits.
    let by_hand = cmd.spawn(&["backup-db"]);
    assert!(
        wait_until(Duration::from_secs(10), || !partials(dir.path()).is_empty()),
        "the backup by hand never started"
    );
    let service_cmd = cmd.clone().env("BACKUP_ON_START", "true");
    let service = service_cmd.spawn(&["backup-service"]);
    let first = by_hand.wait(Duration::from_secs(30));
    first.expect_success();
    assert_eq!(files::backups(dir.path()).len(), 1, "{first}");

    // 2. The service's run follows; a second backup by hand during it fails at once, touching nothing.
    assert!(
        wait_until(Duration::from_secs(10), || !partials(dir.path()).is_empty()),
        "the service's backup never started:\n{}",
        service.stderr_so_far()
    );
    let before = files::snapshot(dir.path());
    let started = Instant::now();
    let second = cmd.run(&["backup-db"]);
    second
        .expect_code(1)
        .expect_stderr_mentions(&["another backup is running"]);
    assert!(started.elapsed() < Duration::from_secs(5), "{second}");
    assert_eq!(
        files::snapshot(dir.path()),
        before,
        "the refused run changed the directory"
    );

    // 3. The service's backup completes; the wait was not a failure. The state file is written after the
    // backup's files, so the healthcheck's "succeeded" is what marks the run's end.
    assert!(
        wait_until(Duration::from_secs(15), || {
            let health = healthcheck(&service_cmd);
            health.code == Some(0) && health.stdout.contains("succeeded")
        }),
        "the service's backup never completed:\n{}",
        service.stderr_so_far()
    );
    assert_eq!(files::backups(dir.path()).len(), 2);

    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(15));
    run.expect_success();
    assert!(
        run.stderr.contains("waits for it"),
        "the service said it waited:\n{run}"
    );
    assert_eq!(
        run.stderr.matches("backup run succeeded").count(),
        1,
        "one run, one dump:\n{run}"
    );
    assert!(!run.stderr.contains("backup run failed"), "{run}");
    let backups = files::backups(dir.path());
    assert_eq!(backups.len(), 2, "{backups:?}");
    assert_only_complete_backups(dir.path());
    // Both are whole dumps of the same data.
    let dumps: Vec<Vec<u8>> = backups
        .iter()
        .map(|b| files::decompress(&dir.path().join(b)))
        .collect();
    assert!(
        dumps.iter().all(|d| d.len() == dumps[0].len()),
        "dumps differ in size"
    );
}
