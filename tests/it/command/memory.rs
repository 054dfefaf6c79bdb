//! Memory with many threads: `BACKUP_THREADS=16` and gzip stay within the default `BACKUP_MEMORY_LIMIT`
//! (under a generous bound; the figures are measured by scripts/bench.sh).

use crate::support::{DbBackup, files};

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
