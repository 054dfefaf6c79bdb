//! PostgreSQL backups that must fail: exit 1, a message naming the cause, and BACKUP_DIR exactly as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::files::{self, DirState, assert_failed_cleanly, backup_dir};
use crate::support::pg::random_hex;
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools, tools};

/// A server with database `app`, and a BACKUP_DIR holding an older backup (old enough that a prune
/// after the failure would delete it) whose state is recorded.
fn setup() -> (PgServer, TempDir, DirState) {
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql("app", "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 2000) g");
    let dir = backup_dir();
    files::plant_backup(dir.path(), "pg-2001-01-01T00-00-00.sql.gz");
    let before = files::snapshot(dir.path());
    (pg, dir, before)
}

#[test]
fn wrong_password_fails_cleanly() {
    require_tools!(PG_SERVER);
    let (pg, dir, before) = setup();
    let secrets = tempfile::tempdir().expect("temp dir");
    let wrong = format!("wrong-{}", random_hex(8));
    let password_file = secrets.path().join("db_password");
    fs::write(&password_file, format!("{wrong}\n")).expect("write password file");

    let run = DbBackup::for_server(&pg, "app", dir.path())
        .without("DB_PASSWORD")
        .env(
            "DB_PASSWORD_FILE",
            password_file.to_str().expect("UTF-8 path"),
        )
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["password"]);
    assert!(
        !run.all_output().contains(&wrong),
        "the password was printed:\n{run}"
    );
}

/// No password set, and the server asks for one: a failure at once (not a wait for the server to come up)
/// that says to set the password.
#[test]
fn missing_password_fails_at_once() {
    require_tools!(PG_SERVER);
    let (pg, dir, before) = setup();
    let run = DbBackup::for_server(&pg, "app", dir.path())
        .without("DB_PASSWORD")
        .env("DB_WAIT_TIMEOUT", "20")
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["DB_PASSWORD", "asks for a password"],
    );
    assert!(
        run.elapsed < Duration::from_secs(5),
        "a missing password is not a server still starting:\n{run}"
    );
    assert!(!run.all_output().contains("DB_HOST"), "{run}");
}

#[test]
fn unknown_database_fails_cleanly() {
    require_tools!(PG_SERVER);
    let (pg, dir, before) = setup();
    let run = DbBackup::for_server(&pg, "nosuchdb", dir.path()).run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["nosuchdb"]);
    run.expect_stderr_mentions_any(&["does not exist", "not found", "unknown", "no such"]);
}

#[test]
fn server_down_fails_cleanly_within_the_wait_timeout() {
    require_tools!(PG_SERVER);
    let (mut pg, dir, before) = setup();
    let cmd = DbBackup::for_server(&pg, "app", dir.path()).env("DB_WAIT_TIMEOUT", "2");
    pg.stop();
    let run = cmd.run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &[&pg.port().to_string()]);
    run.expect_stderr_mentions_any(&[
        "connect",
        "refused",
        "reach",
        "timed out",
        "timeout",
        "not ready",
    ]);
    // It waited for the server (about 2 s), and no longer than that allows.
    assert!(
        run.elapsed >= Duration::from_millis(1500) && run.elapsed < Duration::from_secs(20),
        "DB_WAIT_TIMEOUT=2 not respected:\n{run}"
    );
}

#[test]
fn dump_killed_half_way_fails_cleanly() {
    require_tools!(PG_SERVER);
    let (pg, dir, before) = setup();
    // Big enough that the COPY of `big` lasts well beyond the 10 ms the watcher below polls at.
    pg.add_big_table("app", 1_000_000);

    let running = DbBackup::for_server(&pg, "app", dir.path()).spawn(&["backup-db"]);
    let killed = pg.terminate_when_running("pg_dump", "COPY public.big %", Duration::from_secs(60));
    let run = running.wait(Duration::from_secs(120));
    assert!(killed, "never saw pg_dump copying table big:\n{run}");
    assert_failed_cleanly(&run, dir.path(), &before, &["pg_dump"]);
    run.expect_stderr_mentions_any(&["terminat", "administrator", "connection", "exit"]);
}

/// A PG_BIN_DIR whose pg_dump is `script`; the other tools are the real ones.
fn fake_bin_dir(script: &str) -> TempDir {
    let bin = tempfile::tempdir().expect("temp bin dir");
    for tool in ["psql", "pg_dumpall", "pg_restore", "pg_isready"] {
        std::os::unix::fs::symlink(tools::path(tool), bin.path().join(tool)).expect("link tool");
    }
    let pg_dump = bin.path().join("pg_dump");
    fs::write(&pg_dump, script).expect("write fake pg_dump");
    fs::set_permissions(&pg_dump, fs::Permissions::from_mode(0o755)).expect("chmod fake pg_dump");
    bin
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn truncated_dump_that_exits_0_is_incomplete() {
    require_tools!(PG_SERVER, &["head"]);
    let (pg, dir, before) = setup();
    assert!(
        pg.dump("app").len() > 40_000,
        "the database must dump to more than the fake lets through"
    );
    let real = tools::path("pg_dump");
    let bin = fake_bin_dir(&format!(
        "#!/bin/sh\ncase \"$1\" in --version|-V) exec '{real}' \"$@\";; esac\n'{real}' \"$@\" | head -c 20000\nexit 0\n",
        real = real.display()
    ));
    let run = DbBackup::for_server(&pg, "app", dir.path())
        .env("PG_BIN_DIR", path_str(bin.path()))
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["incomplete"]);
}

#[test]
fn client_older_than_server_is_refused_with_the_version_needed() {
    require_tools!(PG_SERVER);
    let (pg, dir, before) = setup();
    let server_major = pg.psql(
        "postgres",
        "SELECT current_setting('server_version_num')::int / 10000",
    );
    // Like a real old pg_dump: it answers its version, and refuses to dump a newer server
    // (without saying the server's version, so the message must come from db-backup).
    let bin = fake_bin_dir(
        "#!/bin/sh\ncase \"$1\" in --version|-V) echo 'pg_dump (PostgreSQL) 12.0'; exit 0;; esac\n\
         echo 'pg_dump: error: aborting because of server version mismatch' >&2\nexit 1\n",
    );
    let run = DbBackup::for_server(&pg, "app", dir.path())
        .env("PG_BIN_DIR", path_str(bin.path()))
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["version"]);
    run.expect_stderr_mentions_any(&["pg_dump", "client"]);
    assert!(
        mentions_number(&run.stderr, &server_major),
        "stderr should name the version needed ({server_major}):\n{run}"
    );
}

/// Whether `text` holds `number` as a number of its own (not inside a timestamp like 21:15:05).
fn mentions_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit() || ":-.".contains(c))
            && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// A dump that looks complete but whose tool exited non-zero (the `pg_dump | tee` lesson): the exit status
/// alone must fail the run.
#[test]
fn complete_looking_dump_with_a_failed_exit_status_fails() {
    require_tools!(PG_SERVER);
    let (pg, dir, before) = setup();
    let real = tools::path("pg_dump");
    let bin = fake_bin_dir(&format!(
        "#!/bin/sh\ncase \"$1\" in --version|-V) exec '{real}' \"$@\";; esac\n'{real}' \"$@\"\n\
         echo 'pg_dump: error: simulated failure after the last byte' >&2\nexit 1\n",
        real = real.display()
    ));
    let run = DbBackup::for_server(&pg, "app", dir.path())
        .env("PG_BIN_DIR", path_str(bin.path()))
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["simulated failure"]);
}
