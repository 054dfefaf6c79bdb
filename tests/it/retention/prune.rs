//! `prune`: retention by age and count, only within its own series, never the newest, and a dry run.

use std::path::Path;

use chrono::{Duration, Utc};

use crate::support::DbBackup;
use crate::support::files::{self, backup_dir, plant_backup};

const OLD: [&str; 3] = [
    "pg-2001-01-01T00-00-00.sql.gz",
    "pg-2001-01-02T03-04-05.sql.gz",
    "pg-2001-01-03T00-00-00.sql.gz",
];
const OTHER_SERIES: [&str; 2] = [
    "pg-other-2001-01-01T00-00-00.sql.gz",
    "other-2001-01-01T00-00-00.sql.gz",
];
const FOREIGN: [&str; 2] = ["notes.txt", "pg-latest.sql.gz"];

/// A backup name of series `pg` from `days_ago` days before now (UTC, like the runs' TZ).
fn recent(days_ago: i64) -> String {
    format!(
        "pg-{}.sql.gz",
        (Utc::now() - Duration::days(days_ago)).format("%Y-%m-%dT%H-%M-%S")
    )
}

/// Old and recent backups of `pg`, old backups of other series, and files that are not backups.
fn plant_scene(dir: &Path, recent_names: &[String]) {
    for name in OLD
        .iter()
        .chain(&OTHER_SERIES)
        .map(|s| s.to_string())
        .chain(recent_names.iter().cloned())
    {
        plant_backup(dir, &name);
    }
    for name in FOREIGN {
        std::fs::write(dir.join(name), "not a backup").expect("write foreign file");
    }
}

/// Everything but the tool's own dotfiles, sorted.
fn remaining(dir: &Path) -> Vec<String> {
    files::names(dir)
        .into_iter()
        .filter(|n| !n.starts_with(".db-backup"))
        .collect()
}

/// What prune must leave: the kept backups of `pg` with their checksums, the other series' backups
/// with theirs, and the foreign files, sorted.
fn expected_after(kept: &[String]) -> Vec<String> {
    let backups = kept.iter().cloned().chain(OTHER_SERIES.map(String::from));
    let mut all: Vec<String> = backups.flat_map(|b| [format!("{b}.sha256"), b]).collect();
    all.extend(FOREIGN.map(String::from));
    all.sort();
    all
}

#[test]
fn prune_deletes_expired_backups_of_its_series_only() {
    let dir = backup_dir();
    let fresh = recent(1);
    plant_scene(dir.path(), std::slice::from_ref(&fresh));
    DbBackup::offline(dir.path())
        .run(&["prune"])
        .expect_success();

    assert_eq!(remaining(dir.path()), expected_after(&[fresh]));
}

#[test]
fn prune_never_deletes_the_newest_backup() {
    let dir = backup_dir();
    plant_scene(dir.path(), &[]);
    DbBackup::offline(dir.path())
        .run(&["prune"])
        .expect_success();

    assert_eq!(remaining(dir.path()), expected_after(&[OLD[2].to_string()]));
}

#[test]
fn prune_keeps_at_most_max_n_per_series() {
    let dir = backup_dir();
    let recents: Vec<String> = (1..=4).map(recent).collect();
    plant_scene(dir.path(), &recents);
    DbBackup::offline(dir.path())
        .env("DB_BACKUP_MAX_N", "2")
        .run(&["prune"])
        .expect_success();

    assert_eq!(remaining(dir.path()), expected_after(&recents[..2]));
}

#[test]
fn prune_dry_run_deletes_nothing_and_says_why() {
    let dir = backup_dir();
    let fresh = recent(1);
    plant_scene(dir.path(), std::slice::from_ref(&fresh));
    let before = files::snapshot(dir.path());

    let run = DbBackup::offline(dir.path()).run(&["prune", "--dry-run"]);
    run.expect_success();
    assert_eq!(
        files::snapshot(dir.path()),
        before,
        "a dry run must not change anything:\n{run}"
    );
    // Each backup of the series with its label, and nothing of other series or foreign files.
    let mut expected: std::collections::BTreeMap<String, String> = OLD
        .iter()
        .map(|n| (n.to_string(), "would delete".to_string()))
        .collect();
    expected.insert(fresh.clone(), "keep".to_string());
    assert_eq!(run.prune_labels(), expected, "{run}");
    let said = run.all_output();
    for name in OLD.iter().copied().chain([fresh.as_str()]) {
        assert!(
            said.contains(name),
            "the dry run does not mention {name}:\n{run}"
        );
    }
    let lower = said.to_lowercase();
    assert!(
        lower.contains("delet"),
        "the dry run should say what it would delete:\n{run}"
    );
    assert!(
        lower.contains("keep") || lower.contains("kept"),
        "the dry run should say what it keeps:\n{run}"
    );
}
