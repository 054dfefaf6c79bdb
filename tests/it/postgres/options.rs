//! PostgreSQL option traps: `PG_DUMP_ARGS` that would make a backup `restore` cannot apply are refused up
//! front, and `PG_DUMPALL_ARGS` reaches `pg_dumpall` (`--no-role-passwords` for a user who cannot read
//! `pg_authid`).

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

/// `--create` (in any spelling), `--clean`, `--data-only`, `--section` and `--binary-upgrade` make dumps that
/// `restore` cannot apply (and `--compress` one it cannot read): each is refused with exit status 2, naming the
/// variable and the reason, before anything is written.
#[test]
fn pg_dump_args_restore_cannot_apply_are_refused() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let dir = backup_dir();
    for (args, why) in [
        ("--create", "CREATE DATABASE"),
        ("-C", "CREATE DATABASE"),
        ("--no-owner -sC", "CREATE DATABASE"),
        ("--cre", "CREATE DATABASE"),
        ("--clean", "DROP"),
        ("-c --if-exists", "DROP"),
        ("-Z9", "BACKUP_COMPRESSION"),
        ("--data-only", "empty database"),
        ("-a", "empty database"),
        ("--section=pre-data", "empty database"),
        ("--binary-upgrade", "pg_upgrade"),
    ] {
        let run = DbBackup::for_server(&pg, "app", dir.path())
            .env("PG_DUMP_ARGS", args)
            .run(&["backup-db"]);
        run.expect_code(2)
            .expect_stderr_mentions(&["PG_DUMP_ARGS", why]);
        assert!(
            files::names(dir.path()).is_empty(),
            "{args}: files were written: {:?}",
            files::names(dir.path())
        );
    }
    // Options that keep the dump restorable still work, and the backup restores.
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("PG_DUMP_ARGS", "--no-owner --no-comments");
    cmd.run(&["backup-db"]).expect_success();
}

/// `PG_DUMPALL_ARGS` may not redirect `pg_dumpall` or point it at another server.
#[test]
fn pg_dumpall_args_that_break_the_globals_are_refused() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    let dir = backup_dir();
    for (args, why) in [
        ("--file=/tmp/globals.sql", "DB_HOST"),
        ("-h other", "DB_HOST"),
        ("--roles-only", "--globals-only"),
        ("--clean", "DROP ROLE"),
    ] {
        DbBackup::for_server(&pg, "all", dir.path())
            .env("PG_DUMPALL_ARGS", args)
            .run(&["backup-db"])
            .expect_code(2)
            .expect_stderr_mentions(&["PG_DUMPALL_ARGS", why]);
        assert!(files::names(dir.path()).is_empty(), "{args}");
    }
}

/// A backup user without `pg_read_all_data` (which would let it read `pg_authid`) cannot read the role
/// passwords: `DB_NAME=all` fails and names `PG_DUMPALL_ARGS=--no-role-passwords`; with it, the globals hold
/// every role, without passwords.
#[test]
fn no_role_passwords_lets_a_non_superuser_back_up_globals() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let pg = PgServer::start();
    pg.create_user("app_owner", "");
    let password = pg.create_user("backup", "");
    pg.create_db("app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "all", dir.path())
        .env("DB_USER", "backup")
        .env("DB_PASSWORD", &password);

    cmd.run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["pg_authid", "PG_DUMPALL_ARGS=--no-role-passwords"]);
    assert!(
        files::backups(dir.path())
            .iter()
            .all(|n| !n.starts_with("pg-globals"))
    );

    cmd.clone()
        .env("PG_DUMPALL_ARGS", "--no-role-passwords")
        .run(&["backup-db"])
        .expect_success();
    let globals_file = files::only_backup(dir.path(), "pg-globals");
    let globals = String::from_utf8(files::decompress(&dir.path().join(&globals_file)))
        .expect("UTF-8 globals");
    assert!(globals.contains("CREATE ROLE app_owner;"), "{globals}");
    assert!(globals.contains("CREATE ROLE backup;"), "{globals}");
    assert!(
        !globals.contains("SCRAM-SHA-256"),
        "a password hash:\n{globals}"
    );
}

/// What `PG_DUMP_ARGS` leaves out of the dumps (owners, grants, comments, tablespaces) and `--no-tablespaces` in
/// `PG_DUMPALL_ARGS` stay out of the database properties in the globals backup too.
#[test]
fn leaving_out_owners_grants_comments_and_tablespaces_covers_database_properties() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let pg = PgServer::start();
    pg.create_user("app", "");
    pg.create_tablespace("fast");
    pg.psql(
        "postgres",
        "CREATE DATABASE shop OWNER app TABLESPACE fast;
         COMMENT ON DATABASE shop IS 'orders';
         REVOKE CONNECT ON DATABASE shop FROM PUBLIC;",
    );
    let globals_of = |dumpall_args: Option<&str>, dump_args: Option<&str>| {
        let dir = backup_dir();
        let mut cmd = DbBackup::for_server(&pg, "all", dir.path());
        if let Some(args) = dumpall_args {
            cmd = cmd.env("PG_DUMPALL_ARGS", args);
        }
        if let Some(args) = dump_args {
            cmd = cmd.env("PG_DUMP_ARGS", args);
        }
        cmd.run(&["backup-db"]).expect_success();
        let name = files::only_backup(dir.path(), "pg-globals");
        String::from_utf8(files::decompress(&dir.path().join(name))).expect("UTF-8 globals")
    };
    let marks = [
        "ALTER DATABASE shop OWNER TO app;",
        "COMMENT ON DATABASE shop IS 'orders';",
        "REVOKE CONNECT,TEMPORARY ON DATABASE shop FROM PUBLIC;",
        "TABLESPACE = fast",
    ];
    let full = globals_of(None, None);
    for mark in marks {
        assert!(full.contains(mark), "{mark} missing:\n{full}");
    }
    let without = globals_of(
        Some("--no-tablespaces"),
        Some("--no-owner --no-acl --no-comments"),
    );
    for mark in marks {
        assert!(!without.contains(mark), "{mark} kept:\n{without}");
    }
    assert!(without.contains("CREATE DATABASE shop"), "{without}");
}
