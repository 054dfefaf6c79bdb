//! MySQL/MariaDB with `DB_NAME=all`: every database but the server's own, each in a series of its own.

use crate::mysql_roundtrip::check_artifacts;
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
