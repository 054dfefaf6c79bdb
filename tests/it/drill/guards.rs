//! What keeps a drill safe beside other runs: it holds the run lock in `BACKUP_DIR` (a drill is refused while
//! another run holds it, and a prune is refused while a drill runs), and it drops the scratch databases a
//! killed drill left before it creates its own.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::support::files::only_backup;
use crate::support::mariadb;
use crate::support::service::{path_str, wait_until};
use crate::support::{PG_SERVER, PgServer, require_tools, tools};

/// The scratch databases (`<db>_drill_...`) on `pg`.
fn scratch_databases(pg: &PgServer) -> Vec<String> {
    pg.databases()
        .into_iter()
        .filter(|d| d.contains("_drill_"))
        .collect()
}

/// A PG_BIN_DIR whose `psql` receives its script a line every 20 ms, so that a drill's restore lasts.
fn slow_psql() -> tempfile::TempDir {
    let bin = tempfile::tempdir().expect("temp bin dir");
    for tool in ["pg_dump", "pg_dumpall", "pg_restore", "pg_isready"] {
        if let Some(path) = tools::find(tool) {
            std::os::unix::fs::symlink(path, bin.path().join(tool)).expect("link tool");
        }
    }
    let real = tools::path("psql");
    let script = format!(
        "#!/bin/sh\n\
         case \"$1\" in --version|-V) exec '{real}' \"$@\";; esac\n\
         perl -e '$| = 1; while (<STDIN>) {{ print; select(undef, undef, undef, 0.02); }}' | '{real}' \"$@\"\n",
        real = real.display(),
    );
    let psql = bin.path().join("psql");
    fs::write(&psql, script).expect("write slow psql");
    fs::set_permissions(&psql, fs::Permissions::from_mode(0o755)).expect("chmod slow psql");
    bin
}

#[test]
fn a_drill_is_refused_while_the_lock_is_held_and_holds_it_itself() {
    require_tools!(PG_SERVER, &["perl"]);
    let (pg, dir, cmd) = super::pg_backed_up("app", "app", &[]);
    let name = only_backup(dir.path(), "pg");

    // Another process holds the lock (a backup or prune by hand): the drill fails at once, as they do.
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join(".db-backup.lock"))
        .unwrap();
    lock.try_lock().expect("the test takes the lock");
    let started = Instant::now();
    let run = cmd.run(&["test-restore", &name]);
    run.expect_code(1)
        .expect_stderr_mentions(&["another backup is running"]);
    assert!(started.elapsed() < Duration::from_secs(10), "{run}");
    assert!(scratch_databases(&pg).is_empty(), "{run}");
    let manifest = fs::read_to_string(dir.path().join(format!("{name}.manifest.json"))).unwrap();
    assert!(
        !manifest.contains("\"drill\""),
        "nothing recorded: {manifest}"
    );
    drop(lock);

    // While a drill runs, a prune (which could delete the backup being drilled) is refused.
    pg.add_big_table("app", 2000);
    cmd.run(&["backup-db"]).expect_success();
    let bin = slow_psql();
    let drilling = cmd
        .clone()
        .env("PG_BIN_DIR", path_str(bin.path()))
        .spawn(&["test-restore", "latest"]);
    assert!(
        wait_until(Duration::from_secs(20), || !scratch_databases(&pg)
            .is_empty()),
        "the drill never created its scratch database:\n{}",
        drilling.stderr_so_far()
    );
    let prune = cmd.run(&["prune"]);
    prune
        .expect_code(1)
        .expect_stderr_mentions(&["another backup is running"]);

    // Killed mid-restore, the drill leaves its scratch database behind...
    std::thread::sleep(Duration::from_millis(500));
    drilling.signal(libc::SIGKILL);
    let killed = drilling.wait(Duration::from_secs(10));
    let left = scratch_databases(&pg);
    assert_eq!(left.len(), 1, "{left:?}\n{killed}");
    // ...and the next drill drops it, logging each, before it makes its own.
    let run = cmd.run(&["test-restore", "latest"]);
    run.expect_success();
    assert!(
        run.stderr
            .contains("dropped the scratch database an interrupted drill left")
            && run.stderr.contains(&left[0]),
        "{run}"
    );
    assert!(
        scratch_databases(&pg).is_empty(),
        "{:?}",
        scratch_databases(&pg)
    );
}

#[test]
fn a_mysql_drill_drops_the_leftovers_of_its_database_only() {
    if !mariadb::available() {
        return;
    }
    let (my, _dir, cmd) = super::mariadb_backed_up("app");
    // A killed drill's scratch database, and two that only look like one.
    for db in [
        "app_drill_0badc0de",
        "app_drill_notes",
        "shop_drill_0badc0de",
    ] {
        my.sql(None, &format!("CREATE DATABASE `{db}`"));
    }
    my.sql(Some("app_drill_0badc0de"), "CREATE TABLE t (a int)");
    let run = cmd.run(&["test-restore"]);
    run.expect_success();
    assert!(
        run.stderr
            .contains("dropped the scratch database an interrupted drill left")
            && run.stderr.contains("app_drill_0badc0de"),
        "{run}"
    );
    let left = my.sql(
        None,
        "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%drill%' ORDER BY 1",
    );
    assert_eq!(
        left.split_whitespace().collect::<Vec<_>>(),
        ["app_drill_notes", "shop_drill_0badc0de"]
    );
}
