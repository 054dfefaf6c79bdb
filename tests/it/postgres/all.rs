//! PostgreSQL, several databases in one run: `DB_NAME=all` (with the roles, as a globals file) and a comma
//! list, and `restore latest` of a list.

use crate::support::files::{self, backup_dir, check_artifacts};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

#[test]
fn all_databases_and_globals_round_trip() {
    require_tools!(PG_SERVER, &["sha256sum", "gzip", "pg_dumpall"]);
    let pg = PgServer::start();
    pg.psql("postgres", "CREATE ROLE app_owner LOGIN");
    fixture::create(&pg, "alpha");
    pg.psql(
        "alpha",
        "ALTER TABLE people OWNER TO app_owner; ALTER FUNCTION exclaim(text) OWNER TO app_owner",
    );
    pg.create_db("beta");
    pg.psql("beta", "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'beta ✓')");
    let (alpha, beta) = (pg.dump("alpha"), pg.dump("beta"));
    assert!(alpha.contains("ALTER TABLE public.people OWNER TO app_owner;"));
    assert!(beta.contains("beta ✓"));

    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "all", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let alpha_file = files::only_backup(dir.path(), "pg-alpha");
    let beta_file = files::only_backup(dir.path(), "pg-beta");
    let globals_file = files::only_backup(dir.path(), "pg-globals");
    for name in [&alpha_file, &beta_file, &globals_file] {
        check_artifacts(dir.path(), name);
    }
    let globals = String::from_utf8(files::decompress(&dir.path().join(&globals_file)))
        .expect("UTF-8 globals");
    assert!(
        globals.contains("CREATE ROLE app_owner;"),
        "globals lack the role:\n{globals}"
    );

    cmd.run(&["restore", &alpha_file, "--database", "alpha_copy"])
        .expect_success();
    cmd.run(&["restore", &beta_file, "--database", "beta_copy"])
        .expect_success();
    assert_eq!(pg.dump("alpha_copy"), alpha);
    assert_eq!(pg.dump("beta_copy"), beta);
}

#[test]
fn comma_list_backs_up_each_named_database() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    for db in ["one", "two", "three"] {
        pg.create_db(db);
    }
    let dir = backup_dir();
    DbBackup::for_server(&pg, "one,two", dir.path())
        .run(&["backup-db"])
        .expect_success();
    assert_eq!(
        files::backup_series(dir.path()),
        ["pg-one", "pg-two"],
        "in {:?}",
        files::names(dir.path())
    );
}

/// `restore latest` with a comma list restores the newest backup of each listed database into that database
/// (created again after a drop), leaves other databases alone, and refuses `--database` (which one?).
#[test]
fn restore_latest_of_a_comma_list_restores_each_database() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    for db in ["one", "two", "three"] {
        pg.create_db(db);
        pg.psql(
            db,
            &format!("CREATE TABLE t (v text); INSERT INTO t VALUES ('{db} old')"),
        );
    }
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "one,two", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    // Backup names carry whole seconds: the second backup must not share the first's name.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for db in ["one", "two"] {
        pg.psql(db, &format!("UPDATE t SET v = '{db} new'"));
    }
    cmd.run(&["backup-db"]).expect_success();
    let (one, two, three) = (pg.dump("one"), pg.dump("two"), pg.dump("three"));
    assert!(
        one.contains("one new") && two.contains("two new"),
        "{one}\n{two}"
    );

    cmd.run(&["restore", "latest", "--database", "x"])
        .expect_code(2)
        .expect_stderr_mentions(&["--database needs a single backup"]);
    assert!(!pg.db_exists("x"));

    pg.psql("postgres", "DROP DATABASE one; DROP DATABASE two");
    pg.psql("three", "UPDATE t SET v = 'three changed'");
    let three = three.replace("three old", "three changed");
    cmd.run(&["restore", "latest"]).expect_success();
    assert_eq!(pg.dump("one"), one);
    assert_eq!(pg.dump("two"), two);
    assert_eq!(
        pg.dump("three"),
        three,
        "a database not in the list was touched"
    );
}

/// `DB_EXCLUDE` leaves databases out of `DB_NAME=all` (exact names; one the server lacks is a warning, not a
/// failure), `restore latest` leaves their old backups alone, and leaving out every database fails.
#[test]
fn all_but_the_excluded_databases() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    for db in ["alpha", "scratch", "Scratch2"] {
        pg.create_db(db);
        pg.psql(
            db,
            &format!("CREATE TABLE t (v text); INSERT INTO t VALUES ('{db} old')"),
        );
    }
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "all", dir.path());
    // An older backup of every database, the one about to be left out included.
    cmd.run(&["backup-db"]).expect_success();
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let cmd = cmd.env("DB_EXCLUDE", "scratch, postgres,nosuchdb");
    let run = cmd.run(&["backup-db"]);
    run.expect_success()
        .expect_stderr_mentions(&["DB_EXCLUDE", "nosuchdb"]);
    let series = files::backup_series(dir.path());
    let count = |s: &str| series.iter().filter(|x| *x == s).count();
    assert_eq!(
        [count("pg-alpha"), count("pg-Scratch2"), count("pg-globals")],
        [2, 2, 2],
        "{series:?}"
    );
    assert_eq!(
        [count("pg-scratch"), count("pg-postgres")],
        [1, 1],
        "an excluded database was backed up: {series:?}"
    );

    // Nor are its properties in the globals (a database excluded because it cannot be read must not fail them).
    let globals = files::backups(dir.path())
        .into_iter()
        .filter(|n| files::series_of(n) == Some("pg-globals"))
        .max()
        .expect("a globals backup");
    let globals = String::from_utf8(files::decompress(&dir.path().join(globals))).expect("UTF-8");
    assert!(globals.contains("CREATE DATABASE alpha"), "{globals}");
    assert!(!globals.contains("CREATE DATABASE scratch"), "{globals}");

    // restore latest brings back the others, but not the stale backup of the excluded database.
    pg.psql(
        "postgres",
        "DROP DATABASE alpha; DROP DATABASE \"Scratch2\"; DROP DATABASE scratch",
    );
    cmd.run(&["restore", "latest"]).expect_success();
    assert_eq!(pg.psql("alpha", "SELECT v FROM t").trim(), "alpha old");
    assert_eq!(
        pg.psql("Scratch2", "SELECT v FROM t").trim(),
        "Scratch2 old"
    );
    assert!(
        !pg.db_exists("scratch"),
        "restore latest brought back an excluded database"
    );

    let before = files::names(dir.path());
    cmd.env("DB_EXCLUDE", "alpha,Scratch2,postgres")
        .run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&["DB_EXCLUDE", "every database"]);
    assert_eq!(files::names(dir.path()), before, "a failed run left files");
    DbBackup::for_server(&pg, "alpha", dir.path())
        .env("DB_EXCLUDE", "scratch")
        .run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&["DB_EXCLUDE", "DB_NAME=all"]);
}
