//! A MySQL/MariaDB backup is never called complete while it lacks objects the server has: a user who may not
//! see everything fails before the dump, naming the grant; a dump that lacks an object the server listed fails
//! the backup; options that leave objects out on purpose are respected. The grants the README's "Privileges"
//! section gives are the ones these tests use.

use crate::support::files::{self, assert_failed_cleanly, backup_dir};
use crate::support::mariadb::{self, MariaDb, fake_dump_tool};
use crate::support::my_fixture;
use crate::support::pg::random_hex;

/// The README's grants for one database on MariaDB. (EXECUTE because the fixture's view calls a stored
/// function: the dump tool reads the view's columns, which runs that check.)
const ONE_DATABASE: &[&str] = &[
    "SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE ON `my-app`.*",
    "SELECT ON mysql.proc",
];
/// The README's grants for `DB_NAME=all`.
const EVERY_DATABASE: &[&str] =
    &["SELECT, SHOW VIEW, TRIGGER, EVENT, EXECUTE, SHOW DATABASES ON *.*"];

/// A server with the fixture (tables, a view, a procedure, a function, a trigger, an event) in `my-app`, a
/// BACKUP_DIR holding an older backup, and its recorded state.
fn setup() -> (MariaDb, String, tempfile::TempDir, files::DirState) {
    let my = MariaDb::start();
    let source = my_fixture::create(&my, "my-app");
    let dir = backup_dir();
    files::plant_backup(dir.path(), "my-2001-01-01T00-00-00.sql.gz");
    let before = files::snapshot(dir.path());
    (my, source, dir, before)
}

/// The case: SELECT, SHOW VIEW, TRIGGER, LOCK TABLES and EVENT hide the routines, and `mariadb-dump`
/// leaves them out with exit status 0. The backup fails, naming the grant; nothing is written.
#[test]
fn the_usual_backup_grants_hide_routines_and_the_backup_fails() {
    if !mariadb::available() {
        return;
    }
    let (my, source, dir, before) = setup();
    let pw = format!("pw-{}", random_hex(6));
    my.create_user(
        "usual",
        &pw,
        &["SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT ON `my-app`.*"],
    );
    let run = my
        .db_backup_as("usual", &pw, "my-app", dir.path())
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &[
            "my-app",
            "stored procedures and functions",
            "GRANT SELECT ON mysql.proc TO 'usual'@'%'",
        ],
    );

    // The README's grants: the backup succeeds and restores to the same database, routines included.
    my.create_user("minimal", &pw, ONE_DATABASE);
    my.db_backup_as("minimal", &pw, "my-app", dir.path())
        .run(&["backup-db"])
        .expect_success();
    let newest = newest_backup(dir.path());
    let text = String::from_utf8(files::decompress(&dir.path().join(&newest))).expect("UTF-8");
    for marker in my_fixture::DUMP_MARKERS {
        assert!(text.contains(marker), "the backup lacks {marker:?}");
    }
    my.db_backup("my-app", dir.path())
        .run(&["restore", &newest, "--database", "copy"])
        .expect_success();
    my_fixture::assert_same_dump(&my.dump("copy"), &source);
    assert_eq!(my_fixture::facts(&my, "copy"), my_fixture::FACTS);
}

/// Without TRIGGER the server hides the triggers: the backup fails naming it, unless MYSQLDUMP_ARGS leaves
/// them out on purpose (`--skip-triggers`). SELECT granted table by table hides the other tables: named too. (This user may list the routines through EXECUTE but not read
/// them, which the dump tool reports as an error by itself, so `--skip-routines` too.)
#[test]
fn a_missing_grant_is_named_unless_its_objects_are_left_out() {
    if !mariadb::available() {
        return;
    }
    let (my, _source, dir, before) = setup();
    let pw = format!("pw-{}", random_hex(6));
    my.create_user(
        "notrigger",
        &pw,
        &["SELECT, SHOW VIEW, EVENT, EXECUTE ON `my-app`.*"],
    );
    let cmd = my.db_backup_as("notrigger", &pw, "my-app", dir.path());
    let run = cmd.run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["its triggers (GRANT TRIGGER ON `my-app`.* TO 'notrigger'@'%'"],
    );
    // SELECT granted table by table hides every other table (and the view): `mariadb-dump` would dump `people`
    // alone and exit 0. Named too.
    my.create_user(
        "sometables",
        &pw,
        &["SELECT ON `my-app`.`people`", "EVENT ON `my-app`.*"],
    );
    let run = my
        .db_backup_as("sometables", &pw, "my-app", dir.path())
        .env("MYSQLDUMP_ARGS", "--skip-triggers --skip-routines")
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["its tables and views (GRANT SELECT ON `my-app`.* TO 'sometables'@'%')"],
    );

    cmd.clone()
        .env("MYSQLDUMP_ARGS", "--skip-triggers --skip-routines")
        .run(&["backup-db"])
        .expect_success();
    let newest = newest_backup(dir.path());
    let text = String::from_utf8(files::decompress(&dir.path().join(&newest))).expect("UTF-8");
    assert!(!text.contains("TRIGGER people_audit") && !text.contains("PROCEDURE `count_people`"));
    assert!(text.contains("CREATE TABLE `people`") && text.contains("EVENT `nightly_cleanup`"));
}

/// A dump tool that exits 0 with its trailer but without one object (here the procedure, as `mariadb-dump`
/// does for a user who may not see it) fails the backup, naming the object. An option that leaves objects
/// out (`--ignore-table`, `--skip-routines`) is respected.
#[test]
fn a_dump_that_silently_lacks_an_object_fails() {
    if !mariadb::available() {
        return;
    }
    let (my, _source, dir, before) = setup();
    let bin =
        fake_dump_tool("\"$REAL\" \"$@\" | sed '/^CREATE DEFINER.* PROCEDURE `count_people`/d'\n");
    let cmd = my
        .db_backup("my-app", dir.path())
        .env("MYSQL_BIN_DIR", bin.path().to_str().expect("UTF-8 path"));
    let run = cmd.run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["incomplete", "procedure count_people", "without an error"],
    );

    cmd.clone()
        .env("MYSQLDUMP_ARGS", "--skip-routines")
        .run(&["backup-db"])
        .expect_success();
    let real = my
        .db_backup("my-app", dir.path())
        .env("MYSQLDUMP_ARGS", "--ignore-table=my-app.blobs");
    real.run(&["backup-db"]).expect_success();
    let newest = newest_backup(dir.path());
    let text = String::from_utf8(files::decompress(&dir.path().join(&newest))).expect("UTF-8");
    assert!(!text.contains("CREATE TABLE `blobs`") && text.contains("CREATE TABLE `people`"));
}

/// `DB_NAME=all` with a user who sees only some databases fails naming SHOW DATABASES (rather than backing
/// up the ones it sees); with the README's grants every database and the users are backed up.
#[test]
fn all_databases_need_a_user_who_sees_every_database() {
    if !mariadb::available() {
        return;
    }
    let (my, _source, dir, before) = setup();
    my.drop_host_name_accounts();
    my.create_db("other");
    my.sql(Some("other"), "CREATE TABLE t (id INT PRIMARY KEY);");
    let pw = format!("pw-{}", random_hex(6));
    my.create_user("partial", &pw, ONE_DATABASE);
    let run = my
        .db_backup_as("partial", &pw, "all", dir.path())
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &[
            "may not see every database",
            "GRANT SHOW DATABASES ON *.* TO 'partial'@'%'",
        ],
    );

    my.create_user("everything", &pw, EVERY_DATABASE);
    my.db_backup_as("everything", &pw, "all", dir.path())
        .run(&["backup-db"])
        .expect_success();
    let mut series = files::backup_series(dir.path());
    series.retain(|s| s != "my");
    assert_eq!(series, ["my-globals", "my-my-app", "my-other"]);
}

/// The newest backup in `dir` (by name: the time is in it).
fn newest_backup(dir: &std::path::Path) -> String {
    files::backups(dir)
        .into_iter()
        .max_by_key(|n| files::parse_backup_name(n).map(|(_, t)| t.to_string()))
        .expect("a backup")
}
