//! Encrypted backups: written in the age format (the real `age -d` opens them), restored and verified by us with
//! the identity file or the passphrase, and refused before the database is touched when the key is wrong.

use crate::support::age::{decrypt_with_cli, decrypt_with_cli_passphrase, keygen};
use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

const TRAILER: &str = "-- PostgreSQL database dump complete";

#[test]
fn recipients_backup_opens_with_age_and_restores_with_the_identity() {
    require_tools!(PG_SERVER, &["age", "age-keygen", "sha256sum"]);
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let keys = tempfile::tempdir().unwrap();
    let ours = keygen(keys.path(), "ours");
    let offsite = keygen(keys.path(), "offsite");
    // Two recipients, separated by a comma and a space: either identity opens the backup.
    let cmd = DbBackup::for_server(&pg, "app", dir.path()).env(
        "BACKUP_ENCRYPTION_RECIPIENTS",
        &format!("{}, {}", ours.public, offsite.public),
    );
    cmd.run(&["backup-db"]).expect_success();
    let name = files::names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".sql.gz.age"))
        .expect("an encrypted backup named .sql.gz.age");
    let path = dir.path().join(&name);
    // The checksum is of the stored, encrypted file.
    let said = files::run_tool(dir.path(), "sha256sum", &["-c", &format!("{name}.sha256")]);
    assert_eq!(said.trim(), format!("{name}: OK"));
    assert_eq!(files::mode(&path), 0o600);
    let raw = std::fs::read(&path).unwrap();
    assert!(raw.starts_with(b"age-encryption.org/v1\n"));
    for identity in [&ours.identity, &offsite.identity] {
        let plain = String::from_utf8(decrypt_with_cli(&path, identity)).unwrap();
        assert!(plain.contains(TRAILER), "age -d gave no complete dump");
    }

    // Without a key the sidecar cannot read its own backups: that is the point.
    cmd.run(&["verify", "latest"])
        .expect_code(1)
        .expect_output_mentions_any(&["BACKUP_ENCRYPTION_IDENTITY_FILE"]);
    let reader = cmd.clone().env(
        "BACKUP_ENCRYPTION_IDENTITY_FILE",
        ours.identity.to_str().unwrap(),
    );
    reader.run(&["verify", "latest"]).expect_success();
    fixture::assert_latest_restores_as(&reader, &pg, &source);
    assert!(
        reader
            .run(&["list"])
            .expect_success()
            .stdout
            .contains(&name)
    );
}

#[test]
fn a_wrong_or_missing_identity_fails_before_the_database_is_touched() {
    require_tools!(PG_SERVER, &["age-keygen"]);
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let keys = tempfile::tempdir().unwrap();
    let ours = keygen(keys.path(), "ours");
    let stranger = keygen(keys.path(), "stranger");
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_ENCRYPTION_RECIPIENTS", &ours.public);
    cmd.run(&["backup-db"]).expect_success();

    let wrong = cmd.clone().env(
        "BACKUP_ENCRYPTION_IDENTITY_FILE",
        stranger.identity.to_str().unwrap(),
    );
    let run = wrong.run(&["restore", "latest", "--database", "copy"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["does not match", "stranger.txt"]);
    assert!(
        !pg.db_exists("copy"),
        "a failed decryption must not create the database"
    );
    wrong
        .run(&["verify", "latest"])
        .expect_code(1)
        .expect_output_mentions_any(&["does not match"]);

    let run = cmd.run(&["restore", "latest", "--database", "copy"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["no key is configured", "BACKUP_ENCRYPTION_IDENTITY_FILE"]);
    assert!(!pg.db_exists("copy"));

    // A damaged encrypted chunk is caught before the restore starts, like any damaged file, even with
    // --no-verify (every chunk is authenticated first).
    let name = files::names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".age"))
        .unwrap();
    let path = dir.path().join(&name);
    let len = std::fs::metadata(&path).unwrap().len();
    files::flip_byte(&path, len - 100);
    let right = cmd.clone().env(
        "BACKUP_ENCRYPTION_IDENTITY_FILE",
        ours.identity.to_str().unwrap(),
    );
    right
        .run(&["restore", "latest", "--database", "copy", "--no-verify"])
        .expect_code(1);
    assert!(!pg.db_exists("copy"));
}

#[test]
fn passphrase_backups_restore_and_the_passphrase_is_never_shown() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let secrets = tempfile::tempdir().unwrap();
    let passphrase = "correct-horse-battery-staple-7f3a";
    let file = secrets.path().join("passphrase");
    std::fs::write(&file, format!("{passphrase}\n")).unwrap();
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_COMPRESSION", "zstd")
        .env("BACKUP_ENCRYPTION_PASSPHRASE_FILE", file.to_str().unwrap());
    let backup = cmd.run(&["backup-db"]);
    backup.expect_success();
    let name = files::names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".sql.zst.age"))
        .expect("an encrypted backup named .sql.zst.age");
    let config = cmd.run(&["config"]);
    config.expect_success();
    assert!(
        config
            .stdout
            .contains("BACKUP_ENCRYPTION_PASSPHRASE=[redacted]"),
        "{config}"
    );
    let restore = cmd.run(&["restore", &name, "--database", "copy"]);
    restore.expect_success();
    assert_eq!(pg.dump("copy"), source);
    for run in [&backup, &config, &restore] {
        assert!(
            !run.all_output().contains(passphrase),
            "the passphrase leaked:\n{run}"
        );
    }

    let wrong = secrets.path().join("wrong");
    std::fs::write(&wrong, "not-it").unwrap();
    cmd.clone()
        .env("BACKUP_ENCRYPTION_PASSPHRASE_FILE", wrong.to_str().unwrap())
        .run(&["restore", &name, "--database", "copy2"])
        .expect_code(1)
        .expect_stderr_mentions(&["BACKUP_ENCRYPTION_PASSPHRASE"]);
    assert!(!pg.db_exists("copy2"));
}

/// A passphrase-mode backup is standard age: the real `age -d`, given the passphrase (without the file's final
/// newline), opens it; and `restore --to-file` writes the same plain dump.
#[test]
fn passphrase_backup_opens_with_age_and_to_file_writes_its_dump() {
    require_tools!(PG_SERVER, &["age", "script"]);
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let secrets = tempfile::tempdir().unwrap();
    let passphrase = "open-sesame-42-d9c1";
    let file = secrets.path().join("passphrase");
    std::fs::write(&file, format!("{passphrase}\n")).unwrap();
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("BACKUP_ENCRYPTION_PASSPHRASE_FILE", file.to_str().unwrap());
    cmd.run(&["backup-db"]).expect_success();
    let name = files::names(dir.path())
        .into_iter()
        .find(|n| n.ends_with(".sql.gz.age"))
        .expect("an encrypted backup named .sql.gz.age");
    let path = dir.path().join(&name);
    assert!(
        std::fs::read(&path)
            .unwrap()
            .starts_with(b"age-encryption.org/v1\n")
    );

    let plain = decrypt_with_cli_passphrase(&path, passphrase);
    let text = String::from_utf8(plain.clone()).expect("UTF-8 dump");
    assert!(text.contains(TRAILER), "age -d gave no complete dump");
    fixture::assert_has_markers(&text);

    let target = secrets.path().join("app.sql");
    cmd.run(&["restore", "latest", "--to-file", target.to_str().unwrap()])
        .expect_success();
    let written = std::fs::read(&target).expect("read the written dump");
    assert!(
        written == plain,
        "--to-file wrote other bytes than age -d opens"
    );
}
