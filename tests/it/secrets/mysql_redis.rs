//! Secrets across engines (PostgreSQL has its own tests in `postgres.rs`): the MySQL and Redis passwords are on
//! no command line while a backup or a restore runs (every `/proc/*/cmdline` is read, over and over, for the
//! whole run), in no dump or restore tool's environment, and never in stdout or stderr (debug level, text and
//! JSON logs) or in `config` output, whether given as `DB_PASSWORD` or `DB_PASSWORD_FILE`.

use std::collections::BTreeSet;
use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::files::backup_dir;
use crate::support::mariadb::{self, MariaDb};
use crate::support::pg::random_hex;
use crate::support::redis::{REDIS_SERVER, RedisServer, fill_for_a_slow_transfer};
use crate::support::runner::Running;
use crate::support::service::path_str;
use crate::support::{DbBackup, Run, my_fixture, require_tools};

/// What the process table showed while a run worked.
#[derive(Debug, Default)]
struct Seen {
    /// `pid: command line` of every process whose command line held the password.
    exposed: BTreeSet<String>,
    /// Names of the processes the run started (its dump and restore tools).
    children: BTreeSet<String>,
    /// Children whose environment held the password.
    in_environment: BTreeSet<String>,
    /// How many times the whole process table was read while the run was alive.
    sweeps: usize,
}

/// Reads every process's command line, and the environment of the run's children, until the run ends.
struct ProcWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Seen>,
}

impl ProcWatch {
    fn start(run_pid: u32, secret: &str) -> ProcWatch {
        let secret = secret.as_bytes().to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let me = std::process::id();
        let thread = std::thread::spawn(move || {
            let mut seen = Seen::default();
            let ppid = format!("PPid:\t{run_pid}\n");
            while !flag.load(Ordering::SeqCst) {
                for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
                    let Some(pid) = entry
                        .file_name()
                        .to_str()
                        .and_then(|p| p.parse::<u32>().ok())
                    else {
                        continue;
                    };
                    if pid == me {
                        continue;
                    }
                    let path = entry.path();
                    let Ok(cmdline) = fs::read(path.join("cmdline")) else {
                        continue;
                    };
                    if contains(&cmdline, &secret) {
                        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        seen.exposed.insert(format!("{pid}: {text}"));
                    }
                    let child = fs::read_to_string(path.join("status"))
                        .is_ok_and(|status| status.contains(&ppid));
                    if child {
                        let name = fs::read_to_string(path.join("comm")).unwrap_or_default();
                        let name = name.trim().to_string();
                        if fs::read(path.join("environ")).is_ok_and(|env| contains(&env, &secret)) {
                            seen.in_environment.insert(name.clone());
                        }
                        seen.children.insert(name);
                    }
                }
                seen.sweeps += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            seen
        });
        ProcWatch { stop, thread }
    }

    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the /proc watcher")
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs `cmd args` with the process table watched for the whole run; fails on any exposure.
fn watched(cmd: &DbBackup, args: &[&str], secret: &str) -> (Run, Seen) {
    let running: Running = cmd.spawn(args);
    let watch = ProcWatch::start(running.id(), secret);
    let run = running.wait(Duration::from_secs(120));
    let seen = watch.finish();
    run.expect_success();
    assert_hidden(&run, secret);
    assert!(
        seen.exposed.is_empty(),
        "the password is on command lines during `{}`: {:?}",
        args.join(" "),
        seen.exposed
    );
    assert!(
        seen.in_environment.is_empty(),
        "the password is in the environment of {:?}",
        seen.in_environment
    );
    assert!(seen.sweeps > 3, "the run was barely watched: {seen:?}");
    (run, seen)
}

fn assert_hidden(run: &Run, secret: &str) {
    assert!(
        !run.all_output().contains(secret),
        "the password was printed:\n{run}"
    );
}

/// The same configuration with the password in a file instead, and JSON logs.
fn by_file(cmd: &DbBackup, secret: &str) -> (DbBackup, TempDir) {
    let secrets = tempfile::tempdir().expect("temp dir");
    let file = secrets.path().join("db_password");
    fs::write(&file, format!("{secret}\n")).expect("write password file");
    let cmd = cmd
        .clone()
        .without("DB_PASSWORD")
        .env("DB_PASSWORD_FILE", path_str(&file))
        .env("LOG_FORMAT", "json");
    (cmd, secrets)
}

fn config_hides(cmd: &DbBackup, secret: &str) {
    let config = cmd.run(&["config"]);
    config.expect_success();
    assert_hidden(&config, secret);
    assert!(
        config.stdout.contains("[redacted]"),
        "config should show that a password is set:\n{config}"
    );
}

#[test]
fn mysql_password_stays_out_of_command_lines_logs_and_config() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my_fixture::create(&my, "app");
    // Enough rows that the dump lasts a while under the watcher.
    my.sql(
        Some("app"),
        "CREATE TABLE big (id INT PRIMARY KEY, payload CHAR(32)) ENGINE=InnoDB;
         INSERT INTO big SELECT seq, MD5(seq) FROM seq_1_to_100000;",
    );
    let secret = my.password().to_string();
    let dir = backup_dir();
    // The tools go through wrappers that write down their arguments and environment: MariaDB's tools
    // overwrite a password in their own command line at once, so /proc alone could miss one passed there.
    let (bin, seen_by_tools) = recording_bin_dir(&["mariadb-dump", "mariadb"]);
    let cmd = my
        .db_backup("app", dir.path())
        .env("LOG_LEVEL", "debug")
        .env("MYSQL_BIN_DIR", path_str(bin.path()));
    let (file_cmd, _secrets) = by_file(&cmd, &secret);

    config_hides(&cmd, &secret);
    config_hides(&file_cmd, &secret);
    let (_, seen) = watched(&cmd, &["backup-db"], &secret);
    assert!(
        seen.children
            .iter()
            .any(|c| c == "mariadb-dump" || c == "mysqldump"),
        "the dump tool was never seen: {seen:?}"
    );
    watched(&file_cmd, &["backup-db"], &secret);
    let (_, seen) = watched(
        &file_cmd,
        &["restore", "latest", "--database", "copy"],
        &secret,
    );
    assert!(
        seen.children.iter().any(|c| c == "mariadb" || c == "mysql"),
        "the restore client was never seen: {seen:?}"
    );
    assert_eq!(
        my.table_count("copy"),
        my.table_count("app"),
        "the restore is incomplete"
    );
    let recorded = fs::read_to_string(&seen_by_tools).expect("the tools' record");
    for tool in ["mariadb-dump", "mariadb"] {
        assert!(
            recorded.contains(&format!("tool: {tool}\n")),
            "{tool} was not called through its wrapper:\n{recorded}"
        );
    }
    assert!(
        !recorded.contains(&secret),
        "the password reached a tool's arguments or environment:\n{recorded}"
    );
}

/// A directory of wrappers for `tools` that append their arguments and environment to a file, wait a second,
/// then run the real tool; returns the directory and the file. The wait keeps each tool in the process table
/// (under its own name) long enough for the watcher to see it even when a busy machine slows its sweeps.
fn recording_bin_dir(tools: &[&str]) -> (TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().expect("temp bin dir");
    let record = bin.path().join("record.txt");
    for tool in tools {
        let real = crate::support::tools::path(tool);
        let script = format!(
            "#!/bin/sh\n{{ echo 'tool: {tool}'; printf 'arg: %s\\n' \"$@\"; env | sed 's/^/env: /'; }} >> '{record}'\n\
             sleep 1\nexec '{real}' \"$@\"\n",
            record = record.display(),
            real = real.display(),
        );
        let path = bin.path().join(tool);
        fs::write(&path, script).expect("write wrapper");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod wrapper");
    }
    (bin, record)
}

#[test]
fn redis_password_stays_out_of_command_lines_logs_and_config() {
    require_tools!(REDIS_SERVER);
    let server = RedisServer::start();
    let mut conn = server.conn();
    // A transfer of about a second, each key saved with a delay.
    fill_for_a_slow_transfer(&mut conn, 5_000, 50);
    // Set at run time, so that it is not on the server's own command line.
    let secret = format!("S3cr-et_{}", random_hex(8));
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg(&secret)
        .query::<()>(&mut conn)
        .expect("CONFIG SET requirepass");
    let dir = backup_dir();
    let cmd = server
        .db_backup(dir.path())
        .env("DB_PASSWORD", &secret)
        .env("LOG_LEVEL", "debug");
    let (file_cmd, _secrets) = by_file(&cmd, &secret);

    config_hides(&cmd, &secret);
    config_hides(&file_cmd, &secret);
    let (run, _) = watched(&cmd, &["backup-db"], &secret);
    assert!(
        run.elapsed > Duration::from_millis(500),
        "the transfer was too quick to watch:\n{run}"
    );
    watched(&file_cmd, &["backup-db"], &secret);

    // A restore into the emptied server.
    let url = format!("redis://:{secret}@127.0.0.1:{}/", server.port_string());
    let mut conn = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connect with the password");
    redis::cmd("FLUSHALL")
        .query::<()>(&mut conn)
        .expect("FLUSHALL");
    watched(&file_cmd, &["restore", "latest"], &secret);
    let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).expect("DBSIZE");
    assert_eq!(keys, 5_000, "the restore is incomplete");
}
