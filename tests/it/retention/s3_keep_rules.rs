//! The keep rules on a bucket and the local directory at once: the same decisions on both, per destination;
//! the dry run names the rule per file and changes neither; `prune` deletes the same backups from both;
//! against moto and s3s-fs.

use super::keep_rules::{SCENE, assert_said, with_rules};
use crate::support::DbBackup;
use crate::support::files::{self, backup_dir, plant_backup};
use crate::support::s3::{S3Server, require_s3, s3_test};

s3_test! {
fn keep_rules_decide_the_same_on_a_bucket_and_the_local_directory(kind: Kind) {
    require_s3!(kind);
    let s3 = S3Server::of(kind);
    s3.bucket("gfs");
    let root = s3.client("gfs", "");
    let dir = backup_dir();
    for (name, _, _) in SCENE {
        plant_backup(dir.path(), name);
        root.put(&format!("backups/{name}"), b"old bytes").unwrap();
        root.put(&format!("backups/{name}.sha256"), b"x").unwrap();
    }
    root.put("backups/notes.txt", b"not a backup").unwrap();
    let cmd = with_rules(
        s3.env("S3_", "gfs", "backups")
            .iter()
            .fold(DbBackup::offline(dir.path()), |c, (k, v)| c.env(k, v)),
    );
    let (keys_before, dir_before) = (s3.keys("gfs"), files::snapshot(dir.path()));

    let dry = cmd.run(&["prune", "--dry-run"]);
    dry.expect_success();
    assert_said(&dry, "", "would delete");
    assert_said(&dry, "s3:", "would delete");
    assert!(
        s3.keys("gfs") == keys_before,
        "a dry run changed the bucket:\n{dry}"
    );
    assert!(
        files::snapshot(dir.path()) == dir_before,
        "a dry run changed the directory:\n{dry}"
    );

    let real = cmd.run(&["prune"]);
    real.expect_success();
    assert_said(&real, "", "deleted");
    assert_said(&real, "s3:", "deleted");
    let kept: Vec<&str> = SCENE
        .iter()
        .filter(|(_, label, _)| *label == "keep")
        .map(|(name, _, _)| *name)
        .collect();
    let mut expected: Vec<String> = kept
        .iter()
        .flat_map(|n| [format!("backups/{n}"), format!("backups/{n}.sha256")])
        .chain(["backups/notes.txt".to_string()])
        .collect();
    expected.sort();
    assert_eq!(s3.keys("gfs"), expected, "{real}");
    let mut local: Vec<String> = kept.iter().map(|n| n.to_string()).collect();
    local.sort();
    assert_eq!(files::backups(dir.path()), local, "{real}");
}
}
