//! rclone's secrets (`RCLONE_CONFIG_<NAME>_PASS` and `pass` in rclone.conf) reach rclone through its
//! environment and config file only: never its command line (read from /proc while it uploads), never a log
//! line at debug level, never an error, even when the password is wrong and rclone says so. rclone does not get
//! db-backup's own settings.

use std::fs;
use std::time::{Duration, Instant};

use super::{command_backup, data};
use crate::support::files::backup_dir;
use crate::support::rclone::{ConfigFile, Protocol, RCLONE, Served, obscure};
use crate::support::service::children_of;
use crate::support::{DbBackup, Run, require_tools};

/// A producer of about 6 MiB over a few seconds, so that rclone can be looked at while it works.
const SLOW: &str =
    "i=0; while [ $i -lt 50 ]; do head -c 131072 /dev/urandom; sleep 0.05; i=$((i+1)); done";

fn with_env(cmd: DbBackup, vars: &[(String, String)]) -> DbBackup {
    vars.iter().fold(cmd, |cmd, (k, v)| cmd.env(k, v))
}

fn assert_no_secret(run: &Run, secrets: &[&str]) {
    let all = run.all_output();
    for secret in secrets {
        assert!(!all.contains(secret), "{secret:?} leaked:\n{run}");
    }
}

#[test]
fn secrets_stay_out_of_argv_logs_and_errors() {
    require_tools!(RCLONE, &["sh", "head"]);
    let sftp = Served::start(Protocol::Sftp, "sftp-right-pw-1");
    let dav = Served::start(Protocol::Webdav, "dav-right-pw-2");
    let right = sftp.env_remote("boxenv", "sftp-right-pw-1");
    let right_obscured = right[2].1.clone();
    let dir = backup_dir();
    let cmd = with_env(
        DbBackup::bare()
            .env("BACKUP_CMD", SLOW)
            .env("DB_CONTAINER", "files")
            .env("BACKUP_DIR", dir.path().to_str().unwrap())
            .env("TZ", "UTC")
            .env("LOG_LEVEL", "debug")
            .env("RCLONE_CONFIG", "/nonexistent/rclone.conf")
            .env("RCLONE_REMOTE", "boxenv:backups"),
        &right,
    );
    let running = cmd.spawn(&["backup-db"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let rcat = loop {
        let found = children_of(running.id())
            .into_iter()
            .find_map(|(pid, name)| {
                let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                (name == "rclone" && String::from_utf8_lossy(&cmdline).contains("rcat"))
                    .then_some(pid)
            });
        if let Some(pid) = found {
            break pid;
        }
        assert!(Instant::now() < deadline, "no rclone rcat seen");
        std::thread::sleep(Duration::from_millis(10));
    };
    let cmdline = String::from_utf8_lossy(&fs::read(format!("/proc/{rcat}/cmdline")).unwrap())
        .replace('\0', " ");
    let environ = String::from_utf8_lossy(&fs::read(format!("/proc/{rcat}/environ")).unwrap())
        .replace('\0', "\n");
    let run = running.wait(Duration::from_secs(120));
    run.expect_success();
    assert!(cmdline.contains("boxenv:backups/.files-"), "{cmdline}");
    for secret in ["sftp-right-pw-1", right_obscured.as_str()] {
        assert!(
            !cmdline.contains(secret),
            "on rclone's command line: {cmdline}"
        );
    }
    assert!(
        environ.contains(&format!("RCLONE_CONFIG_BOXENV_PASS={right_obscured}")),
        "not passed to rclone"
    );
    assert!(
        environ.contains("RCLONE_CONFIG=/nonexistent/rclone.conf"),
        "not passed to rclone"
    );
    for ours in ["BACKUP_CMD=", "BACKUP_DIR=", "RCLONE_REMOTE="] {
        assert!(
            !environ.lines().any(|l| l.starts_with(ours)),
            "rclone was given {ours}"
        );
    }
    assert_no_secret(&run, &["sftp-right-pw-1", &right_obscured]);

    // A wrong password in RCLONE_CONFIG_*: rclone's refusal reaches the user, the password does not.
    let wrong = obscure("dav-wrong-pw-3");
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("s");
    fs::write(&source, data(50_000)).unwrap();
    let mut vars = dav.env_remote("davenv", "dav-right-pw-2");
    vars[2].1 = wrong.clone();
    let refused = with_env(
        command_backup(dir.path(), &source, &work.path().join("r")),
        &vars,
    )
    .env("LOG_LEVEL", "debug")
    .env("RCLONE_CONFIG", "/nonexistent/rclone.conf")
    .env("RCLONE_REMOTE", "davenv:db")
    .run(&["backup-db"]);
    eprintln!("refused by webdav in {:?}", refused.elapsed);
    refused
        .expect_code(1)
        .expect_stderr_mentions(&["rclone remote davenv:db", "401"]);
    assert_no_secret(&refused, &["dav-wrong-pw-3", &wrong, "dav-right-pw-2"]);

    // A wrong password in rclone.conf: the same.
    let config = ConfigFile::new(&[sftp.section("box", "sftp-wrong-pw-4")]);
    let in_file = fs::read_to_string(config.path()).unwrap();
    let file_obscured = in_file
        .lines()
        .find_map(|l| l.strip_prefix("pass = "))
        .unwrap()
        .to_string();
    let cmd = command_backup(dir.path(), &source, &work.path().join("r"))
        .env("LOG_LEVEL", "debug")
        .env("RCLONE_CONFIG", config.path().to_str().unwrap())
        .env("RCLONE_REMOTE", "box:backups");
    let refused = cmd.run(&["backup-db"]);
    eprintln!("refused by sftp in {:?}", refused.elapsed);
    refused
        .expect_code(1)
        .expect_stderr_mentions(&["rclone remote box:backups", "unable to authenticate"]);
    assert_no_secret(&refused, &["sftp-wrong-pw-4", &file_obscured]);
    let shown = cmd.run(&["config"]);
    shown.expect_success();
    assert!(shown.stdout.contains("box:backups"), "{shown}");
    assert_no_secret(&shown, &["sftp-wrong-pw-4", &file_obscured]);
}
