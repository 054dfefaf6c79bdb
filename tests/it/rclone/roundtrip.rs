//! One backup into four rclone destinations at once (the local backend, sftp, webdav, and a union of sftp and
//! webdav) besides `BACKUP_DIR`: each holds the backup and its checksum under their final names and nothing
//! else; `list` and `verify` see every copy; `restore latest --from` each one gives back the source.

use std::fs;

use super::{command_backup, data};
use crate::support::files::{self, backup_dir};
use crate::support::rclone::{ConfigFile, Protocol, RCLONE, Served, files_under, pointer_under};
use crate::support::require_tools;

const UNION: &str =
    "[both]\ntype = union\nupstreams = box:mirror dav:mirror\ncreate_policy = all\n\n";

#[test]
fn round_trip_through_local_sftp_webdav_and_a_union() {
    require_tools!(RCLONE);
    let sftp = Served::start(Protocol::Sftp, "sftp-password");
    let dav = Served::start(Protocol::Webdav, "dav-password");
    let config = ConfigFile::new(&[
        sftp.section("box", "sftp-password"),
        dav.section("dav", "dav-password"),
        UNION.to_string(),
    ]);
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source.bin");
    let restored = work.path().join("restored.bin");
    let plain = work.path().join("plain");
    let bytes = data(3 << 20);
    fs::write(&source, &bytes).unwrap();
    let dir = backup_dir();
    let cmd = command_backup(dir.path(), &source, &restored)
        .env("RCLONE_CONFIG", config.path().to_str().unwrap())
        .env("RCLONE_REMOTE", &format!(":local:{}", plain.display()))
        .env("RCLONE_2_REMOTE", "box:backups")
        .env("RCLONE_3_REMOTE", "dav:backups/db")
        .env("RCLONE_4_REMOTE", "both:db");
    let run = cmd.run(&["backup-db"]);
    run.expect_success();
    assert!(
        run.stderr
            .contains("destinations=local,rclone,rclone_2,rclone_3,rclone_4"),
        "{run}"
    );

    let name = files::only_backup(dir.path(), "files");
    let checksum = format!("{name}.sha256");
    assert_eq!(fs::read(dir.path().join(&name)).unwrap(), bytes);
    let checksum_text = fs::read_to_string(dir.path().join(&checksum)).unwrap();
    for folder in [
        plain.clone(),
        sftp.root().join("backups"),
        dav.root().join("backups/db"),
        sftp.root().join("mirror/db"),
        dav.root().join("mirror/db"),
    ] {
        assert_eq!(
            files_under(&folder),
            vec![name.clone(), checksum.clone()],
            "{}",
            folder.display()
        );
        assert!(
            fs::read(folder.join(&name)).unwrap() == bytes,
            "{}",
            folder.display()
        );
        assert_eq!(
            fs::read_to_string(folder.join(&checksum)).unwrap(),
            checksum_text
        );
        assert_eq!(
            pointer_under(&folder, "files").as_deref(),
            Some(name.as_str()),
            "the latest pointer in {}",
            folder.display()
        );
    }

    let list = cmd.run(&["list"]);
    list.expect_success();
    for dest in ["local", "rclone", "rclone_2", "rclone_3", "rclone_4"] {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.contains(&name) && l.split_whitespace().any(|w| w == dest)),
            "{dest}:\n{list}"
        );
    }
    assert!(list.stdout.contains("rclone_4 (rclone both:db)"), "{list}");
    let verify = cmd.run(&["verify", "all"]);
    verify.expect_success();
    for dest in ["rclone", "rclone_2", "rclone_3", "rclone_4"] {
        assert!(
            verify.stdout.contains(&format!("ok      {dest}:{name}")),
            "{dest}:\n{verify}"
        );
    }
    for dest in ["rclone", "rclone_2", "rclone_3", "rclone_4"] {
        let _ = fs::remove_file(&restored);
        let restore = cmd.run(&["restore", "latest", "--from", dest]);
        restore.expect_success();
        assert!(
            restore.stderr.contains(&format!("from=\"{dest}\"")),
            "{restore}"
        );
        assert!(
            fs::read(&restored).unwrap() == bytes,
            "restore --from {dest}"
        );
    }
    // The latest pointer names the backup on a remote as the local link does.
    let by_pointer = cmd.run(&["verify", "files-latest", "--from", "rclone_2"]);
    by_pointer.expect_success();
    assert!(
        by_pointer.stdout.contains(&format!("rclone_2:{name}")),
        "{by_pointer}"
    );
    // The downloads made for the restores are gone.
    assert_eq!(
        files::names(dir.path())
            .iter()
            .filter(|n| n.starts_with(".db-backup-spool"))
            .count(),
        0
    );
}

#[test]
fn a_remote_rclone_does_not_know_is_named_with_rclones_words() {
    require_tools!(RCLONE);
    let config = ConfigFile::new(&["[known]\ntype = local\n\n".to_string()]);
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source.bin");
    fs::write(&source, data(10_000)).unwrap();
    let dir = backup_dir();
    let cmd = command_backup(dir.path(), &source, &work.path().join("r"))
        .env("RCLONE_CONFIG", config.path().to_str().unwrap())
        .env("RCLONE_2_REMOTE", "nosuch-remote:db");
    let run = cmd.run(&["backup-db"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "rclone_2",
        "rclone remote nosuch-remote:db",
        "didn't find section in config file",
        "RCLONE_CONFIG_NOSUCH_REMOTE_TYPE",
        "RCLONE_2_REMOTE",
    ]);
    // The local copy is made all the same.
    files::only_backup(dir.path(), "files");
    let list = cmd.run(&["list"]);
    list.expect_success();
    assert!(
        list.stdout.contains("rclone_2: cannot be listed") && list.stdout.contains("nosuch-remote"),
        "{list}"
    );
}
