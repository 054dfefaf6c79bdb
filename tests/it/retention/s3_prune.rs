//! `prune` on a bucket whose listing takes more than one page: the dry run changes nothing and labels each backup,
//! the real one deletes exactly those backups with their checksums and the orphan checksums of our series; against
//! moto and s3s-fs.

use std::collections::BTreeMap;

use crate::support::DbBackup;
use crate::support::files::backup_dir;
use crate::support::s3::{S3Server, require_s3, s3_test};

/// More keys than one listing page holds (S3 answers at most 1000 per page); they sort before our backups,
/// so our backups are only on the second page.
const FILLERS: usize = 1001;

const OURS: [&str; 3] = [
    "backups/pg-2020-01-01T03-00-00.sql.gz",
    "backups/pg-2020-01-02T03-00-00.sql.gz",
    "backups/pg-2020-01-03T03-00-00.sql.gz",
];
/// A checksum of our series whose backup never arrived (a crashed upload), and one of another series.
const OUR_ORPHAN: &str = "backups/pg-2020-01-05T03-00-00.sql.gz.sha256";
const FOREIGN_ORPHAN: &str = "backups/other-2020-01-05T03-00-00.sql.gz.sha256";

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                format!("s3:{}", k.trim_start_matches("backups/")),
                v.to_string(),
            )
        })
        .collect()
}

s3_test! {
fn prune_on_a_bucket_beyond_one_listing_page(kind: Kind) {
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("pages");
    let root = s3.client("pages", "");
    for i in 0..FILLERS {
        root.put(&format!("backups/a-filler-{i:04}"), b"x").unwrap();
    }
    for key in OURS {
        root.put(key, b"old bytes").unwrap();
        root.put(&format!("{key}.sha256"), b"x").unwrap();
    }
    root.put(OUR_ORPHAN, b"x").unwrap();
    root.put(FOREIGN_ORPHAN, b"x").unwrap();
    let before = s3.keys("pages");
    let first = before
        .iter()
        .position(|k| k == OURS[0])
        .expect("ours listed");
    assert!(
        first >= 1000,
        "our backups must sit beyond the first page: {first}"
    );

    let dir = backup_dir();
    let cmd = s3
        .env("S3_", "pages", "backups")
        .iter()
        .fold(DbBackup::offline(dir.path()), |c, (k, v)| c.env(k, v))
        .env("BACKUP_RETENTION_DAYS", "7");

    let dry = cmd.run(&["prune", "--dry-run"]);
    dry.expect_success();
    assert!(
        s3.keys("pages") == before,
        "a dry run changed the bucket:\n{dry}"
    );
    assert_eq!(
        dry.prune_labels(),
        labels(&[
            (OURS[0], "would delete"),
            (OURS[1], "would delete"),
            (OURS[2], "keep"),
        ]),
        "{dry}"
    );

    let real = cmd.run(&["prune"]);
    real.expect_success();
    assert_eq!(
        real.prune_labels(),
        labels(&[
            (OURS[0], "deleted"),
            (OURS[1], "deleted"),
            (OURS[2], "keep")
        ]),
        "{real}"
    );
    let gone = [
        OURS[0].to_string(),
        format!("{}.sha256", OURS[0]),
        OURS[1].to_string(),
        format!("{}.sha256", OURS[1]),
        OUR_ORPHAN.to_string(),
    ];
    let expected: Vec<String> = before.into_iter().filter(|k| !gone.contains(k)).collect();
    let after = s3.keys("pages");
    assert_eq!(after.len(), FILLERS + 3, "{:?}", &after[FILLERS..]);
    assert!(
        after == expected,
        "left in the bucket: {:?}",
        &after[FILLERS..]
    );
}
}
