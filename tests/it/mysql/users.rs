//! MySQL/MariaDB users and grants with `DB_NAME=all`: backed up as the series `<DB_CONTAINER>-globals`, restored
//! first by `restore latest` onto a brand-new server, where every account then has the same grants, and the
//! account the restore is connected as is left exactly as it was.

use crate::support::files::{self, backup_dir};
use crate::support::mariadb::{self, MariaDb};
use crate::support::pg::random_hex;

/// Users with database, table, column and routine grants, a role granted as a default role, and a user
/// whose password must survive the trip.
const ACCOUNTS: &str = "
CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, secret TEXT);
INSERT INTO notes VALUES (1, 'hello', 'x');
CREATE PROCEDURE tidy() DELETE FROM notes WHERE id < 0;
CREATE USER 'app_rw'@'%' IDENTIFIED BY 'rw-pass';
GRANT SELECT, INSERT, UPDATE, DELETE ON app.* TO 'app_rw'@'%';
CREATE USER 'reader'@'10.0.0.%' IDENTIFIED BY 'reader-pass';
GRANT SELECT (id, body) ON app.notes TO 'reader'@'10.0.0.%';
GRANT EXECUTE ON PROCEDURE app.tidy TO 'reader'@'10.0.0.%';
CREATE ROLE analyst;
GRANT SELECT ON app.* TO analyst;
CREATE USER 'carol'@'%' IDENTIFIED BY 'carol-pass';
GRANT analyst TO 'carol'@'%';
SET DEFAULT ROLE analyst FOR 'carol'@'%';
";

/// Makes `my` hold the [`ACCOUNTS`] in a database `app`, with the host-name accounts of a fresh install gone.
fn add_accounts(my: &MariaDb) {
    my.drop_host_name_accounts();
    my.create_db("app");
    my.sql(Some("app"), ACCOUNTS);
}

/// Backs up `my` with `DB_NAME=all` into `dir` and returns the users backup's file name.
fn users_backup(my: &MariaDb, dir: &std::path::Path) -> String {
    my.db_backup("all", dir)
        .run(&["backup-db"])
        .expect_success();
    files::only_backup(dir, "my-globals")
}

#[test]
fn users_and_grants_come_back_on_a_new_server() {
    if !mariadb::available() {
        return;
    }
    // Both servers' root accounts share a password, so that the harness (root@localhost, over the socket) can
    // still log in to the target once the source's root@localhost is restored there. db-backup connects over
    // TCP as root@127.0.0.1, which has another password on the source: restoring that account would lock the
    // restore out.
    let target = MariaDb::start();
    target.drop_host_name_accounts();
    let mut source = MariaDb::start();
    source.use_root_password(target.password());
    add_accounts(&source);
    let source_only = format!("src-{}", random_hex(6));
    source.sql(
        None,
        &format!("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{source_only}'"),
    );
    let dir = backup_dir();
    source
        .db_backup("all", dir.path())
        .env("DB_PASSWORD", &source_only)
        .run(&["backup-db"])
        .expect_success();
    assert_eq!(files::backup_series(dir.path()), ["my-app", "my-globals"]);
    let users = files::only_backup(dir.path(), "my-globals");
    let text = String::from_utf8(files::decompress(&dir.path().join(&users))).expect("UTF-8");
    assert!(
        text.contains("CREATE USER IF NOT EXISTS `carol`@`%`"),
        "{text}"
    );

    let connected = "root@127.0.0.1";
    let before = target.all_grants(&[]).remove(connected);
    let restore = target.db_backup("all", dir.path());
    restore
        .run(&["restore", "latest"])
        .expect_success()
        .expect_stderr_mentions(&[&format!("account={connected}")]);

    // Every account but the connected one has the same grants (and password hashes) as on the source; the
    // connected one is untouched and can still log in with its own password.
    assert_eq!(
        target.all_grants(&[connected]),
        source.all_grants(&[connected])
    );
    assert_eq!(
        target.all_grants(&[]).remove(connected),
        before,
        "the connected account was changed"
    );
    let other_dir = backup_dir();
    target
        .db_backup("app", other_dir.path())
        .run(&["backup-db"])
        .expect_success();
    assert!(target.can_log_in("app_rw", "rw-pass"));
    assert!(target.can_log_in("carol", "carol-pass"));
    assert!(!target.can_log_in("carol", "wrong"));
    assert_eq!(
        target.sql(Some("app"), "SELECT body FROM notes"),
        "hello",
        "the database came back too"
    );
}

/// A restore of the users stops at the first statement the server refuses, exit status 1, naming it:
/// here the restoring user may not create users.
#[test]
fn a_users_restore_the_server_refuses_fails_loudly() {
    if !mariadb::available() {
        return;
    }
    let source = MariaDb::start();
    add_accounts(&source);
    let dir = backup_dir();
    let users = users_backup(&source, dir.path());

    let target = MariaDb::start();
    let pw = format!("pw-{}", random_hex(6));
    target.create_user("limited", &pw, &["ALL ON app.*"]);
    let run = target
        .db_backup_as("limited", &pw, "all", dir.path())
        .run(&["restore", &users]);
    run.expect_code(1)
        .expect_stderr_mentions(&["mariadb", "denied"]);
    assert!(
        !target.can_log_in("app_rw", "rw-pass"),
        "no account may appear"
    );
}

/// A users dump that exits 0 with its trailer but lacks an account the server has fails the backup.
#[test]
fn a_users_dump_that_lacks_an_account_fails() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    add_accounts(&my);
    let dir = backup_dir();
    let bin =
        mariadb::fake_dump_tool("\"$REAL\" \"$@\" | sed '/^CREATE USER IF NOT EXISTS `carol`/d'\n");
    let run = my
        .db_backup("all", dir.path())
        .env("MYSQL_BIN_DIR", bin.path().to_str().expect("UTF-8 path"))
        .run(&["backup-db"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["accounts", "missing: carol@%", "left them out"]);
    // The databases' backups are complete and stay; no users backup appears.
    let after = files::backup_series(dir.path());
    assert_eq!(after, ["my-app"]);
}

/// A users backup is never fed to a database restore (where no statement about the connected account would be
/// left out): named with `--database`, it is refused before anything runs; restored with `DB_NAME=<one
/// database>`, it is still restored as users.
#[test]
fn a_users_backup_is_never_restored_into_a_database() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    add_accounts(&my);
    let dir = backup_dir();
    let users = users_backup(&my, dir.path());

    let target = MariaDb::start();
    let run = target
        .db_backup("app", dir.path())
        .run(&["restore", &users, "--database", "app"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["no single database", "nothing was restored"]);
    assert!(!target.can_log_in("app_rw", "rw-pass"));
    assert!(
        !target.db_exists("app"),
        "the refused restore created a database"
    );

    target.sql(None, "CREATE DATABASE app; CREATE TABLE app.notes (id INT PRIMARY KEY, body TEXT, secret TEXT); CREATE PROCEDURE app.tidy() DELETE FROM app.notes WHERE id < 0;");
    target
        .db_backup("app", dir.path())
        .run(&["restore", &users])
        .expect_success()
        .expect_stderr_mentions(&["users and grants", "account=root@127.0.0.1"]);
    assert!(target.can_log_in("app_rw", "rw-pass"));
}

/// A database whose series would be the users' (a database named `globals`) stops `DB_NAME=all` before any dump:
/// its backups and the users' would share one series. Named in DB_NAME, it is backed up (with `mysql`, whose log
/// tables the dump writes as `CREATE TABLE IF NOT EXISTS`, and `information_schema`, whose tables it writes as
/// temporary ones: the completeness check counts both).
#[test]
fn a_database_named_like_the_users_series_stops_the_run() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my.drop_host_name_accounts();
    my.create_db("globals");
    let dir = backup_dir();
    let run = my.db_backup("all", dir.path()).run(&["backup-db"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "database globals",
        "my-globals",
        "rename the database",
    ]);
    assert!(files::backups(dir.path()).is_empty());
    my.db_backup("globals,mysql,information_schema", dir.path())
        .run(&["backup-db"])
        .expect_success();
    assert_eq!(
        files::backup_series(dir.path()),
        ["my-globals", "my-information_schema", "my-mysql"]
    );
}

/// MariaDB 10.11's `mariadb-dump --system=users` does not write the grants to PUBLIC: the users backup of a
/// server that has some fails, naming PUBLIC and why, rather than being called complete without them.
#[test]
fn grants_to_public_that_the_dump_tool_drops_fail_the_users_backup() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my.drop_host_name_accounts();
    my.create_db("app");
    my.sql(None, "GRANT SELECT ON app.* TO PUBLIC");
    let dir = backup_dir();
    let run = my.db_backup("all", dir.path()).run(&["backup-db"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["missing: PUBLIC@", "does not write the grants to PUBLIC"]);
    assert_eq!(files::backup_series(dir.path()), ["my-app"]);
}
