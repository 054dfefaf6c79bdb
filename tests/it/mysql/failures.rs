//! MySQL/MariaDB backups that must fail: exit 1, a message naming the cause, and BACKUP_DIR exactly as it was.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::support::files::{self, DirState, assert_failed_cleanly, backup_dir};
use crate::support::mariadb::{self, MariaDb};
use crate::support::pg::random_hex;
use crate::support::tools;

/// A server with database `app`, and a BACKUP_DIR holding an older backup (old enough that a prune after
/// the failure would delete it) whose state is recorded.
fn setup() -> (MariaDb, TempDir, DirState) {
    let my = MariaDb::start();
    my.create_db("app");
    my.sql(
        Some("app"),
        "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64));
         INSERT INTO t SELECT seq, MD5(seq) FROM seq_1_to_2000;",
    );
    let dir = backup_dir();
    files::plant_backup(dir.path(), "my-2001-01-01T00-00-00.sql.gz");
    let before = files::snapshot(dir.path());
    (my, dir, before)
}

#[test]
fn wrong_password_fails_cleanly() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, before) = setup();
    let secrets = tempfile::tempdir().expect("temp dir");
    let wrong = format!("wrong-{}", random_hex(8));
    let password_file = secrets.path().join("db_password");
    fs::write(&password_file, format!("{wrong}\n")).expect("write password file");

    let run = my
        .db_backup("app", dir.path())
        .without("DB_PASSWORD")
        .env(
            "DB_PASSWORD_FILE",
            password_file.to_str().expect("UTF-8 path"),
        )
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["password", "DB_USER"]);
    assert!(
        !run.all_output().contains(&wrong),
        "the password was printed:\n{run}"
    );
}

#[test]
fn unknown_database_fails_cleanly() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, before) = setup();
    let run = my.db_backup("nosuchdb", dir.path()).run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["nosuchdb", "does not exist"]);
}

#[test]
fn server_down_fails_cleanly_within_the_wait_timeout() {
    if !mariadb::available() {
        return;
    }
    let (mut my, dir, before) = setup();
    let cmd = my.db_backup("app", dir.path()).env("DB_WAIT_TIMEOUT", "2");
    my.stop();
    let run = cmd.run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &[&my.port().to_string(), "connect"],
    );
    // It waited for the server (about 2 s), and no longer than that allows.
    assert!(
        run.elapsed >= Duration::from_millis(1500) && run.elapsed < Duration::from_secs(20),
        "DB_WAIT_TIMEOUT=2 not respected:\n{run}"
    );
}

/// The dump's connection is killed (MariaDB `KILL`) while it reads a big table. While it runs, the password
/// is on no command line and in no dump tool's environment, and the option file that holds it is private.
#[test]
fn dump_killed_half_way_fails_cleanly() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, before) = setup();
    my.sql(
        Some("app"),
        "CREATE TABLE big (id INT PRIMARY KEY, payload CHAR(32)) ENGINE=InnoDB;
         INSERT INTO big SELECT seq, MD5(seq) FROM seq_1_to_150000;",
    );

    let running = my.db_backup("app", dir.path()).spawn(&["backup-db"]);
    // First the dump tool is looked at while it runs, then its connection is killed mid-table.
    let dump_tool = wait_for_dump_tool(running.id(), my.password(), Duration::from_secs(60));
    let killed = my.kill_when_running(
        "SELECT /*!40001 SQL_NO_CACHE */ %FROM `big`%",
        Duration::from_secs(60),
    );
    let run = running.wait(Duration::from_secs(120));
    assert!(killed, "never saw the dump reading table big:\n{run}");
    assert_failed_cleanly(&run, dir.path(), &before, &["mariadb-dump"]);
    run.expect_stderr_mentions_any(&["lost connection", "killed", "gone away", "interrupted"]);

    let (cmdline, environ, option_file_mode, option_file, exposed) =
        dump_tool.expect("never saw the dump tool running");
    let password = my.password();
    assert!(
        !cmdline.contains(password),
        "the password is on the command line: {cmdline}"
    );
    assert!(
        !environ.contains(password),
        "the password is in the dump tool's environment"
    );
    assert_eq!(option_file_mode, 0o600, "the option file must be private");
    assert!(
        !option_file.exists(),
        "the option file {} was left behind",
        option_file.display()
    );
    assert!(
        exposed.is_empty(),
        "the password is on command lines: {exposed:?}"
    );
}

/// What a running dump tool exposes: its command line, its environment, its option file's mode and path;
/// and the command lines of any process that hold `password` at that moment.
type Exposure = (String, String, u32, PathBuf, Vec<String>);

/// Polls /proc for the `mariadb-dump` that process `parent` started, and reads what it exposes.
fn wait_for_dump_tool(parent: u32, password: &str, timeout: Duration) -> Option<Exposure> {
    let ppid = format!("PPid:\t{parent}\n");
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
            let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_dump = args.first().is_some_and(|a| a.ends_with("mariadb-dump"))
                && fs::read_to_string(entry.path().join("status")).is_ok_and(|s| s.contains(&ppid));
            let option_file = args
                .get(1)
                .and_then(|a| a.strip_prefix("--defaults-extra-file="))
                .map(PathBuf::from);
            if let (true, Some(option_file)) = (is_dump, option_file) {
                let environ = fs::read(entry.path().join("environ")).unwrap_or_default();
                let Ok(meta) = fs::metadata(&option_file) else {
                    continue;
                };
                return Some((
                    args.join(" "),
                    String::from_utf8_lossy(&environ).into_owned(),
                    meta.permissions().mode() & 0o777,
                    option_file,
                    other_command_lines_containing(password),
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// Command lines (from /proc) that contain `needle`, other than this test process's own.
fn other_command_lines_containing(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() != me)
        .filter_map(|e| {
            let text = String::from_utf8_lossy(&fs::read(e.path().join("cmdline")).ok()?)
                .replace('\0', " ");
            text.contains(needle).then_some(text)
        })
        .collect()
}

/// A MYSQL_BIN_DIR whose `mariadb-dump` is `script` (`$REAL` is the real one); `mariadb` is the real client.
fn fake_bin_dir(script: &str) -> TempDir {
    let bin = tempfile::tempdir().expect("temp bin dir");
    std::os::unix::fs::symlink(tools::path("mariadb"), bin.path().join("mariadb"))
        .expect("link the client");
    let dump = bin.path().join("mariadb-dump");
    let real = tools::path("mariadb-dump");
    fs::write(
        &dump,
        format!("#!/bin/sh\nREAL='{}'\n{script}", real.display()),
    )
    .expect("write fake mariadb-dump");
    fs::set_permissions(&dump, fs::Permissions::from_mode(0o755)).expect("chmod fake mariadb-dump");
    bin
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn truncated_dump_that_exits_0_is_incomplete() {
    if !mariadb::available() || !tools::available(&["head"]) {
        return;
    }
    let (my, dir, before) = setup();
    assert!(
        my.dump("app").len() > 40_000,
        "the database must dump to more than the fake lets through"
    );
    let bin = fake_bin_dir("\"$REAL\" \"$@\" | head -c 20000\nexit 0\n");
    let run = my
        .db_backup("app", dir.path())
        .env("MYSQL_BIN_DIR", path_str(bin.path()))
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["incomplete", "Dump completed"]);
}

/// A dump that looks complete but whose tool exited non-zero: the exit status alone fails the run.
#[test]
fn complete_looking_dump_with_a_failed_exit_status_fails() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, before) = setup();
    let bin = fake_bin_dir(
        "\"$REAL\" \"$@\"\necho 'mariadb-dump: simulated failure after the last byte' >&2\nexit 2\n",
    );
    let run = my
        .db_backup("app", dir.path())
        .env("MYSQL_BIN_DIR", path_str(bin.path()))
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["simulated failure"]);
}

/// Options that would make the completeness check impossible are refused before anything runs (exit 2).
#[test]
fn mysqldump_args_without_the_trailer_are_refused() {
    let dir = backup_dir();
    let before = files::snapshot(dir.path());
    let run = crate::support::DbBackup::offline(dir.path())
        .env("DB_TYPE", "mysql")
        .env("MYSQLDUMP_ARGS", "--single-transaction --skip-comments")
        .run(&["backup-db"]);
    run.expect_code(2).expect_stderr_mentions(&[
        "MYSQLDUMP_ARGS",
        "--skip-comments",
        "Dump completed",
    ]);
    assert_eq!(files::snapshot(dir.path()), before);
}
