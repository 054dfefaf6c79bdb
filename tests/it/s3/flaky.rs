//! S3 slow, throttling, resetting and down, through a proxy on loopback, each against moto and s3s-fs: a slow store or one that answers 503
//! SlowDown or resets connections for a while still gets whole objects (retried within S3_RETRY_SECONDS); a store
//! down for longer fails the run in bounded time, naming it, with the local copy whole and nothing in the bucket.

use std::fs;
use std::io::Read;
use std::time::Duration;

use tempfile::TempDir;

use crate::support::DbBackup;
use crate::support::files::{self, backup_dir};
use crate::support::s3::{Faults, Kind, Proxy, S3Server, require_s3, s3_test};

const BUCKET: &str = "flaky";

/// One store behind a proxy, and a backup of a file of random bytes through it: the command engine, `cat` in
/// and out, no compression, 5 MiB parts.
struct Case {
    s3: S3Server,
    proxy: Proxy,
    dir: TempDir,
    work: TempDir,
    source: Vec<u8>,
}

impl Case {
    fn start(kind: Kind, faults: Faults, size: usize) -> Case {
        let s3 = S3Server::of(kind);
        s3.bucket(BUCKET);
        let proxy = Proxy::start(s3.port(), faults);
        let work = tempfile::tempdir().expect("work dir");
        let mut source = vec![0u8; size];
        fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut source))
            .expect("random bytes");
        fs::write(work.path().join("source"), &source).expect("write the source");
        Case {
            s3,
            proxy,
            dir: backup_dir(),
            work,
            source,
        }
    }

    fn cmd(&self, retry_seconds: u64) -> DbBackup {
        let work = self.work.path().to_str().expect("UTF-8 path");
        let cmd = DbBackup::bare()
            .env("DB_TYPE", "command")
            .env("DB_CONTAINER", "blob")
            .env("BACKUP_CMD", &format!("cat '{work}/source'"))
            .env("RESTORE_CMD", &format!("cat > '{work}/restored'"))
            .env("BACKUP_DIR", self.dir.path().to_str().expect("UTF-8 path"))
            .env("BACKUP_COMPRESSION", "none")
            .env("S3_PART_SIZE", "5MiB")
            .env("S3_RETRY_SECONDS", &retry_seconds.to_string())
            .env("TZ", "UTC");
        self.s3
            .env_via("S3_", BUCKET, "db", &self.proxy.endpoint())
            .iter()
            .fold(cmd, |cmd, (k, v)| cmd.env(k, v))
    }

    /// The one local backup, checked to hold the source and its checksum.
    fn local_backup(&self) -> String {
        let name = files::only_backup(self.dir.path(), "blob");
        let local = fs::read(self.dir.path().join(&name)).expect("read the local copy");
        assert!(
            local == self.source,
            "the local copy differs from the source"
        );
        let checksum = fs::read_to_string(self.dir.path().join(format!("{name}.sha256")))
            .expect("read the local checksum");
        assert_eq!(
            checksum,
            format!("{}  {name}\n", files::sha256_hex(&self.source))
        );
        name
    }

    /// The backup is in the bucket whole, beside its checksum, and no upload is left open.
    fn assert_stored(&self) {
        let name = self.local_backup();
        let object = format!("db/{name}");
        assert_eq!(
            self.s3.keys(BUCKET),
            [object.clone(), format!("{object}.sha256")]
        );
        let remote = self.s3.get(BUCKET, &object);
        assert!(
            remote == self.source,
            "the object differs from the local copy ({} bytes, not {})",
            remote.len(),
            self.source.len()
        );
        let checksum = String::from_utf8(self.s3.get(BUCKET, &format!("{object}.sha256")))
            .expect("UTF-8 checksum");
        assert_eq!(
            checksum,
            format!("{}  {name}\n", files::sha256_hex(&self.source))
        );
        assert!(
            self.s3.uploads(BUCKET).is_empty(),
            "{:?}",
            self.s3.uploads(BUCKET)
        );
    }
}

s3_test! {
fn a_slow_store_gets_the_whole_backup_and_restores_from_it(kind: Kind) {
    require_s3!(kind);
    // 8 ms per 16 KiB: about 2 MB/s each way, so that the upload and the download take seconds.
    let case = Case::start(
        kind,
        Faults {
            delay: Duration::from_millis(8),
            ..Faults::default()
        },
        8_000_000,
    );
    let cmd = case.cmd(5);
    let run = cmd.run(&["backup-db"]);
    run.expect_success();
    assert!(
        run.elapsed > Duration::from_secs(2),
        "the proxy did not slow the upload:\n{run}"
    );
    case.assert_stored();

    let run = cmd.run(&["restore", "latest", "--from", "s3"]);
    run.expect_success();
    let restored = fs::read(case.work.path().join("restored")).expect("read the restored file");
    assert!(
        restored == case.source,
        "the restore from the bucket differs from the source ({} bytes, not {})",
        restored.len(),
        case.source.len()
    );
}
}

s3_test! {
fn a_store_answering_503_slow_down_for_a_while_gets_the_whole_backup(kind: Kind) {
    require_s3!(kind);
    // Every other request from the first, 8 times: each kind of request (listing, starting the upload, parts,
    // checksum, completion) gets one 503.
    let case = Case::start(
        kind,
        Faults {
            slow_downs: 8,
            ..Faults::default()
        },
        8_000_000,
    );
    let run = case.cmd(5).run(&["backup-db"]);
    run.expect_success()
        .expect_stderr_mentions(&["SlowDown", "retrying"]);
    assert_eq!(case.proxy.slow_downs(), 8, "{run}");
    case.assert_stored();
}
}

s3_test! {
fn a_store_resetting_connections_mid_upload_for_a_while_gets_the_whole_backup(kind: Kind) {
    require_s3!(kind);
    // At the second part, every open connection is cut and new ones are reset, for 2.5 s: less than the
    // 5 s that S3_RETRY_SECONDS gives each request.
    let case = Case::start(
        kind,
        Faults {
            down_at: Some("partNumber=2&"),
            down_for: Some(Duration::from_millis(2500)),
            ..Faults::default()
        },
        12_000_000,
    );
    let run = case.cmd(5).run(&["backup-db"]);
    run.expect_success().expect_stderr_mentions(&["retrying"]);
    assert!(case.proxy.went_down(), "the proxy never went down:\n{run}");
    assert!(
        run.elapsed > Duration::from_millis(2500),
        "the backup cannot have waited out the outage:\n{run}"
    );
    case.assert_stored();
}
}

s3_test! {
fn a_store_down_longer_than_the_retry_budget_fails_the_run_in_bounded_time(kind: Kind) {
    require_s3!(kind);
    // Down from the first request: the run fails before the dump.
    let case = Case::start(
        kind,
        Faults {
            down_at: Some(""),
            ..Faults::default()
        },
        8_000_000,
    );
    let run = case.cmd(3).run(&["backup-db"]);
    run.expect_code(1).expect_stderr_mentions(&[
        case.proxy.endpoint().as_str(),
        BUCKET,
        "S3_RETRY_SECONDS=3",
        "retrying",
    ]);
    // Retried until the 3 s budget was spent, and not much longer.
    assert!(
        run.elapsed >= Duration::from_millis(2900) && run.elapsed < Duration::from_secs(9),
        "{run}"
    );
    assert!(case.s3.keys(BUCKET).is_empty());
    // The store is left out, not the backup: the local copy is made and stays.
    run.expect_stderr_mentions(&["the backup went to the other destinations (local)"]);
    let made = case.local_backup();
    for file in [made.clone(), format!("{made}.sha256")] {
        fs::remove_file(case.dir.path().join(file)).expect("remove the first run's copy");
    }

    // Down from the start of the upload, after the checks: the local copy is made and stays.
    let proxy = Proxy::start(
        case.s3.port(),
        Faults {
            down_at: Some("POST "),
            ..Faults::default()
        },
    );
    let case = Case { proxy, ..case };
    let run = case.cmd(3).run(&["backup-db"]);
    assert!(case.proxy.went_down(), "the proxy never went down:\n{run}");
    run.expect_code(1).expect_stderr_mentions(&[
        case.proxy.endpoint().as_str(),
        BUCKET,
        "S3_RETRY_SECONDS=3",
        "the copies in local are complete and stay",
    ]);
    // Retried until the 3 s budget was spent, and not much longer.
    assert!(
        run.elapsed >= Duration::from_millis(2900) && run.elapsed < Duration::from_secs(12),
        "{run}"
    );
    case.local_backup();
    assert!(
        case.s3.keys(BUCKET).is_empty(),
        "{:?}",
        case.s3.keys(BUCKET)
    );
    assert!(
        case.s3.uploads(BUCKET).is_empty(),
        "{:?}",
        case.s3.uploads(BUCKET)
    );
}
}
