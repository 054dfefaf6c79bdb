//! Retention on a bucket, against moto and s3s-fs: per destination, over what is really there, strictly inside
//! the destination's prefix and this configuration's series. Stale multipart uploads of our own series are
//! swept, others' are not; a store without ListMultipartUploads (s3s-fs) keeps them all, with a warning.

use crate::support::files::{self, backup_dir};
use crate::support::s3::{Kind, S3Server, require_s3, s3_test};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

s3_test! {
fn retention_on_a_bucket_touches_only_our_series_under_our_prefix(kind: Kind) {
    require_tools!(PG_SERVER);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("shared");
    let root = s3.client("shared", "");
    let ours_old: Vec<String> = (1..=3)
        .map(|d| format!("backups/pg-2020-01-0{d}T03-00-00.sql.gz"))
        .collect();
    let foreign = [
        "backups-old/pg-2020-01-01T03-00-00.sql.gz",
        "backups-old/pg-2020-01-01T03-00-00.sql.gz.sha256",
        "backups/other-2020-01-01T03-00-00.sql.gz",
        "backups/other-2020-01-01T03-00-00.sql.gz.sha256",
        "backups/notes.txt",
        "backups/archive/pg-2020-01-01T03-00-00.sql.gz",
        "pg-2020-01-01T03-00-00.sql.gz",
    ];
    for key in ours_old.iter().map(String::as_str).chain(foreign) {
        root.put(key, b"old bytes").unwrap();
    }
    for key in &ours_old {
        root.put(&format!("{key}.sha256"), b"x").unwrap();
    }
    // An upload of ours that a crash left unfinished, and one of someone else's.
    root.create_multipart("backups/pg-2020-01-04T03-00-00.sql.gz")
        .unwrap();
    root.create_multipart("backups-old/pg-2020-01-04T03-00-00.sql.gz")
        .unwrap();

    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = s3
        .env("S3_", "shared", "backups")
        .iter()
        .fold(DbBackup::for_server(&pg, "app", dir.path()), |c, (k, v)| {
            c.env(k, v)
        })
        .env("BACKUP_RETENTION_DAYS", "7")
        .env("DB_BACKUP_MAX_N", "2");
    let before = s3.keys("shared");
    assert!(before.len() > ours_old.len(), "{before:?}");
    let dry = cmd.run(&["prune", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout.contains("s3:pg-2020-01-01T03-00-00.sql.gz"),
        "{dry}"
    );
    assert!(
        s3.keys("shared") == before,
        "a dry run changed the bucket:\n{dry}"
    );
    let labels: std::collections::BTreeMap<String, String> = [
        ("s3:pg-2020-01-01T03-00-00.sql.gz", "would delete"),
        ("s3:pg-2020-01-02T03-00-00.sql.gz", "would delete"),
        ("s3:pg-2020-01-03T03-00-00.sql.gz", "keep"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(dry.prune_labels(), labels, "{dry}");

    let backup = cmd.run(&["backup-db"]);
    backup.expect_success();
    let name = files::only_backup(dir.path(), "pg");
    let keys = s3.keys("shared");
    for key in foreign {
        assert!(
            keys.contains(&key.to_string()),
            "{key} must not be touched: {keys:?}"
        );
    }
    for key in &ours_old {
        assert!(!keys.contains(key), "{key} is past retention: {keys:?}");
        assert!(
            !keys.contains(&format!("{key}.sha256")),
            "{key}.sha256 goes with it: {keys:?}"
        );
    }
    assert!(keys.contains(&format!("backups/{name}")));
    let mut left = vec!["backups-old/pg-2020-01-04T03-00-00.sql.gz".to_string()];
    if kind == Kind::S3sFs {
        backup.expect_stderr_mentions(&["ListMultipartUploads", "AbortIncompleteMultipartUpload"]);
        left.push("backups/pg-2020-01-04T03-00-00.sql.gz".to_string());
    }
    assert_eq!(s3.uploads("shared"), left, "{backup}");
}
}
