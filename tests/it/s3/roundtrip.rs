//! Backups to S3-compatible stores, each against moto and s3s-fs: a round trip through a bucket alone, two
//! buckets at once with age encryption and no local copy, zstd with passphrase encryption, `list`, `verify` and
//! `restore --from` on remote copies. s3s-fs lacks ListMultipartUploads: the backup goes on with a warning that
//! names the call and the lifecycle rule that replaces it.

use crate::support::age::{decrypt_with_cli, decrypt_with_cli_passphrase, keygen};
use crate::support::files::{self, backup_dir};
use crate::support::s3::{Kind, S3Server, require_s3, s3_test};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

fn with_env(cmd: DbBackup, vars: &[(String, String)]) -> DbBackup {
    vars.iter().fold(cmd, |cmd, (k, v)| cmd.env(k, v))
}

s3_test! {
fn round_trip_through_s3_alone(kind: Kind) {
    require_tools!(PG_SERVER);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("backups");
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = with_env(
        DbBackup::for_server(&pg, "app", dir.path()),
        &s3.env("S3_", "backups", "nightly/db"),
    );
    let backup = cmd.run(&["backup-db"]);
    backup.expect_success();
    assert_housekeeping_warning(kind, &backup);

    let name = files::only_backup(dir.path(), "pg");
    let keys = s3.keys("backups");
    let object = format!("nightly/db/{name}");
    assert_eq!(
        keys,
        vec![
            object.clone(),
            format!("{object}.manifest.json"),
            format!("{object}.sha256")
        ],
        "{keys:?}"
    );
    let local = std::fs::read(dir.path().join(&name)).unwrap();
    assert_eq!(
        s3.get("backups", &object),
        local,
        "the remote copy differs from the local one"
    );
    let checksum = String::from_utf8(s3.get("backups", &format!("{object}.sha256"))).unwrap();
    assert_eq!(checksum, format!("{}  {name}\n", files::sha256_hex(&local)));

    // The local copy is gone: list, verify and restore use the bucket.
    for entry in files::names(dir.path()) {
        let _ = std::fs::remove_file(dir.path().join(entry));
    }
    let list = cmd.run(&["list"]);
    list.expect_success();
    assert!(
        list.stdout
            .lines()
            .any(|l| l.contains(&name) && l.contains("s3")),
        "{list}"
    );
    let verify = cmd.run(&["verify", "all"]);
    verify.expect_success();
    assert!(
        verify.stdout.contains(&format!("ok      s3:{name}")),
        "{verify}"
    );
    fixture::assert_latest_restores_as(&cmd, &pg, &source);
    cmd.run(&["restore", "latest", "--from", "s3", "--database", "again"])
        .expect_success();
    assert_eq!(pg.dump("again"), source, "restore latest --from s3");
    // The download used for the restore is gone.
    assert!(
        files::names(dir.path())
            .iter()
            .all(|n| !n.starts_with(".db-backup-spool-"))
    );
}
}

/// A store without ListMultipartUploads (s3s-fs) gets a warning naming the call and the lifecycle rule that
/// replaces the sweep; one with it (moto) gets none.
fn assert_housekeeping_warning(kind: Kind, run: &crate::support::Run) {
    let warned = run.stderr.contains("ListMultipartUploads")
        && run.stderr.contains("AbortIncompleteMultipartUpload");
    assert_eq!(warned, kind == Kind::S3sFs, "{kind:?}:\n{run}");
    if warned {
        assert!(run.stderr.contains("WARN"), "not a warning:\n{run}");
    }
}

s3_test! {
fn two_remotes_at_once_encrypted_without_a_local_copy(kind: Kind) {
    require_tools!(PG_SERVER, &["age", "age-keygen"]);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("first");
    s3.bucket("second");
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let keys = tempfile::tempdir().unwrap();
    let key = keygen(keys.path(), "offsite");
    let stranger = keygen(keys.path(), "stranger");
    let mut vars = s3.env("S3_", "first", "");
    vars.extend(s3.env("S3_2_", "second", "db/pg"));
    let cmd = with_env(DbBackup::for_server(&pg, "app", dir.path()), &vars)
        .env("BACKUP_LOCAL", "false")
        .env("BACKUP_ENCRYPTION_RECIPIENTS", &key.public);
    cmd.run(&["backup-db"]).expect_success();

    assert!(
        files::backups(dir.path()).is_empty(),
        "BACKUP_LOCAL=false must leave no local copy"
    );
    let first = s3.keys("first");
    let second = s3.keys("second");
    assert_eq!(first.len(), 3, "{first:?}");
    let name = first[0].clone();
    assert!(name.ends_with(".sql.gz.age"), "{name}");
    assert_eq!(
        second,
        vec![
            format!("db/pg/{name}"),
            format!("db/pg/{name}.manifest.json"),
            format!("db/pg/{name}.sha256")
        ]
    );
    // Each remote copy is a standard age file that the age tool opens with the identity.
    for (bucket, key_name) in [("first", name.clone()), ("second", format!("db/pg/{name}"))] {
        let stored = s3.get(bucket, &key_name);
        let path = dir.path().join(format!("download-{bucket}-{name}"));
        std::fs::write(&path, &stored).unwrap();
        let plain = String::from_utf8(decrypt_with_cli(&path, &key.identity)).unwrap();
        assert!(plain.contains("-- PostgreSQL database dump complete"));
        std::fs::remove_file(&path).unwrap();
    }

    let wrong = cmd.clone().env(
        "BACKUP_ENCRYPTION_IDENTITY_FILE",
        stranger.identity.to_str().unwrap(),
    );
    wrong
        .run(&["restore", "latest", "--from", "s3_2", "--database", "copy"])
        .expect_code(1)
        .expect_stderr_mentions(&["does not match"]);
    assert!(
        !pg.db_exists("copy"),
        "a wrong identity must not touch the database"
    );

    let reader = cmd.env(
        "BACKUP_ENCRYPTION_IDENTITY_FILE",
        key.identity.to_str().unwrap(),
    );
    reader
        .run(&["restore", &name, "--from", "s3_2", "--database", "copy"])
        .expect_success();
    assert_eq!(pg.dump("copy"), source);
    reader
        .run(&["verify", "latest", "--from", "s3"])
        .expect_success();
    reader
        .run(&["restore", "latest", "--from", "nowhere"])
        .expect_code(2)
        .expect_stderr_mentions(&["s3_2"]);
}
}

s3_test! {
/// zstd, passphrase encryption and a bucket alone, together: the object is `.sql.zst.age`, the standard age tool
/// opens it with the passphrase into zstd holding the dump, and `restore latest` and `--to-file` bring back the
/// source from the bucket.
fn zstd_and_passphrase_encryption_through_s3(kind: Kind) {
    require_tools!(PG_SERVER, &["age", "script"]);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("sealed");
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let secrets = tempfile::tempdir().unwrap();
    let passphrase = "zstd-over-s3-5b7e";
    let file = secrets.path().join("passphrase");
    std::fs::write(&file, passphrase).unwrap();
    let cmd = with_env(
        DbBackup::for_server(&pg, "app", dir.path()),
        &s3.env("S3_", "sealed", "pg"),
    )
    .env("BACKUP_LOCAL", "false")
    .env("BACKUP_COMPRESSION", "zstd")
    .env("BACKUP_ENCRYPTION_PASSPHRASE_FILE", file.to_str().unwrap());
    cmd.run(&["backup-db"]).expect_success();

    assert!(files::backups(dir.path()).is_empty(), "no local copy");
    let keys = s3.keys("sealed");
    assert_eq!(keys.len(), 3, "{keys:?}");
    let object = keys[0].clone();
    let name = object
        .strip_prefix("pg/")
        .expect("under the prefix")
        .to_string();
    assert!(name.ends_with(".sql.zst.age"), "{name}");
    assert_eq!(keys[1], format!("{object}.manifest.json"));
    assert_eq!(keys[2], format!("{object}.sha256"));
    let stored = s3.get("sealed", &object);
    assert!(stored.starts_with(b"age-encryption.org/v1\n"));
    let path = secrets.path().join(&name);
    std::fs::write(&path, &stored).unwrap();
    let plain = decrypt_with_cli_passphrase(&path, passphrase);
    let text = String::from_utf8(plain.clone()).expect("UTF-8 dump");
    assert!(
        text.contains("-- PostgreSQL database dump complete"),
        "no complete dump"
    );
    fixture::assert_has_markers(&text);

    fixture::assert_latest_restores_as(&cmd, &pg, &source);
    let target = secrets.path().join("app.sql");
    cmd.run(&["restore", "latest", "--to-file", target.to_str().unwrap()])
        .expect_success();
    assert!(
        std::fs::read(&target).unwrap() == plain,
        "--to-file wrote other bytes than age -d opens"
    );
}
}
