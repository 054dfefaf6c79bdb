//! Tests of the keep rules, one scene per rule, and of how they combine with each other and with the limits.

use super::*;
use chrono::{NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::Tz;
use chrono_tz::UTC;

/// A backup of series `app` taken at `local` ("YYYY-MM-DD HH:MM") on the wall clock of `tz`, named as the
/// program names it.
fn at(tz: Tz, local: &str) -> Candidate {
    let naive = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
    let taken_at = tz
        .from_local_datetime(&naive)
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    Candidate {
        file_name: format!("app-{}.sql.gz", naive.format("%Y-%m-%dT%H-%M-%S")),
        series: "app".into(),
        taken_at,
        complete: true,
    }
}

/// A backup at an instant given in UTC, named on the wall clock of `tz`.
fn at_utc(tz: Tz, utc: &str) -> Candidate {
    let naive = NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M").unwrap();
    let taken_at = Utc.from_utc_datetime(&naive);
    Candidate {
        file_name: format!(
            "app-{}.sql.gz",
            taken_at.with_timezone(&tz).format("%Y-%m-%dT%H-%M-%S")
        ),
        series: "app".into(),
        taken_at,
        complete: true,
    }
}

fn keep(hourly: u32, daily: u32, weekly: u32, monthly: u32, yearly: u32) -> Policy {
    Policy {
        max_age_days: 0,
        max_count: 0,
        keep: Keep {
            hourly,
            daily,
            weekly,
            monthly,
            yearly,
        },
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 20, 12, 0, 0).unwrap()
}

/// The names of the kept backups, newest first.
fn kept(ds: &[Decision]) -> Vec<&str> {
    ds.iter()
        .filter(|d| d.action == Action::Keep)
        .map(|d| d.file_name.as_str())
        .collect()
}

fn reason<'a>(ds: &'a [Decision], file_name: &str) -> &'a str {
    &ds.iter().find(|d| d.file_name == file_name).unwrap().reason
}

/// Backups every `step` from `first` to `last` (UTC instants).
fn every(tz: Tz, first: &str, last: &str, step: TimeDelta) -> Vec<Candidate> {
    let mut t = at_utc(UTC, first).taken_at;
    let end = at_utc(UTC, last).taken_at;
    let mut out = Vec::new();
    while t <= end {
        out.push(at_utc(tz, &t.format("%Y-%m-%d %H:%M").to_string()));
        t += step;
    }
    out
}

#[test]
fn hourly_keeps_the_newest_of_each_of_the_last_hours_with_a_backup() {
    // Every 20 minutes from 08:00 to 11:40, then nothing until 12:00 of the next check.
    let cs = every(
        UTC,
        "2027-01-20 08:00",
        "2027-01-20 11:40",
        TimeDelta::minutes(20),
    );
    let ds = plan(&cs, keep(3, 0, 0, 0, 0), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-20T11-40-00.sql.gz",
            "app-2027-01-20T10-40-00.sql.gz",
            "app-2027-01-20T09-40-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2027-01-20T10-40-00.sql.gz"),
        "kept by BACKUP_KEEP_HOURLY 2027-01-20 10h"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-20T10-20-00.sql.gz"),
        "kept by no rule: hour 2027-01-20 10h has a newer backup"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-20T08-40-00.sql.gz"),
        "kept by no rule: hour 2027-01-20 08h is beyond the newest 3 hours"
    );
}

#[test]
fn daily_reaches_past_days_without_a_backup() {
    // Three a day, January 10 to 19, but none on the 16th and 17th.
    let cs: Vec<Candidate> = (10..=19)
        .filter(|d| *d != 16 && *d != 17)
        .flat_map(|d| ["03:00", "11:00", "19:00"].map(|h| at(UTC, &format!("2027-01-{d} {h}"))))
        .collect();
    let ds = plan(&cs, keep(0, 5, 0, 0, 0), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-19T19-00-00.sql.gz",
            "app-2027-01-18T19-00-00.sql.gz",
            "app-2027-01-15T19-00-00.sql.gz",
            "app-2027-01-14T19-00-00.sql.gz",
            "app-2027-01-13T19-00-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2027-01-19T19-00-00.sql.gz"),
        "newest complete backup of series app: always kept; also BACKUP_KEEP_DAILY 2027-01-19"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-12T19-00-00.sql.gz"),
        "kept by no rule: day 2027-01-12 is beyond the newest 5 days"
    );
}

#[test]
fn weekly_uses_iso_weeks_across_the_new_year() {
    // Daily at 03:00 from Monday 2026-12-14 to Wednesday 2027-01-13. 2027-01-01..03 belong to 2026-W53.
    let cs = every(
        UTC,
        "2026-12-14 03:00",
        "2027-01-13 03:00",
        TimeDelta::days(1),
    );
    let ds = plan(&cs, keep(0, 0, 4, 0, 0), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-13T03-00-00.sql.gz",
            "app-2027-01-10T03-00-00.sql.gz",
            "app-2027-01-03T03-00-00.sql.gz",
            "app-2026-12-27T03-00-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2027-01-03T03-00-00.sql.gz"),
        "kept by BACKUP_KEEP_WEEKLY 2026-W53"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-01T03-00-00.sql.gz"),
        "kept by no rule: week 2026-W53 has a newer backup"
    );
}

#[test]
fn monthly_keeps_the_last_backup_of_each_month() {
    let cs = every(
        UTC,
        "2025-10-01 03:00",
        "2027-01-20 03:00",
        TimeDelta::days(1),
    );
    let ds = plan(&cs, keep(0, 0, 0, 12, 0), UTC, now());
    let expected: Vec<String> = [
        "2027-01-20",
        "2026-12-31",
        "2026-11-30",
        "2026-10-31",
        "2026-09-30",
        "2026-08-31",
        "2026-07-31",
        "2026-06-30",
        "2026-05-31",
        "2026-04-30",
        "2026-03-31",
        "2026-02-28",
    ]
    .iter()
    .map(|d| format!("app-{d}T03-00-00.sql.gz"))
    .collect();
    assert_eq!(kept(&ds), expected);
    assert_eq!(
        reason(&ds, "app-2026-02-28T03-00-00.sql.gz"),
        "kept by BACKUP_KEEP_MONTHLY 2026-02"
    );
    assert_eq!(
        reason(&ds, "app-2026-01-31T03-00-00.sql.gz"),
        "kept by no rule: month 2026-01 is beyond the newest 12 months"
    );
}

#[test]
fn yearly_keeps_the_last_backup_of_each_year() {
    let cs: Vec<Candidate> = (2021..=2026)
        .flat_map(|y| (1..=12).map(move |m| at(UTC, &format!("{y}-{m:02}-15 03:00"))))
        .chain([at(UTC, "2027-01-15 03:00")])
        .collect();
    let ds = plan(&cs, keep(0, 0, 0, 0, 3), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-15T03-00-00.sql.gz",
            "app-2026-12-15T03-00-00.sql.gz",
            "app-2025-12-15T03-00-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2025-12-15T03-00-00.sql.gz"),
        "kept by BACKUP_KEEP_YEARLY 2025"
    );
}

#[test]
fn a_backup_kept_by_several_rules_names_them_all() {
    let cs = every(
        UTC,
        "2026-11-01 03:00",
        "2027-01-20 03:00",
        TimeDelta::days(1),
    );
    let ds = plan(&cs, keep(0, 3, 2, 3, 0), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-20T03-00-00.sql.gz",
            "app-2027-01-19T03-00-00.sql.gz",
            "app-2027-01-18T03-00-00.sql.gz",
            "app-2027-01-17T03-00-00.sql.gz",
            "app-2026-12-31T03-00-00.sql.gz",
            "app-2026-11-30T03-00-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2027-01-20T03-00-00.sql.gz"),
        "newest complete backup of series app: always kept; also BACKUP_KEEP_DAILY 2027-01-20, \
         BACKUP_KEEP_WEEKLY 2027-W03, BACKUP_KEEP_MONTHLY 2027-01"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-17T03-00-00.sql.gz"),
        "kept by BACKUP_KEEP_WEEKLY 2027-W02"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-16T03-00-00.sql.gz"),
        "kept by no rule: day 2027-01-16 is beyond the newest 3 days; week 2027-W02 has a newer backup; \
         month 2027-01 has a newer backup"
    );
}

#[test]
fn periods_follow_the_time_zone() {
    // 03:30 UTC is still the previous evening in New York.
    let ny: Tz = chrono_tz::America::New_York;
    let utc_day = ["2027-01-18 03:30", "2027-01-18 20:00", "2027-01-19 03:30"];
    let in_utc: Vec<Candidate> = utc_day.iter().map(|t| at_utc(UTC, t)).collect();
    let in_ny: Vec<Candidate> = utc_day.iter().map(|t| at_utc(ny, t)).collect();
    let ds = plan(&in_utc, keep(0, 2, 0, 0, 0), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-19T03-30-00.sql.gz",
            "app-2027-01-18T20-00-00.sql.gz"
        ]
    );
    let ds = plan(&in_ny, keep(0, 2, 0, 0, 0), ny, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-18T22-30-00.sql.gz",
            "app-2027-01-17T22-30-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2027-01-18T15-00-00.sql.gz"),
        "kept by no rule: day 2027-01-18 has a newer backup"
    );
}

#[test]
fn the_hour_repeated_at_the_end_of_summer_time_is_one_hour() {
    // Berlin, 2026-10-25: 02:00-03:00 happens twice (00:00-01:00 UTC in summer time, 01:00-02:00 in winter time).
    let berlin: Tz = chrono_tz::Europe::Berlin;
    let cs = every(
        berlin,
        "2026-10-24 23:10",
        "2026-10-25 02:30",
        TimeDelta::minutes(25),
    );
    let now = Utc.with_ymd_and_hms(2026, 10, 25, 3, 0, 0).unwrap();
    let ds = plan(&cs, keep(3, 0, 0, 0, 0), berlin, now);
    assert_eq!(
        kept(&ds),
        [
            "app-2026-10-25T03-30-00.sql.gz",
            // 01:40 UTC, the last of the instants of both 02h hours, stands for both.
            "app-2026-10-25T02-40-00.sql.gz",
            "app-2026-10-25T01-35-00.sql.gz",
        ]
    );
    assert_eq!(
        reason(&ds, "app-2026-10-25T02-40-00.sql.gz"),
        "kept by BACKUP_KEEP_HOURLY 2026-10-25 02h"
    );
    // 02:50 in summer time reads later on the clock but was taken earlier (00:50 UTC).
    assert_eq!(
        reason(&ds, "app-2026-10-25T02-50-00.sql.gz"),
        "kept by no rule: hour 2026-10-25 02h has a newer backup"
    );
    // The day of 25 hours is one day.
    let ds = plan(&cs, keep(0, 1, 0, 0, 0), berlin, now);
    assert_eq!(kept(&ds), ["app-2026-10-25T03-30-00.sql.gz"]);
}

#[test]
fn the_age_limit_caps_what_the_rules_keep() {
    // Monthly backups with a gap of a year: the rule reaches back into 2024, the age limit does not.
    let cs: Vec<Candidate> = ["2024-11-15", "2024-12-15", "2026-12-15", "2027-01-15"]
        .iter()
        .map(|d| at(UTC, &format!("{d} 03:00")))
        .collect();
    let policy = Policy {
        max_age_days: 400,
        ..keep(0, 0, 0, 4, 0)
    };
    let ds = plan(&cs, policy, UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-15T03-00-00.sql.gz",
            "app-2026-12-15T03-00-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2024-12-15T03-00-00.sql.gz"),
        "older than 400 days (766 days 9 hours old), though kept by BACKUP_KEEP_MONTHLY 2024-12"
    );
}

#[test]
fn the_count_limit_caps_what_the_rules_keep() {
    let cs = every(
        UTC,
        "2027-01-10 03:00",
        "2027-01-19 03:00",
        TimeDelta::days(1),
    );
    let policy = Policy {
        max_count: 3,
        ..keep(0, 5, 0, 0, 0)
    };
    let ds = plan(&cs, policy, UTC, now());
    assert_eq!(kept(&ds).len(), 3);
    assert_eq!(
        reason(&ds, "app-2027-01-16T03-00-00.sql.gz"),
        "beyond the newest 3 that the rules keep (number 4), though kept by BACKUP_KEEP_DAILY 2027-01-16"
    );
}

#[test]
fn the_newest_complete_backup_is_kept_when_a_rule_passes_it_over() {
    let mut newer = at(UTC, "2027-01-19 20:00");
    newer.complete = false;
    let cs = [
        newer,
        at(UTC, "2027-01-19 03:00"),
        at(UTC, "2027-01-18 03:00"),
    ];
    let ds = plan(&cs, keep(0, 1, 0, 0, 0), UTC, now());
    assert_eq!(
        kept(&ds),
        [
            "app-2027-01-19T20-00-00.sql.gz",
            "app-2027-01-19T03-00-00.sql.gz"
        ]
    );
    assert_eq!(
        reason(&ds, "app-2027-01-19T20-00-00.sql.gz"),
        "kept by BACKUP_KEEP_DAILY 2027-01-19 (incomplete: no checksum file)"
    );
    assert_eq!(
        reason(&ds, "app-2027-01-19T03-00-00.sql.gz"),
        "newest complete backup of series app: always kept"
    );
}

#[test]
fn future_backups_are_kept_and_take_no_period() {
    let cs = [
        at(UTC, "2027-01-21 03:00"),
        at(UTC, "2027-01-20 03:00"),
        at(UTC, "2027-01-19 03:00"),
    ];
    let ds = plan(&cs, keep(0, 2, 0, 0, 0), UTC, now());
    assert_eq!(kept(&ds).len(), 3, "{ds:?}");
    assert_eq!(
        reason(&ds, "app-2027-01-21T03-00-00.sql.gz"),
        "kept: dated 15 hours in the future (clock skew?)"
    );
}
