//! A drill of a backup kept only in a bucket: downloaded, drilled against the manifest stored beside it, and the
//! outcome recorded in that manifest in the bucket.

use crate::support::files::backup_dir;
use crate::support::s3::{S3Server, require_s3};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

#[test]
fn a_backup_only_in_a_bucket_is_drilled_with_its_manifest_from_there() {
    require_tools!(PG_SERVER);
    require_s3!();
    let s3 = S3Server::start();
    s3.bucket("drills");
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = s3
        .env("S3_", "drills", "db")
        .iter()
        .fold(DbBackup::for_server(&pg, "app", dir.path()), |c, (k, v)| {
            c.env(k, v)
        })
        .env("BACKUP_LOCAL", "false");
    cmd.run(&["backup-db"]).expect_success();
    let keys = s3.keys("drills");
    let manifest = keys
        .iter()
        .find(|k| k.ends_with(".manifest.json"))
        .unwrap_or_else(|| panic!("no manifest in {keys:?}"))
        .clone();

    let run = cmd.run(&["test-restore"]);
    run.expect_success();
    assert!(run.stdout.contains("matches the dump's"), "{run}");
    let text = String::from_utf8(s3.get("drills", &manifest)).unwrap();
    assert!(
        text.contains("\"passed\": true") && text.contains("\"public.people\": 4"),
        "{text}"
    );
    let list = cmd.run(&["list"]);
    assert!(list.stdout.contains("drill passed"), "{list}");
}
