//! The keep rules (`BACKUP_KEEP_*`) at the command line on real files: `prune --dry-run` names the rule that keeps
//! each file and changes nothing, `prune` deletes exactly the rest, a second `prune` deletes nothing, `backup-db`
//! applies the same rules (and nothing after a failed run), and limits that would cut a rule short are refused.

use std::path::Path;

use crate::support::files::{self, backup_dir, plant_backup};
use crate::support::{DbBackup, Run, require_tools};

/// A series `pg` around the new year 2021 (Monday 2021-01-04 starts ISO week 2021-W01; 2021-01-01..03 are in
/// 2020-W53), with the label each backup gets under [`RULES`] and what its reason must say.
pub const SCENE: [(&str, &str, &str); 10] = [
    (
        "pg-2021-01-04T15-00-00.sql.gz",
        "keep",
        "newest complete backup of series pg: always kept; also BACKUP_KEEP_DAILY 2021-01-04, \
         BACKUP_KEEP_WEEKLY 2021-W01, BACKUP_KEEP_MONTHLY 2021-01, BACKUP_KEEP_YEARLY 2021",
    ),
    (
        "pg-2021-01-04T03-00-00.sql.gz",
        "delete",
        "day 2021-01-04 has a newer backup",
    ),
    (
        "pg-2021-01-03T03-00-00.sql.gz",
        "keep",
        "kept by BACKUP_KEEP_DAILY 2021-01-03, BACKUP_KEEP_WEEKLY 2020-W53",
    ),
    (
        "pg-2021-01-02T03-00-00.sql.gz",
        "keep",
        "kept by BACKUP_KEEP_DAILY 2021-01-02",
    ),
    (
        "pg-2021-01-01T12-00-00.sql.gz",
        "delete",
        "day 2021-01-01 is beyond the newest 3 days",
    ),
    (
        "pg-2021-01-01T00-30-00.sql.gz",
        "delete",
        "year 2021 has a newer backup",
    ),
    (
        "pg-2020-12-31T03-00-00.sql.gz",
        "keep",
        "kept by BACKUP_KEEP_MONTHLY 2020-12, BACKUP_KEEP_YEARLY 2020",
    ),
    (
        "pg-2020-12-30T03-00-00.sql.gz",
        "delete",
        "month 2020-12 has a newer backup",
    ),
    (
        "pg-2020-11-30T03-00-00.sql.gz",
        "delete",
        "month 2020-11 is beyond the newest 2 months",
    ),
    (
        "pg-2019-12-31T03-00-00.sql.gz",
        "delete",
        "year 2019 is beyond the newest 2 years",
    ),
];

pub const RULES: [(&str, &str); 4] = [
    ("BACKUP_KEEP_DAILY", "3"),
    ("BACKUP_KEEP_WEEKLY", "2"),
    ("BACKUP_KEEP_MONTHLY", "2"),
    ("BACKUP_KEEP_YEARLY", "2"),
];

pub fn with_rules(cmd: DbBackup) -> DbBackup {
    RULES.iter().fold(cmd, |c, (k, v)| c.env(k, v))
}

/// Checks that `run` printed, for each backup of [`SCENE`] (under `place`, e.g. `s3:`), its label (`keep`, or
/// `delete_label` for the others) and its reason.
pub fn assert_said(run: &Run, place: &str, delete_label: &str) {
    for (name, label, reason) in SCENE {
        let label = if label == "keep" {
            "keep"
        } else {
            delete_label
        };
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains(&format!("  {place}{name}  (")))
            .unwrap_or_else(|| panic!("nothing said of {place}{name}:\n{run}"));
        assert!(
            line.starts_with(label) && line.contains(reason),
            "{place}{name}: expected {label:?} and {reason:?}, got {line:?}"
        );
    }
}

fn kept_names() -> Vec<&'static str> {
    SCENE
        .iter()
        .filter(|(_, label, _)| *label == "keep")
        .map(|(name, _, _)| *name)
        .collect()
}

fn plant(dir: &Path) {
    for (name, _, _) in SCENE {
        plant_backup(dir, name);
    }
}

#[test]
fn prune_keeps_what_the_rules_keep_and_names_the_rule() {
    let dir = backup_dir();
    plant(dir.path());
    std::fs::write(dir.path().join("notes.txt"), "not a backup").unwrap();
    let before = files::snapshot(dir.path());
    // Tokyo is 9 hours ahead of UTC: a period taken from the instant in UTC instead of the names' wall clock
    // would put the morning backups in the day, week, month or year before.
    let cmd = with_rules(DbBackup::offline(dir.path())).env("TZ", "Asia/Tokyo");

    let dry = cmd.run(&["prune", "--dry-run"]);
    dry.expect_success();
    assert_said(&dry, "", "would delete");
    assert!(
        files::snapshot(dir.path()) == before,
        "a dry run changed the directory:\n{dry}"
    );

    let real = cmd.run(&["prune"]);
    real.expect_success();
    assert_said(&real, "", "deleted");
    let mut expected: Vec<String> = kept_names()
        .into_iter()
        .flat_map(|n| [n.to_string(), format!("{n}.sha256")])
        .chain(["notes.txt".to_string()])
        .collect();
    expected.sort();
    let left: Vec<String> = files::names(dir.path())
        .into_iter()
        .filter(|n| !n.starts_with(".db-backup"))
        .collect();
    assert_eq!(left, expected, "{real}");

    // What is left is what the rules keep: a second prune deletes nothing.
    let again = cmd.run(&["prune"]);
    again.expect_success();
    assert!(
        again.prune_labels().values().all(|l| l == "keep"),
        "{again}"
    );
}

#[test]
fn limits_that_would_cut_a_rule_short_are_refused() {
    let dir = backup_dir();
    plant(dir.path());
    let before = files::snapshot(dir.path());
    let cases = [
        (
            "BACKUP_RETENTION_DAYS",
            "7",
            &[
                "BACKUP_RETENTION_DAYS",
                "BACKUP_KEEP_YEARLY=2",
                "at least 732",
            ][..],
        ),
        (
            "DB_BACKUP_MAX_N",
            "5",
            &["DB_BACKUP_MAX_N", "up to 9", "at least 9"][..],
        ),
    ];
    for (var, value, said) in cases {
        for command in ["prune", "backup-db"] {
            let run = with_rules(DbBackup::offline(dir.path()))
                .env(var, value)
                .run(&[command]);
            run.expect_code(2).expect_stderr_mentions(said);
            assert!(
                files::snapshot(dir.path()) == before,
                "{command} with {var}={value} changed the directory:\n{run}"
            );
        }
    }
    // Limits that leave room for the rules are accepted.
    with_rules(DbBackup::offline(dir.path()))
        .env("BACKUP_RETENTION_DAYS", "0")
        .env("DB_BACKUP_MAX_N", "9")
        .run(&["prune", "--dry-run"])
        .expect_success();
}

#[test]
fn backup_db_applies_the_rules_and_a_failed_run_prunes_nothing() {
    require_tools!(&["sh"][..]);
    let dir = backup_dir();
    plant(dir.path());
    let before = files::snapshot(dir.path());
    let command = |backup_cmd: &str| {
        with_rules(DbBackup::offline(dir.path()))
            .env("DB_TYPE", "command")
            .env("BACKUP_NAME", "sql")
            .env("BACKUP_CMD", backup_cmd)
    };

    let failed = command("printf 'half a dump'; exit 3").run(&["backup-db"]);
    files::assert_failed_cleanly(&failed, dir.path(), &before, &["status 3"]);

    let run = command("echo complete").run(&["backup-db"]);
    run.expect_success();
    // The new backup takes today, this week, month and year: of the old ones the daily rule keeps the two
    // newest days, and the weekly, monthly and yearly rules the newest of 2021.
    let new = files::backups(dir.path())
        .into_iter()
        .filter(|n| !SCENE.iter().any(|(s, _, _)| s == n))
        .collect::<Vec<_>>();
    assert_eq!(new.len(), 1, "{new:?}\n{run}");
    let mut expected = vec![
        new[0].clone(),
        "pg-2021-01-04T15-00-00.sql.gz".to_string(),
        "pg-2021-01-03T03-00-00.sql.gz".to_string(),
    ];
    expected.sort();
    assert_eq!(files::backups(dir.path()), expected, "{run}");
}

/// The README's worked example, run: its `keep` lines are exactly what `prune --dry-run` keeps.
#[test]
fn the_readme_worked_example_is_what_prune_says() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let example = readme
        .split("A worked example:")
        .nth(1)
        .and_then(|rest| rest.split("```").nth(1))
        .expect("the README's worked example");
    let documented: Vec<&str> = example.lines().filter(|l| l.starts_with("keep")).collect();
    assert_eq!(documented.len(), 13, "{example}");

    let dir = backup_dir();
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 5, 1).expect("a date");
    while day <= chrono::NaiveDate::from_ymd_opt(2026, 12, 2).expect("a date") {
        for hour in ["03", "15"] {
            plant_backup(dir.path(), &format!("app-{day}T{hour}-00-00.sql.gz"));
        }
        day = day.succ_opt().expect("a date");
    }
    let run = DbBackup::offline(dir.path())
        .env("DB_CONTAINER", "app")
        .env("TZ", "Europe/Berlin")
        .env("BACKUP_KEEP_DAILY", "7")
        .env("BACKUP_KEEP_WEEKLY", "4")
        .env("BACKUP_KEEP_MONTHLY", "6")
        .run(&["prune", "--dry-run"]);
    run.expect_success();
    let said: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("keep"))
        .collect();
    assert_eq!(said, documented, "{run}");
    for line in example.lines().filter(|l| l.starts_with("would delete")) {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "not said: {line}\n{run}"
        );
    }
}
