//! Retention on an rclone remote (sftp): after each backup the remote keeps `DB_BACKUP_MAX_N` backups with their
//! checksums, and leaves other series and foreign files alone; `prune --dry-run` labels remote copies
//! `rclone:<name>` and deletes nothing, `prune` deletes them.

use std::fs;

use super::{command_backup, data};
use crate::support::files::{self, backup_dir};
use crate::support::rclone::{ConfigFile, Protocol, RCLONE, Served, files_under};
use crate::support::require_tools;

#[test]
fn retention_prunes_on_the_remote() {
    require_tools!(RCLONE);
    let sftp = Served::start(Protocol::Sftp, "pw-retention");
    let config = ConfigFile::new(&[sftp.section("box", "pw-retention")]);
    let remote = sftp.root().join("keep");
    fs::create_dir_all(&remote).unwrap();
    let foreign = [
        "notes.txt",
        "other-2020-01-01T00-00-00.dump",
        "other-2020-01-01T00-00-00.dump.sha256",
    ];
    for name in foreign {
        fs::write(remote.join(name), b"not ours").unwrap();
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source.bin");
    fs::write(&source, data(200_000)).unwrap();
    let dir = backup_dir();
    let cmd = command_backup(dir.path(), &source, &work.path().join("r"))
        .env("RCLONE_CONFIG", config.path().to_str().unwrap())
        .env("RCLONE_REMOTE", "box:keep")
        .env("DB_BACKUP_MAX_N", "2");
    for _ in 0..3 {
        // Each backup in a second of its own: a name never runs ahead of the clock (which retention would
        // count differently).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(
            1050 - u64::from(now.subsec_millis()),
        ));
        cmd.run(&["backup-db"]).expect_success();
    }
    let ours = |names: Vec<String>| -> Vec<String> {
        names
            .into_iter()
            .filter(|n| n.starts_with("files-"))
            .collect()
    };
    let local = ours(files::names(dir.path()));
    assert_eq!(local.len(), 4, "{local:?}");
    assert_eq!(
        ours(files_under(&remote)),
        local,
        "the remote keeps what BACKUP_DIR keeps"
    );
    for name in foreign {
        assert!(remote.join(name).exists(), "{name} was deleted");
    }

    let strict = cmd.clone().env("DB_BACKUP_MAX_N", "1");
    let dry = strict.run(&["prune", "--dry-run"]);
    dry.expect_success();
    let labels = dry.prune_labels();
    let backups: Vec<&String> = local.iter().filter(|n| !n.ends_with(".sha256")).collect();
    assert_eq!(
        labels
            .get(&format!("rclone:{}", backups[0]))
            .map(String::as_str),
        Some("would delete"),
        "{dry}"
    );
    assert_eq!(
        labels
            .get(&format!("rclone:{}", backups[1]))
            .map(String::as_str),
        Some("keep"),
        "{dry}"
    );
    assert_eq!(
        ours(files_under(&remote)).len(),
        4,
        "a dry run deleted:\n{dry}"
    );

    let real = strict.run(&["prune"]);
    real.expect_success();
    let left = ours(files_under(&remote));
    assert_eq!(
        left,
        vec![backups[1].clone(), format!("{}.sha256", backups[1])],
        "{real}"
    );
    for name in foreign {
        assert!(remote.join(name).exists(), "{name} was deleted");
    }
}
