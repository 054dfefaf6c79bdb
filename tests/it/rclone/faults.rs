//! An rclone server that dies mid-upload: nothing that looks like a backup is left on it, `BACKUP_DIR` still
//! gets its copy, and the next backup (the server back) removes the unfinished upload. A stop signal mid-upload
//! kills rclone with the backup.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::files::{self, backup_dir};
use crate::support::rclone::{ConfigFile, Protocol, RCLONE, Served, files_under};
use crate::support::service::children_of;
use crate::support::{DbBackup, require_tools};

/// A producer of about 10 MiB over several seconds, one process (`exec`), so that a stop that kills it leaves
/// no child of the shell behind.
const SLOW: &str = "exec perl -e 'for (1..80) { print pack(\"N*\", map { int(rand(2**32)) } 1..32768); \
                    select(undef, undef, undef, 0.05) }'";

fn slow_backup(dir: &Path) -> DbBackup {
    DbBackup::bare()
        .env("BACKUP_CMD", SLOW)
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.to_str().unwrap())
        .env("BACKUP_COMPRESSION", "none")
        .env("TZ", "UTC")
}

/// Waits until an unfinished upload of at least `bytes` is in `folder`.
fn wait_for_partial(folder: &Path, bytes: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let growing = files_under(folder).iter().any(|f| {
            f.ends_with(".partial") && fs::metadata(folder.join(f)).is_ok_and(|m| m.len() >= bytes)
        });
        if growing {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no upload under way in {}: {:?}",
            folder.display(),
            files_under(folder)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn looks_like_a_backup(file: &str) -> bool {
    let base = file.rsplit('/').next().unwrap_or(file);
    files::is_backup_name(base) || base.ends_with(".sha256")
}

#[test]
fn a_server_killed_mid_upload_leaves_no_backup_and_the_others_get_theirs() {
    require_tools!(RCLONE, &["sh", "perl"]);
    let mut sftp = Served::start(Protocol::Sftp, "pw-killed");
    let config = ConfigFile::new(&[sftp.section("box", "pw-killed")]);
    let remote = sftp.root().join("backups");
    let dir = backup_dir();
    let cmd = slow_backup(dir.path())
        .env("RCLONE_CONFIG", config.path().to_str().unwrap())
        .env("RCLONE_REMOTE", "box:backups");
    let running = cmd.spawn(&["backup-db"]);
    wait_for_partial(&remote, 512 * 1024);
    sftp.kill();
    let run = running.wait(Duration::from_secs(120));
    eprintln!("the backup ended {:?} after its start", run.elapsed);
    run.expect_code(1).expect_stderr_mentions(&[
        "rclone remote box:backups",
        "the copies in local are complete",
    ]);

    let name = files::only_backup(dir.path(), "files");
    let bytes = fs::read(dir.path().join(&name)).unwrap();
    assert_eq!(bytes.len(), 80 * 131072);
    assert_eq!(
        fs::read_to_string(dir.path().join(format!("{name}.sha256"))).unwrap(),
        format!("{}  {name}\n", files::sha256_hex(&bytes))
    );
    let left = files_under(&remote);
    assert!(!left.iter().any(|f| looks_like_a_backup(f)), "{left:?}");

    // The server is back: the next backup removes the unfinished upload and stores its own.
    sftp.restart();
    let again = cmd.run(&["backup-db"]);
    eprintln!("the next backup took {:?}", again.elapsed);
    again.expect_success();
    if left.iter().any(|f| f.ends_with(".partial")) {
        assert!(
            again
                .stderr
                .contains("removing what an interrupted backup left"),
            "{again}"
        );
    }
    let newest = files::backups(dir.path()).pop().unwrap();
    assert_eq!(
        files_under(&remote),
        vec![newest.clone(), format!("{newest}.sha256")]
    );
}

#[test]
fn a_stop_signal_mid_upload_kills_rclone() {
    require_tools!(RCLONE, &["sh", "perl"]);
    let sftp = Served::start(Protocol::Sftp, "pw-stopped");
    let config = ConfigFile::new(&[sftp.section("box", "pw-stopped")]);
    let remote = sftp.root().join("backups");
    let dir = backup_dir();
    let running = slow_backup(dir.path())
        .env("RCLONE_CONFIG", config.path().to_str().unwrap())
        .env("RCLONE_REMOTE", "box:backups")
        .spawn(&["backup-db"]);
    wait_for_partial(&remote, 256 * 1024);
    let rclone: Vec<u32> = children_of(running.id())
        .into_iter()
        .filter(|(_, name)| name == "rclone")
        .map(|(pid, _)| pid)
        .collect();
    assert!(!rclone.is_empty(), "no rclone child of db-backup");
    running.signal(libc::SIGTERM);
    let run = running.wait(Duration::from_secs(60));
    assert_ne!(run.code, Some(0), "{run}");
    for pid in rclone {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() {
            let state = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if state.contains(") Z ") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "rclone {pid} outlived the stopped backup:\n{run}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let left = files_under(&remote);
    assert!(!left.iter().any(|f| looks_like_a_backup(f)), "{left:?}");
    assert!(
        files::backups(dir.path()).is_empty(),
        "{:?}",
        files::names(dir.path())
    );
}
