//! The PostgreSQL password never shows: not in output or logs, not in `config`, not on a command line.

use std::fs;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::files::backup_dir;
use crate::support::pg::random_hex;
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, fixture, require_tools};

/// Gives the superuser a password with characters that need quoting in a pgpass file or a URL.
fn awkward_password(pg: &mut PgServer) -> String {
    let password = format!("S3cr:et\\@pw'{}", random_hex(8));
    pg.set_password(&password);
    password
}

fn assert_hidden(run: &Run, password: &str) {
    assert!(
        !run.all_output().contains(password),
        "the password was printed:\n{run}"
    );
}

#[test]
fn password_is_never_printed() {
    require_tools!(PG_SERVER);
    let mut pg = PgServer::start();
    fixture::create(&pg, "app");
    let password = awkward_password(&mut pg);
    let dir = backup_dir();
    let secrets = tempfile::tempdir().expect("temp dir");
    let password_file = secrets.path().join("db_password");
    fs::write(&password_file, format!("{password}\n")).expect("write password file");

    let by_value = DbBackup::for_server(&pg, "app", dir.path()).env("LOG_LEVEL", "debug");
    let by_file = by_value
        .clone()
        .without("DB_PASSWORD")
        .env(
            "DB_PASSWORD_FILE",
            password_file.to_str().expect("UTF-8 path"),
        )
        .env("LOG_FORMAT", "json");
    for cmd in [&by_value, &by_file] {
        let config = cmd.run(&["config"]);
        config.expect_success();
        assert_hidden(&config, &password);
    }
    let backup = by_value.run(&["backup-db"]);
    backup.expect_success();
    assert_hidden(&backup, &password);
    std::thread::sleep(Duration::from_millis(1100)); // the next backup gets a name of its own
    let backup = by_file.run(&["backup-db"]);
    backup.expect_success();
    assert_hidden(&backup, &password);
    let restore = by_file.run(&["restore", "latest", "--database", "copy"]);
    restore.expect_success();
    assert_hidden(&restore, &password);
}

/// Every process's command line, read while a backup waits on a lock the test holds.
#[test]
fn password_is_on_no_command_line() {
    require_tools!(PG_SERVER);
    let mut pg = PgServer::start();
    fixture::create(&pg, "app");
    let password = awkward_password(&mut pg);

    // A session that holds people's table lock makes pg_dump wait at its start, in plain sight.
    let mut locker = pg.client("psql");
    locker
        .env("PGAPPNAME", "locker")
        .args(["-X", "-q", "-d", "app", "-f", "-"]);
    let mut locker = locker
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start locker");
    let mut stdin = locker.stdin.take().expect("locker stdin");
    stdin
        .write_all(b"BEGIN;\nLOCK TABLE people IN ACCESS EXCLUSIVE MODE;\nSELECT pg_sleep(120);\n")
        .expect("lock");
    let holds_lock = "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)
                      WHERE application_name = 'locker' AND mode = 'AccessExclusiveLock' AND granted";
    wait_for(
        || pg.psql("app", holds_lock) != "0",
        "the locker to hold its lock",
    );

    let dir = backup_dir();
    let running = DbBackup::for_server(&pg, "app", dir.path()).spawn(&["backup-db"]);
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pg_dump (%' AND wait_event_type = 'Lock'";
    wait_for(
        || pg.psql("postgres", waiting) != "0",
        "pg_dump to wait for the lock",
    );
    let exposed = command_lines_containing(&password);

    assert_eq!(pg.terminate_backends("locker"), 1);
    drop(stdin);
    let _ = locker.wait();
    let run = running.wait(Duration::from_secs(120));
    run.expect_success();
    assert!(
        exposed.is_empty(),
        "the password is on command lines: {exposed:?}"
    );
}

fn wait_for(mut ready: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids and command lines (from /proc) that contain `needle`.
fn command_lines_containing(needle: &str) -> Vec<String> {
    let entries = fs::read_dir("/proc").expect("read /proc");
    entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let cmdline = fs::read(path.join("cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(needle)
                .then(|| format!("{}: {text}", path.display()))
        })
        .collect()
}
