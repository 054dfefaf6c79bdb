//! The least-privileged PostgreSQL backup user of the README backs up everything, and each privilege it
//! lacks fails the backup (never exit 0) with a message naming the grant or attribute to add.

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// The README's backup user, exactly: `pg_read_all_data`, `BYPASSRLS` for tables with row-level security.
const README_USER: &str = "ALTER ROLE {user} BYPASSRLS; GRANT pg_read_all_data TO {user};";

/// The README's grant on existing large objects, run in the database by their owner or a superuser.
const README_LARGE_OBJECTS: &str = "DO $$ DECLARE o oid; BEGIN
    FOR o IN SELECT oid FROM pg_largeobject_metadata LOOP
        EXECUTE format('GRANT SELECT ON LARGE OBJECT %s TO backup', o);
    END LOOP; END $$;";

/// Database `app`: the fixture (tables, views, a materialized view, sequences, functions, a trigger), a
/// table with row-level security and a policy, and a large object, all owned by the superuser.
fn server_with_app() -> PgServer {
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    pg.psql(
        "app",
        "CREATE TABLE secrets (id int PRIMARY KEY, owner name, body text);
         INSERT INTO secrets VALUES (1, 'alice', 'a'), (2, 'bob', 'b');
         ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_rows ON secrets USING (owner = current_user);
         SELECT lo_from_bytea(0, '\\x00ff6c6f'::bytea);",
    );
    pg
}

fn backup_as(
    pg: &PgServer,
    db: &str,
    dir: &std::path::Path,
    user: &str,
    password: &str,
) -> DbBackup {
    DbBackup::for_server(pg, db, dir)
        .env("DB_USER", user)
        .env("DB_PASSWORD", password)
}

#[test]
fn the_readmes_backup_user_backs_up_everything() {
    require_tools!(PG_SERVER);
    let pg = server_with_app();
    let password = pg.create_user("backup", README_USER);
    pg.psql("app", README_LARGE_OBJECTS);
    let source = pg.dump("app");
    assert!(source.contains("CREATE POLICY own_rows") && source.contains("lo_create"));

    let dir = backup_dir();
    backup_as(&pg, "app", dir.path(), "backup", &password)
        .run(&["backup-db"])
        .expect_success();
    // Restored by the superuser, into a new database: the same dump as the source.
    DbBackup::for_server(&pg, "app", dir.path())
        .run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    assert_eq!(pg.dump("copy"), source);
    assert_eq!(
        pg.psql("copy", "SELECT count(*) FROM secrets; SELECT encode(lo_get(oid), 'hex') FROM pg_largeobject_metadata"),
        "2\n00ff6c6f"
    );
}

/// Row-level security hides rows from a user subject to it: without `BYPASSRLS` the backup fails naming
/// it, both for the README user (a table with RLS enabled) and for the tables' owner (RLS forced).
#[test]
fn row_level_security_without_bypassrls_fails_naming_it() {
    require_tools!(PG_SERVER);
    let pg = server_with_app();
    let dir = backup_dir();
    let password = pg.create_user("backup", "GRANT pg_read_all_data TO {user}");
    pg.psql("app", README_LARGE_OBJECTS);
    backup_as(&pg, "app", dir.path(), "backup", &password)
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["row-level security", "ALTER ROLE backup BYPASSRLS"]);

    let owner_password = pg.create_user("owner", "");
    pg.psql("postgres", "CREATE DATABASE owned OWNER owner");
    let owned = DbBackup::for_server(&pg, "owned", dir.path())
        .env("DB_USER", "owner")
        .env("DB_PASSWORD", &owner_password);
    pg.psql(
        "owned",
        "SET ROLE owner; CREATE TABLE notes (id int, who name DEFAULT current_user);
         INSERT INTO notes VALUES (1); ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
         ALTER TABLE notes FORCE ROW LEVEL SECURITY; CREATE POLICY mine ON notes USING (who = 'nobody');",
    );
    owned
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["row-level security", "BYPASSRLS"]);
    assert!(files::backups(dir.path()).is_empty());
}

/// `pg_read_all_data` does not cover large objects: without the README's grant the backup fails naming it.
#[test]
fn an_unreadable_large_object_fails_naming_the_grant() {
    require_tools!(PG_SERVER);
    let pg = server_with_app();
    let dir = backup_dir();
    let password = pg.create_user("backup", README_USER);
    backup_as(&pg, "app", dir.path(), "backup", &password)
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["large object", "GRANT SELECT ON LARGE OBJECT"]);
    assert!(files::backups(dir.path()).is_empty());
}

/// A user with no read grants fails on the first table, naming `pg_read_all_data`.
#[test]
fn an_unreadable_table_fails_naming_pg_read_all_data() {
    require_tools!(PG_SERVER);
    let pg = server_with_app();
    let dir = backup_dir();
    let password = pg.create_user("backup", "");
    backup_as(&pg, "app", dir.path(), "backup", &password)
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["permission denied", "GRANT pg_read_all_data TO backup"]);
    assert!(files::backups(dir.path()).is_empty());
}

/// `DB_NAME=all` with a database the user may not connect to: the run fails naming that database and the
/// grant; it is not skipped.
#[test]
fn all_with_a_database_the_user_cannot_connect_to_fails_naming_it() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let pg = PgServer::start();
    pg.create_db("open");
    pg.create_db("closed");
    pg.psql("postgres", "REVOKE CONNECT ON DATABASE closed FROM PUBLIC");
    let password = pg.create_user("backup", README_USER);
    let dir = backup_dir();
    backup_as(&pg, "all", dir.path(), "backup", &password)
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["GRANT CONNECT ON DATABASE closed TO backup"]);
    let series = files::backup_series(dir.path());
    assert!(
        !series.iter().any(|s| s == "pg-closed" || s == "pg-globals"),
        "{series:?}"
    );
}

/// `pg_dump` leaves subscriptions out with only a warning when the user is no superuser: the backup fails
/// instead, naming the way to leave them out on purpose; with `--no-subscriptions` it succeeds.
#[test]
fn subscriptions_a_non_superuser_cannot_dump_fail_the_backup() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE SUBSCRIPTION feed CONNECTION 'host=127.0.0.1 port=1 dbname=x' PUBLICATION p \
         WITH (connect = false, slot_name = NONE, enabled = false)",
    );
    let password = pg.create_user("backup", README_USER);
    let dir = backup_dir();
    let cmd = backup_as(&pg, "app", dir.path(), "backup", &password);
    cmd.run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["subscriptions not dumped", "--no-subscriptions"]);
    assert!(files::backups(dir.path()).is_empty());
    cmd.env("PG_DUMP_ARGS", "--no-subscriptions")
        .run(&["backup-db"])
        .expect_success();
}
