//! PostgreSQL disaster recovery: a `DB_NAME=all` backup restored onto a brand-new, empty server brings back every
//! role and every database with its owner, settings, per-role settings, grants and comment, without touching the
//! restoring user's own password; a restore that fails part-way removes what it created.

use crate::support::files::backup_dir;
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// An old server with roles (a login with a password, a group, a second superuser, settings, a comment, a
/// membership) and two databases with every database-level property, one of them not open to PUBLIC.
/// Returns the server and the password of its role `app`.
pub(super) fn old_server() -> (PgServer, String) {
    let old = PgServer::start();
    let app_password = old.create_user("app", "COMMENT ON ROLE app IS 'the application'");
    old.psql(
        "postgres",
        "CREATE ROLE reader NOLOGIN;
         CREATE ROLE admin SUPERUSER LOGIN;
         GRANT reader TO app;
         ALTER ROLE app SET work_mem = '4MB';
         COMMENT ON DATABASE postgres IS 'maintenance';",
    );
    fixture::create(&old, "shop");
    old.psql(
        "postgres",
        "ALTER DATABASE shop OWNER TO app;
         ALTER DATABASE shop CONNECTION LIMIT 20;
         COMMENT ON DATABASE shop IS 'orders and people';
         ALTER DATABASE shop SET statement_timeout = '30s';
         ALTER ROLE app IN DATABASE shop SET search_path = public, extra;
         REVOKE CONNECT, TEMPORARY ON DATABASE shop FROM PUBLIC;
         GRANT CONNECT ON DATABASE shop TO reader;",
    );
    old.psql("shop", "ALTER TABLE people OWNER TO app");
    old.create_db("wiki");
    old.psql(
        "wiki",
        "CREATE TABLE pages (id int PRIMARY KEY, body text); INSERT INTO pages VALUES (1, 'home ✓');
         GRANT SELECT ON pages TO reader;",
    );
    old.psql("postgres", "ALTER DATABASE wiki OWNER TO reader");
    (old, app_password)
}

/// The README's procedure: a `DB_NAME=all` backup by the README's backup user, then `restore latest` against a
/// new server (whose superuser has its own password). Roles (without passwords, as `pg_dumpall --no-role-passwords` shows them) and every
/// database's `pg_dump --create --schema-only` and data must equal the old server's.
#[test]
fn restore_onto_a_new_server_brings_back_every_database_and_role() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let (old, app_password) = old_server();
    // Backed up by the README's least-privileged user.
    let backup_password = old.create_user(
        "backup",
        "ALTER ROLE {user} BYPASSRLS; GRANT pg_read_all_data TO {user};
         GRANT CONNECT ON DATABASE shop TO {user};",
    );
    let dir = backup_dir();
    let backups = DbBackup::for_server(&old, "all", dir.path())
        .env("DB_USER", "backup")
        .env("DB_PASSWORD", &backup_password);
    backups.run(&["backup-db"]).expect_success();
    backups.run(&["verify", "all"]).expect_success();

    let new = PgServer::start();
    assert_ne!(old.password(), new.password());
    // A role that exists already keeps existing, with the backup's attributes.
    new.psql("postgres", "CREATE ROLE app CREATEDB");
    DbBackup::for_server(&new, "all", dir.path())
        .run(&["restore", "latest"])
        .expect_success()
        .expect_stderr_mentions(&["kept as it is"]);

    // The new superuser still logs in with its own password (every psql below does), and nothing differs.
    assert_eq!(new.globals(), old.globals(), "roles differ");
    assert_eq!(new.databases(), old.databases());
    for db in old.databases() {
        assert_eq!(
            new.schema_with_database(&db),
            old.schema_with_database(&db),
            "database {db} differs"
        );
        assert_eq!(new.dump(&db), old.dump(&db), "the data of {db} differs");
    }
    assert!(
        new.schema_with_database("shop")
            .contains("REVOKE CONNECT,TEMPORARY ON DATABASE shop FROM PUBLIC;")
    );
    // The application logs in with its old password, and gets its per-database settings.
    let out = new
        .client("psql")
        .env("PGPASSWORD", &app_password)
        .args([
            "--username",
            "app",
            "-XAt",
            "-d",
            "shop",
            "-c",
            "SHOW search_path",
        ])
        .output()
        .expect("run psql");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "public, extra",
        "{out:?}"
    );
}

/// A database backup restored onto a new server without its globals fails (its owner role is missing), and
/// the database the restore created is dropped again.
#[test]
fn a_database_restored_without_its_roles_fails_and_is_removed() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let (old, _) = old_server();
    let dir = backup_dir();
    DbBackup::for_server(&old, "all", dir.path())
        .run(&["backup-db"])
        .expect_success();
    let shop = crate::support::files::only_backup(dir.path(), "pg-shop");

    let new = PgServer::start();
    DbBackup::for_server(&new, "shop", dir.path())
        .run(&["restore", &shop])
        .expect_code(1)
        .expect_stderr_mentions(&[
            "role \"app\" does not exist",
            "removed what the restore had created: database shop",
        ]);
    assert!(!new.db_exists("shop"));
}

/// A user who may create roles and databases but is no superuser cannot restore the globals (a superuser
/// role, attributes only a superuser sets): the restore fails naming the need, and the roles and databases
/// it had created are gone again.
#[test]
fn a_failed_restore_onto_a_new_server_leaves_nothing_behind() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let (old, _) = old_server();
    let dir = backup_dir();
    DbBackup::for_server(&old, "all", dir.path())
        .run(&["backup-db"])
        .expect_success();

    let new = PgServer::start();
    // A plain user: the first CREATE ROLE fails, and the restore with it.
    let plain = new.create_user("plain", "");
    let (globals, databases) = (new.globals(), new.databases());
    DbBackup::for_server(&new, "all", dir.path())
        .env("DB_USER", "plain")
        .env("DB_PASSWORD", &plain)
        .run(&["restore", "latest"])
        .expect_code(1)
        .expect_stderr_mentions(&["permission denied to create role", "superuser"]);
    assert_eq!(new.globals(), globals, "roles were left behind");
    assert_eq!(new.databases(), databases, "databases were left behind");

    // A user who may create roles and databases gets further, and what it created is removed.
    let password = new.create_user("restorer", "ALTER ROLE {user} CREATEROLE CREATEDB");
    let (globals, databases) = (new.globals(), new.databases());
    let run = DbBackup::for_server(&new, "all", dir.path())
        .env("DB_USER", "restorer")
        .env("DB_PASSWORD", &password)
        .run(&["restore", "latest"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["superuser", "removed what the restore had created"]);
    assert_eq!(new.globals(), globals, "roles were left behind");
    assert_eq!(new.databases(), databases, "databases were left behind");
}

/// A globals backup made before database properties were kept (plain `pg_dumpall --globals-only`) still
/// restores onto a new server: every role comes back, the restoring superuser keeps its own password.
#[test]
fn an_older_globals_backup_restores_onto_a_new_server() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let (old, _) = old_server();
    let out = old
        .client("pg_dumpall")
        .arg("--globals-only")
        .output()
        .expect("run pg_dumpall");
    assert!(out.status.success(), "{out:?}");
    let dir = backup_dir();
    let name = "pg-globals-2001-01-01T00-00-00.sql";
    crate::support::files::write_with_checksum(dir.path(), name, &out.stdout);

    let new = PgServer::start();
    DbBackup::for_server(&new, "all", dir.path())
        .run(&["restore", name])
        .expect_success();
    assert_eq!(new.globals(), old.globals(), "roles differ");
}

/// A globals backup cut short (its checksum matching, as if it had been cut before the checksum was taken):
/// the restore fails saying so, and what it had already created is removed.
#[test]
fn a_cut_short_globals_backup_fails_and_leaves_nothing_behind() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let (old, _) = old_server();
    let dir = backup_dir();
    DbBackup::for_server(&old, "all", dir.path())
        .run(&["backup-db"])
        .expect_success();
    let globals_file = crate::support::files::only_backup(dir.path(), "pg-globals");
    let whole = String::from_utf8(crate::support::files::decompress(
        &dir.path().join(&globals_file),
    ))
    .expect("UTF-8 globals");
    let cut = whole
        .find("CREATE DATABASE wiki")
        .expect("wiki's properties");
    let short_dir = backup_dir();
    crate::support::files::write_with_checksum(
        short_dir.path(),
        "pg-globals-2001-01-01T00-00-00.sql",
        &whole.as_bytes()[..cut],
    );

    let new = PgServer::start();
    let (globals, databases) = (new.globals(), new.databases());
    DbBackup::for_server(&new, "all", short_dir.path())
        .run(&["restore", "pg-globals-2001-01-01T00-00-00.sql"])
        .expect_code(1)
        .expect_stderr_mentions(&["cut short"]);
    assert_eq!(new.globals(), globals, "roles were left behind");
    assert_eq!(new.databases(), databases, "databases were left behind");
}
