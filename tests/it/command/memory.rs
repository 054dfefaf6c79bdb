//! Memory with many threads: `BACKUP_THREADS=16` and gzip stay within the default `BACKUP_MEMORY_LIMIT`, alone
//! and with encryption and two S3 destinations at once (under generous bounds; the figures are measured by
//! scripts/bench.sh).

use crate::support::age::keygen;
use crate::support::s3::{S3Server, require_s3, s3_test};
use crate::support::{DbBackup, files, require_tools};

/// The largest resident size of any child this test process has waited for, in KiB.
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage(2) fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss
}

#[test]
fn sixteen_threads_of_gzip_stay_under_a_generous_bound() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Incompressible data: every member is as large as it gets.
    let cmd = DbBackup::bare()
        .env("BACKUP_CMD", "head -c 64000000 /dev/urandom")
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.path().to_str().expect("UTF-8 path"))
        .env("BACKUP_THREADS", "16")
        .env("TZ", "UTC");
    cmd.run(&["backup-db"]).expect_success();
    let names = files::names(dir.path());
    assert!(
        names.iter().any(|n| n.ends_with(".gz")),
        "no gzip backup: {names:?}"
    );
    let peak_mib = children_peak_kib() / 1024;
    eprintln!("db-backup peak RSS with 16 threads: {peak_mib} MiB");
    assert!(
        peak_mib < 72,
        "db-backup peaked at {peak_mib} MiB with 16 threads; the default budget keeps it near 50 (without a budget: over 80)"
    );
}

s3_test! {
fn sixteen_threads_encrypted_to_two_s3_destinations_stay_under_a_generous_bound(kind: Kind) {
    require_tools!(&["age-keygen"][..]);
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("first");
    s3.bucket("second");
    let dir = tempfile::tempdir().expect("temp dir");
    let key = keygen(dir.path(), "offsite");
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).expect("backup dir");
    // Incompressible: 8 parts of 5 MiB for each destination, so that parts fill while others upload.
    let mut cmd = DbBackup::bare()
        .env("BACKUP_CMD", "head -c 40000000 /dev/urandom")
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", backups.to_str().expect("UTF-8 path"))
        .env("BACKUP_THREADS", "16")
        .env("BACKUP_ENCRYPTION_RECIPIENTS", &key.public)
        .env("TZ", "UTC");
    for (k, v) in s3
        .env("S3_", "first", "")
        .into_iter()
        .chain(s3.env("S3_2_", "second", "copy"))
    {
        cmd = cmd.env(&k, &v);
    }
    cmd.run(&["backup-db"]).expect_success();
    // Read before the S3 server (a child too) stops and is waited for.
    let peak_mib = children_peak_kib() / 1024;
    for (bucket, prefix) in [("first", ""), ("second", "copy/")] {
        let keys = s3.keys(bucket);
        assert!(
            keys.iter()
                .any(|k| k.starts_with(prefix) && k.ends_with(".gz.age")),
            "no encrypted backup in {bucket}: {keys:?}"
        );
    }
    eprintln!("db-backup peak RSS with 16 threads, age and two S3 destinations: {peak_mib} MiB");
    assert!(
        peak_mib < 80,
        "db-backup peaked at {peak_mib} MiB with 16 threads, age and two S3 destinations; the default budget \
         keeps it near 50 in a release build"
    );
}
}
