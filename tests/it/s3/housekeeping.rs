//! The calls that only tidy up never make a store unusable: a key that may not list unfinished uploads (403 on
//! ListMultipartUploads) still gets the backup, and `prune` still runs, each with a warning naming the call and
//! the lifecycle rule that removes what interrupted backups leave. (A store that does not implement the call at
//! all, s3s-fs, is covered by every test in `s3_test!`.)

use rusqlite::Connection;

use crate::support::DbBackup;
use crate::support::files::{self, backup_dir};
use crate::support::s3::{Kind, S3Server, require_s3};

/// Against moto only: s3s-fs has no access policies to refuse one call with.
#[test]
fn a_key_that_may_not_list_unfinished_uploads_still_backs_up_with_a_warning() {
    require_s3!(Kind::Moto);
    let s3 = S3Server::moto_denying("s3:ListBucketMultipartUploads");
    s3.bucket("narrow");
    let data = tempfile::tempdir().unwrap();
    let db = data.path().join("app.db");
    Connection::open(&db)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"))
        .expect("create the database");
    let dir = backup_dir();
    let cmd = s3
        .env("S3_", "narrow", "db")
        .iter()
        .fold(DbBackup::bare(), |cmd, (k, v)| cmd.env(k, v))
        .env("DB_TYPE", "sqlite")
        .env("DB_PATH", db.to_str().unwrap())
        .env("DB_CONTAINER", "app")
        .env("BACKUP_DIR", dir.path().to_str().unwrap())
        .env("TZ", "UTC");

    let backup = cmd.run(&["backup-db"]);
    backup.expect_success().expect_stderr_mentions(&[
        "WARN",
        "ListMultipartUploads",
        "access denied",
        "AbortIncompleteMultipartUpload",
    ]);
    let made: Vec<String> = files::names(dir.path())
        .into_iter()
        .filter(|n| n.ends_with(".db.gz"))
        .collect();
    let [name] = made.as_slice() else {
        panic!("one backup expected: {made:?}")
    };
    assert_eq!(
        s3.keys("narrow"),
        [format!("db/{name}"), format!("db/{name}.sha256")]
    );
    cmd.run(&["prune"])
        .expect_success()
        .expect_stderr_mentions(&["ListMultipartUploads", "AbortIncompleteMultipartUpload"]);
    cmd.run(&["verify", "latest", "--from", "s3"])
        .expect_success();
}
