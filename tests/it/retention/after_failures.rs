//! Retention after repeated failures: when every new run fails, the newest good backups survive. With
//! `DB_BACKUP_MAX_N=1` and planted backups whose names carry old timestamps, retention would delete all but
//! one of them after a success; after failures of every kind (server down, a dump cut short, an empty dump,
//! a killed dump tool, one database of several failing) it must delete nothing. A successful run at the end
//! shows that the same scene is pruned when nothing failed.

use std::path::Path;

use chrono::{Duration, Utc};

use crate::support::files::{self, assert_failed_cleanly, backup_dir, plant_backup};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

/// Backups of `series`: three from 2001 and one from an hour ago.
fn plant_series(dir: &Path, series: &str) -> Vec<String> {
    let recent = (Utc::now() - Duration::hours(1)).format("%Y-%m-%dT%H-%M-%S");
    let names: Vec<String> = [
        "2001-01-01T00-00-00".to_string(),
        "2001-01-02T00-00-00".to_string(),
        "2001-01-03T00-00-00".to_string(),
        recent.to_string(),
    ]
    .iter()
    .map(|stamp| format!("{series}-{stamp}.sql.gz"))
    .collect();
    for name in &names {
        plant_backup(dir, name);
    }
    names
}

/// Keep one backup, none older than a day.
fn strict(cmd: DbBackup) -> DbBackup {
    cmd.env("DB_BACKUP_MAX_N", "1")
        .env("BACKUP_RETENTION_DAYS", "1")
}

/// The command engine writing series `pg` with `.sql` files, the planted backups' series.
fn command(dir: &Path, backup_cmd: &str) -> DbBackup {
    strict(
        DbBackup::offline(dir)
            .env("DB_TYPE", "command")
            .env("BACKUP_NAME", "sql")
            .env("BACKUP_CMD", backup_cmd),
    )
}

#[test]
fn failing_runs_of_every_kind_delete_nothing() {
    require_tools!(&["sh"][..]);
    let dir = backup_dir();
    let planted = plant_series(dir.path(), "pg");
    let before = files::snapshot(dir.path());

    let down = strict(DbBackup::offline(dir.path()).env("DB_WAIT_TIMEOUT", "1"));
    let failures = [
        (down, &["127.0.0.1:1"][..]),
        (
            command(dir.path(), "printf 'half a dump'; exit 3"),
            &["status 3", "exit"][..],
        ),
        (command(dir.path(), "true"), &["empty"][..]),
        (
            command(dir.path(), "printf 'x'; kill -9 $$"),
            &["signal"][..],
        ),
    ];
    for round in 0..2 {
        for (cmd, cause) in &failures {
            let run = cmd.run(&["backup-db"]);
            eprintln!("round {round}: {}", run.stderr.lines().last().unwrap_or(""));
            run.expect_code(1).expect_stderr_mentions_any(cause);
            assert_failed_cleanly(&run, dir.path(), &before, &[]);
        }
    }

    // The same scene after a success: retention keeps only the new backup.
    let run = command(dir.path(), "echo complete").run(&["backup-db"]);
    run.expect_success();
    let left = files::backups(dir.path());
    assert_eq!(left.len(), 1, "{left:?}\n{run}");
    assert!(!planted.contains(&left[0]), "{left:?}");
}

#[test]
fn a_run_where_one_database_of_several_fails_prunes_nothing() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql("app", "CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
    let dir = backup_dir();
    let planted = plant_series(dir.path(), "pg-app");
    let cmd = strict(DbBackup::for_server(&pg, "app", dir.path()));

    for _ in 0..2 {
        let run = cmd
            .clone()
            .env("DB_NAME", "app,nosuchdb")
            .run(&["backup-db"]);
        run.expect_code(1).expect_stderr_mentions(&["nosuchdb"]);
        // app's backup was made and is complete; nothing was deleted.
        for name in &planted {
            assert!(
                dir.path().join(name).exists()
                    && dir.path().join(format!("{name}.sha256")).exists(),
                "{name} was deleted after a failed run:\n{run}"
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(1100)); // a name of its own for the next
    }
    let new: Vec<String> = files::backups(dir.path())
        .into_iter()
        .filter(|n| !planted.contains(n))
        .collect();
    assert_eq!(new.len(), 2, "{:?}", files::names(dir.path()));
    for name in &new {
        files::check_artifacts(dir.path(), name);
    }

    // Both databases there: retention runs and keeps one backup of each series.
    let run = cmd.env("DB_NAME", "app,postgres").run(&["backup-db"]);
    run.expect_success();
    let apps: Vec<String> = files::backups(dir.path())
        .into_iter()
        .filter(|n| files::series_of(n) == Some("pg-app"))
        .collect();
    assert_eq!(apps.len(), 1, "{apps:?}\n{run}");
}
