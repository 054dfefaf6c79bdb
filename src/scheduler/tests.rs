//! Unit tests of [`Schedule`]'s runs: weekday numbering, the next run in a time zone and across
//! daylight-saving changes, the period the health check uses, and the log description.

use super::*;
use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;
use chrono_tz::UTC;

pub(super) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

pub(super) fn cron(expr: &str) -> Schedule {
    Schedule::parse(Some(expr), None).unwrap()
}

/// The runs from `start` (exclusive) to `end` (inclusive), as wall-clock times in `tz`.
fn runs_between(
    s: &Schedule,
    tz: Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut runs = Vec::new();
    let mut at = start;
    while let Some(next) = s.next_after(at, tz) {
        if next > end {
            break;
        }
        runs.push(next);
        at = next;
    }
    runs
}

// --- weekdays: standard cron numbering ---

#[test]
fn weekday_zero_and_seven_are_sunday() {
    let at = utc(2025, 6, 4, 10, 15, 0); // Wednesday
    for expr in ["0 2 * * 0", "0 2 * * 7", "0 2 * * SUN", "0 0 2 * * 0"] {
        let next = cron(expr).next_after(at, UTC).unwrap();
        assert_eq!(next.weekday(), Weekday::Sun, "{expr}");
        assert_eq!(next, utc(2025, 6, 8, 2, 0, 0), "{expr}");
    }
}

#[test]
fn weekday_numbers_follow_standard_cron() {
    let expected = [
        Weekday::Sun,
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
    ];
    let at = utc(2025, 6, 4, 10, 15, 0);
    for (n, day) in expected.iter().enumerate() {
        let s = cron(&format!("0 2 * * {n}"));
        for next in runs_between(&s, UTC, at, at + TimeDelta::days(21)) {
            assert_eq!(next.weekday(), *day, "weekday {n}");
        }
    }
    // A range: Monday to Friday, never the weekend.
    let s = cron("0 2 * * 1-5");
    let runs = runs_between(&s, UTC, at, at + TimeDelta::days(14));
    assert_eq!(runs.len(), 10);
    assert!(
        runs.iter()
            .all(|r| !matches!(r.weekday(), Weekday::Sat | Weekday::Sun))
    );
}

#[test]
fn weekly_sunday_job_runs_on_sundays_in_the_time_zone() {
    // 23:30 on Saturday in UTC is already Sunday in Berlin.
    let s = cron("0 2 * * 0");
    let next = s.next_after(utc(2025, 6, 7, 23, 30, 0), Berlin).unwrap();
    let local = next.with_timezone(&Berlin);
    assert_eq!(local.weekday(), Weekday::Sun);
    assert_eq!((local.hour(), local.minute()), (2, 0));
    assert_eq!(next, utc(2025, 6, 8, 0, 0, 0));
}

// --- next run: strictly after, time zones, daylight saving ---

#[test]
fn next_is_strictly_after() {
    let s = cron("0 3 * * *");
    assert_eq!(
        s.next_after(utc(2025, 6, 1, 3, 0, 0), UTC),
        Some(utc(2025, 6, 2, 3, 0, 0))
    );
    let just_before = utc(2025, 6, 1, 2, 59, 59) + TimeDelta::milliseconds(999);
    assert_eq!(
        s.next_after(just_before, UTC),
        Some(utc(2025, 6, 1, 3, 0, 0))
    );
    let just_after = utc(2025, 6, 1, 3, 0, 0) + TimeDelta::milliseconds(1);
    assert_eq!(
        s.next_after(just_after, UTC),
        Some(utc(2025, 6, 2, 3, 0, 0))
    );
}

#[test]
fn evaluated_in_the_time_zone() {
    let s = cron("0 3 * * *");
    // Summer: Berlin is UTC+2; winter: UTC+1; New York summer: UTC-4.
    assert_eq!(
        s.next_after(utc(2025, 6, 1, 12, 0, 0), Berlin),
        Some(utc(2025, 6, 2, 1, 0, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 1, 1, 12, 0, 0), Berlin),
        Some(utc(2025, 1, 2, 2, 0, 0))
    );
    assert_eq!(
        s.next_after(utc(2025, 6, 1, 12, 0, 0), New_York),
        Some(utc(2025, 6, 2, 7, 0, 0))
    );
}

#[test]
fn berlin_spring_forward_fixed_time_runs_once() {
    // 2025-03-30: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    let s = cron("30 2 * * *");
    let runs = runs_between(
        &s,
        Berlin,
        utc(2025, 3, 28, 12, 0, 0),
        utc(2025, 3, 31, 12, 0, 0),
    );
    let local: Vec<_> = runs
        .iter()
        .map(|r| r.with_timezone(&Berlin).naive_local())
        .collect();
    let day = |d, h, m| {
        NaiveDate::from_ymd_opt(2025, 3, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    };
    assert_eq!(
        local,
        [day(29, 2, 30), day(30, 3, 0), day(31, 2, 30)],
        "runs right after the gap on the day of the change"
    );
    assert_eq!(runs[1], utc(2025, 3, 30, 1, 0, 0));
}

#[test]
fn berlin_fall_back_fixed_time_runs_once() {
    // 2025-10-26: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice, the job runs at the first.
    let s = cron("30 2 * * *");
    let runs = runs_between(
        &s,
        Berlin,
        utc(2025, 10, 24, 12, 0, 0),
        utc(2025, 10, 27, 12, 0, 0),
    );
    assert_eq!(
        runs,
        [
            utc(2025, 10, 25, 0, 30, 0), // 02:30 CEST
            utc(2025, 10, 26, 0, 30, 0), // 02:30 CEST, the first of the two
            utc(2025, 10, 27, 1, 30, 0), // 02:30 CET
        ]
    );
    // Asked from between the two 02:30s, it does not run again that night.
    assert_eq!(
        s.next_after(utc(2025, 10, 26, 1, 0, 0), Berlin),
        Some(utc(2025, 10, 27, 1, 30, 0))
    );
}

#[test]
fn new_york_spring_forward() {
    // 2025-03-09 (a Sunday): 02:00 EST jumps to 03:00 EDT.
    let daily = cron("30 2 * * *");
    let runs = runs_between(
        &daily,
        New_York,
        utc(2025, 3, 8, 12, 0, 0),
        utc(2025, 3, 10, 12, 0, 0),
    );
    assert_eq!(runs, [utc(2025, 3, 9, 7, 0, 0), utc(2025, 3, 10, 6, 30, 0)]);

    // The weekly Sunday 02:00 job of the seeds still runs that Sunday, at 03:00 EDT.
    let weekly = cron("0 2 * * 0");
    assert_eq!(
        weekly.next_after(utc(2025, 3, 8, 12, 0, 0), New_York),
        Some(utc(2025, 3, 9, 7, 0, 0))
    );

    // An hourly job has no run in the missing hour: 01:00 EST, then 03:00 EDT.
    let hourly = cron("@hourly");
    let runs = runs_between(
        &hourly,
        New_York,
        utc(2025, 3, 9, 5, 30, 0),
        utc(2025, 3, 9, 8, 0, 0),
    );
    assert_eq!(
        runs,
        [
            utc(2025, 3, 9, 6, 0, 0),
            utc(2025, 3, 9, 7, 0, 0),
            utc(2025, 3, 9, 8, 0, 0)
        ]
    );
}

#[test]
fn new_york_fall_back() {
    // 2025-11-02: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    let daily = cron("30 1 * * *");
    let runs = runs_between(
        &daily,
        New_York,
        utc(2025, 11, 1, 12, 0, 0),
        utc(2025, 11, 3, 12, 0, 0),
    );
    assert_eq!(
        runs,
        [utc(2025, 11, 2, 5, 30, 0), utc(2025, 11, 3, 6, 30, 0)],
        "once on the day of the change, at 01:30 EDT"
    );

    // The weekly Sunday 02:00 job runs once: 02:00 exists only once (EST).
    let weekly = cron("0 2 * * 0");
    assert_eq!(
        runs_between(
            &weekly,
            New_York,
            utc(2025, 11, 1, 12, 0, 0),
            utc(2025, 11, 8, 12, 0, 0)
        ),
        [utc(2025, 11, 2, 7, 0, 0)]
    );

    // An hourly job follows real time: both 01:00s, one hour apart.
    let hourly = cron("@hourly");
    let runs = runs_between(
        &hourly,
        New_York,
        utc(2025, 11, 2, 4, 30, 0),
        utc(2025, 11, 2, 7, 0, 0),
    );
    assert_eq!(
        runs,
        [
            utc(2025, 11, 2, 5, 0, 0),
            utc(2025, 11, 2, 6, 0, 0),
            utc(2025, 11, 2, 7, 0, 0)
        ]
    );
}

#[test]
fn seconds_schedule_has_no_drift_or_repeat_across_fall_back() {
    let s = cron("*/30 * * * * *");
    let runs = runs_between(
        &s,
        Berlin,
        utc(2025, 10, 26, 0, 55, 0),
        utc(2025, 10, 26, 1, 5, 0),
    );
    assert_eq!(runs.len(), 20);
    assert!(
        runs.windows(2)
            .all(|w| w[1] - w[0] == TimeDelta::seconds(30))
    );
}

// --- period ---

#[test]
fn period_of_regular_schedules() {
    let at = utc(2025, 6, 4, 10, 15, 0);
    assert_eq!(
        cron("0 3 * * *").period(at, Berlin),
        Duration::from_secs(86_400)
    );
    assert_eq!(
        cron("0 */6 * * *").period(at, UTC),
        Duration::from_secs(6 * 3600)
    );
    assert_eq!(
        cron("*/30 * * * * *").period(at, UTC),
        Duration::from_secs(30)
    );
    assert_eq!(
        cron("0 2 * * 0").period(at, UTC),
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        Schedule::Interval(Duration::from_secs(90)).period(at, Berlin),
        Duration::from_secs(90)
    );
}

#[test]
fn period_across_daylight_saving() {
    let s = cron("0 3 * * *");
    // The day that ends with the fall-back night has 25 hours: the period is never shorter than a
    // day, so the 23-hour spring-forward day does not shrink it.
    assert_eq!(
        s.period(utc(2025, 10, 25, 12, 0, 0), Berlin),
        Duration::from_secs(25 * 3600)
    );
    assert_eq!(
        s.period(utc(2025, 3, 29, 12, 0, 0), Berlin),
        Duration::from_secs(24 * 3600)
    );
    assert_eq!(
        s.period(utc(2025, 3, 30, 12, 0, 0), Berlin),
        Duration::from_secs(24 * 3600)
    );
}

#[test]
fn period_covers_the_gap_around_now() {
    // Weekdays only: on a Sunday the current gap is Friday 03:00 to Monday 03:00.
    let s = cron("0 3 * * 1-5");
    let sunday = utc(2025, 6, 8, 12, 0, 0);
    assert_eq!(s.period(sunday, UTC), Duration::from_secs(3 * 86_400));
    let wednesday = utc(2025, 6, 4, 12, 0, 0);
    assert_eq!(s.period(wednesday, UTC), Duration::from_secs(86_400));
}

#[test]
fn describe_with_time_zone() {
    assert_eq!(
        cron("0 3 * * *").describe_in(Berlin),
        "cron 0 3 * * * (Europe/Berlin)"
    );
    assert_eq!(cron("@daily").describe_in(UTC), "cron @daily (UTC)");
    assert_eq!(cron("0 3 * * *").to_string(), "cron 0 3 * * *");
}
