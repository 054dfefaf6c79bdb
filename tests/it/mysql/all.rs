//! MySQL/MariaDB with `DB_NAME=all`: every database but the server's own, each in a series of its own; and
//! `restore latest` of a comma list.

use crate::mysql::roundtrip::check_artifacts;
use crate::support::files::{self, backup_dir};
use crate::support::mariadb::{self, MariaDb};
use crate::support::my_fixture;

#[test]
fn all_databases_each_in_their_own_series() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my.drop_host_name_accounts();
    let dir = backup_dir();
    let cmd = my.db_backup("all", dir.path());
    // A server with only its own databases: nothing to back up is a failure, not an empty success.
    cmd.run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["no databases"]);
    assert!(files::backups(dir.path()).is_empty());

    let alpha = my_fixture::create(&my, "alpha");
    my.create_db("beta");
    my.sql(
        Some("beta"),
        "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT CHARACTER SET utf8mb4);
         INSERT INTO notes VALUES (1, 'beta ✓');",
    );
    let beta = my.dump("beta");

    cmd.run(&["backup-db"]).expect_success();
    // No mysql, sys, information_schema or performance_schema; the users and grants in a series of their own.
    assert_eq!(
        files::backup_series(dir.path()),
        ["my-alpha", "my-beta", "my-globals"],
        "in {:?}",
        files::names(dir.path())
    );
    let alpha_file = files::only_backup(dir.path(), "my-alpha");
    let beta_file = files::only_backup(dir.path(), "my-beta");
    for name in [&alpha_file, &beta_file] {
        check_artifacts(dir.path(), name);
    }

    cmd.run(&["restore", &alpha_file, "--database", "alpha_copy"])
        .expect_success();
    cmd.run(&["restore", &beta_file, "--database", "beta_copy"])
        .expect_success();
    my_fixture::assert_same_dump(&my.dump("alpha_copy"), &alpha);
    my_fixture::assert_same_dump(&my.dump("beta_copy"), &beta);
    assert_eq!(my_fixture::facts(&my, "alpha_copy"), my_fixture::FACTS);
}

/// `restore latest` with a comma list restores the newest backup of each listed database into that database
/// (created again after a drop) and leaves other databases alone.
#[test]
fn restore_latest_of_a_comma_list_restores_each_database() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    for db in ["one", "two", "three"] {
        my.create_db(db);
        my.sql(
            Some(db),
            &format!("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('{db} old');"),
        );
    }
    let dir = backup_dir();
    let cmd = my.db_backup("one,two", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    // Backup names carry whole seconds: the second backup must not share the first's name.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for db in ["one", "two"] {
        my.sql(Some(db), &format!("UPDATE t SET v = '{db} new';"));
    }
    cmd.run(&["backup-db"]).expect_success();
    assert_eq!(
        files::backup_series(dir.path()),
        ["my-one", "my-one", "my-two", "my-two"],
        "two backups of each: {:?}",
        files::names(dir.path())
    );

    my.sql(None, "DROP DATABASE one; DROP DATABASE two;");
    my.sql(Some("three"), "UPDATE t SET v = 'three changed';");
    cmd.run(&["restore", "latest"]).expect_success();
    for (db, value) in [
        ("one", "one new"),
        ("two", "two new"),
        ("three", "three changed"),
    ] {
        assert_eq!(my.sql(Some(db), "SELECT v FROM t"), value, "database {db}");
    }
}

/// `DB_EXCLUDE` leaves databases out of `DB_NAME=all` (a name the server lacks is a warning); leaving out
/// every database fails with nothing written.
#[test]
fn all_but_the_excluded_databases() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my.drop_host_name_accounts();
    for db in ["alpha", "beta", "scratch"] {
        my.create_db(db);
        my.sql(
            Some(db),
            "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x');",
        );
    }
    let dir = backup_dir();
    let cmd = my
        .db_backup("all", dir.path())
        .env("DB_EXCLUDE", "scratch,nosuchdb");
    cmd.run(&["backup-db"])
        .expect_success()
        .expect_stderr_mentions(&["DB_EXCLUDE", "nosuchdb"]);
    assert_eq!(
        files::backup_series(dir.path()),
        ["my-alpha", "my-beta", "my-globals"],
        "in {:?}",
        files::names(dir.path())
    );

    let before = files::names(dir.path());
    cmd.env("DB_EXCLUDE", "alpha,beta,scratch")
        .run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&["DB_EXCLUDE", "every database"]);
    assert_eq!(files::names(dir.path()), before, "a failed run left files");
}
