//! `verify` accepts good backups; `list` shows every backup of the series, newest first.

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

#[test]
fn verify_accepts_a_fresh_backup() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");

    cmd.run(&["verify", "latest"]).expect_success();
    cmd.run(&["verify", "all"]).expect_success();
    cmd.run(&["verify", &name]).expect_success();
}

#[test]
fn list_shows_backups_newest_first() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let fresh = files::only_backup(dir.path(), "pg");

    // Planted after the run, so that retention has had no chance to remove them.
    let (oldest, older) = (
        "pg-2001-01-01T00-00-00.sql.gz",
        "pg-2001-01-02T12-30-00.sql.gz",
    );
    files::plant_backup(dir.path(), oldest);
    files::plant_backup(dir.path(), older);
    std::fs::remove_file(dir.path().join(format!("{oldest}.sha256"))).expect("remove checksum");
    std::fs::write(dir.path().join("notes.txt"), "not a backup").expect("write foreign file");

    let run = cmd.run(&["list"]);
    run.expect_success();
    let at = |name: &str| {
        run.stdout
            .find(name)
            .unwrap_or_else(|| panic!("list lacks {name}:\n{run}"))
    };
    assert!(
        at(&fresh) < at(older) && at(older) < at(oldest),
        "not newest first:\n{run}"
    );
    assert!(
        !run.stdout.contains("notes.txt"),
        "list shows a file that is not a backup:\n{run}"
    );

    // Whether a checksum exists shows: the line of `oldest` changes once its checksum is back.
    let line_of = |run: &crate::support::Run| {
        run.stdout
            .lines()
            .find(|l| l.contains(oldest))
            .map(String::from)
    };
    files::plant_backup(dir.path(), oldest);
    let again = cmd.run(&["list"]);
    again.expect_success();
    assert_ne!(
        line_of(&run),
        line_of(&again),
        "checksum presence is not shown:\n{run}\n{again}"
    );
}
