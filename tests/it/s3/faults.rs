//! S3 faults, each against moto and s3s-fs: a wrong secret key and a missing bucket fail at once (no retries)
//! with a message naming the setting; a connection cut mid-upload or a dump that fails mid-upload leaves no
//! object, the upload is aborted (now, or at the next run when the store cannot be reached; a store without
//! ListMultipartUploads keeps it, with a warning naming the lifecycle rule that removes it), and the other
//! destinations keep their copies.

use std::time::Duration;

use crate::support::files::{self, backup_dir};
use crate::support::s3::{Faults, Kind, Proxy, S3Server, require_s3, s3_test};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

fn with_env(cmd: DbBackup, vars: &[(String, String)]) -> DbBackup {
    vars.iter().fold(cmd, |cmd, (k, v)| cmd.env(k, v))
}

fn remote_backups(s3: &S3Server, bucket: &str) -> Vec<String> {
    s3.keys(bucket)
        .into_iter()
        .filter(|k| k.contains(".sql") && !k.ends_with(".manifest.json"))
        .collect()
}

s3_test! {
fn a_wrong_secret_key_or_bucket_fails_at_once_naming_the_setting(kind: Kind) {
    require_tools!(PG_SERVER);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("vault");
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let base = with_env(
        DbBackup::for_server(&pg, "app", dir.path()),
        &s3.env("S3_", "vault", ""),
    );

    let run = base
        .clone()
        .env("S3_SECRET_KEY", "not-the-secret")
        .run(&["backup-db"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["S3_SECRET_KEY", "SignatureDoesNotMatch", "vault"]);
    assert!(
        !run.stderr.contains("retrying"),
        "a wrong key must not be retried:\n{run}"
    );
    assert!(
        !run.stderr.contains("not-the-secret"),
        "the secret leaked:\n{run}"
    );
    assert!(run.elapsed < Duration::from_secs(10), "{run}");
    // The store is left out, not the backup: the local copy is made, complete, and the run still fails.
    run.expect_stderr_mentions(&["the backup went to the other destinations (local)"]);
    let local = files::backups(dir.path());
    assert_eq!(local.len(), 1, "{local:?}\n{run}");
    files::check_artifacts(dir.path(), &local[0]);

    let run = base
        .clone()
        .env("S3_BACKUP_BUCKET", "no-such-bucket")
        .run(&["backup-db"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["S3_BACKUP_BUCKET", "does not exist"]);
    assert!(!run.stderr.contains("retrying"), "{run}");
}
}

s3_test! {
fn a_connection_cut_mid_upload_leaves_no_object_and_the_next_run_sweeps_the_upload(kind: Kind) {
    require_tools!(PG_SERVER);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("far");
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    // About 20 MB of dump that compression cannot shrink: several 5 MiB parts.
    pg.psql(
        "app",
        "CREATE TABLE noise AS SELECT g, md5(g::text) || md5((g * 7)::text) AS a FROM generate_series(1, 250000) g",
    );
    let proxy = Proxy::start(
        s3.port(),
        Faults {
            down_after_bytes: Some(8 * 1024 * 1024),
            ..Faults::default()
        },
    );
    let dir = backup_dir();
    let cmd = with_env(
        DbBackup::for_server(&pg, "app", dir.path()),
        &s3.env_via("S3_", "far", "pg", &proxy.endpoint()),
    )
    .env("BACKUP_COMPRESSION", "none")
    .env("S3_PART_SIZE", "5MiB")
    .env("S3_RETRY_SECONDS", "2");

    let run = cmd.run(&["backup-db"]);
    assert!(proxy.went_down(), "the proxy never cut the upload:\n{run}");
    run.expect_code(1).expect_stderr_mentions(&["s3", "local"]);
    assert!(
        remote_backups(&s3, "far").is_empty(),
        "a partial object appeared: {:?}",
        s3.keys("far")
    );
    // The local copy is complete and stays; the store could not be told to abort, so the upload waits.
    let name = files::only_backup(dir.path(), "pg");
    files::check_artifacts(dir.path(), &name);
    let stale = s3.uploads("far");
    assert_eq!(stale.len(), 1, "{stale:?}");

    proxy.heal();
    let next = cmd.run(&["backup-db"]);
    next.expect_success();
    assert_eq!(remote_backups(&s3, "far").len(), 2, "{:?}", s3.keys("far"));
    if kind == Kind::S3sFs {
        // No ListMultipartUploads: the store stays in use, the upload stays for the bucket's lifecycle rule.
        next.expect_stderr_mentions(&["ListMultipartUploads", "AbortIncompleteMultipartUpload"]);
        assert_eq!(s3.uploads("far"), stale);
    } else {
        assert!(s3.uploads("far").is_empty(), "the stale upload was not swept");
    }
}
}

s3_test! {
fn a_dump_failing_mid_upload_aborts_the_upload(kind: Kind) {
    require_tools!(&["head"][..]);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("cmd");
    let dir = backup_dir();
    // Through a proxy that passes everything, to see the requests.
    let proxy = Proxy::start(s3.port(), Faults::default());
    let cmd = with_env(
        DbBackup::bare(),
        &s3.env_via("S3_", "cmd", "", &proxy.endpoint()),
    )
    .env("DB_TYPE", "command")
    .env("BACKUP_DIR", dir.path().to_str().unwrap())
    .env("BACKUP_CMD", "head -c 12000000 /dev/urandom; exit 3")
    .env("BACKUP_COMPRESSION", "none")
    .env("S3_PART_SIZE", "5MiB");
    cmd.run(&["backup-db"]).expect_code(1);
    assert!(s3.keys("cmd").is_empty(), "{:?}", s3.keys("cmd"));
    assert!(s3.uploads("cmd").is_empty(), "the upload was not aborted");
    // A multipart upload was started and got a part before the dump failed, and was then aborted.
    let lines = proxy.request_lines();
    let saw = |method: &str, query: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(method) && l.contains(query))
    };
    assert!(
        saw("POST ", "?uploads"),
        "no multipart upload was started: {lines:#?}"
    );
    assert!(
        saw("PUT ", "partNumber=1&"),
        "no part was uploaded: {lines:#?}"
    );
    assert!(
        saw("DELETE ", "uploadId="),
        "the upload was not aborted: {lines:#?}"
    );
    assert!(
        files::names(dir.path())
            .iter()
            .all(|n| n.starts_with(".db-backup")),
        "{:?}",
        files::names(dir.path())
    );
}
}
