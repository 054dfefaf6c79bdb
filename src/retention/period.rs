//! The calendar periods of the keep rules (hour, day, ISO week, month, year) and which period a backup falls in,
//! on the wall clock of the configured time zone.

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;

/// A keep rule's period, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Period {
    pub const ALL: [Period; 5] = [
        Period::Hour,
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Year,
    ];

    /// The variable that sets how many of these periods to keep a backup of.
    pub fn variable(self) -> &'static str {
        match self {
            Period::Hour => "BACKUP_KEEP_HOURLY",
            Period::Day => "BACKUP_KEEP_DAILY",
            Period::Week => "BACKUP_KEEP_WEEKLY",
            Period::Month => "BACKUP_KEEP_MONTHLY",
            Period::Year => "BACKUP_KEEP_YEARLY",
        }
    }

    pub fn noun(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Year => "year",
        }
    }

    /// The most days `n` of these periods span (a month counts as 31 days, a year as 366): with a backup in every
    /// period, a rule keeping `n` of them never keeps a backup older than this.
    pub fn reach_days(self, n: u32) -> u64 {
        let n = u64::from(n);
        match self {
            Period::Hour => n.div_ceil(24),
            Period::Day => n,
            Period::Week => 7 * n,
            Period::Month => 31 * n,
            Period::Year => 366 * n,
        }
    }

    /// The period `t` falls in, as a number that grows with time (`t` is already on the zone's wall clock).
    pub fn key(self, t: &DateTime<Tz>) -> i64 {
        let day = i64::from(t.num_days_from_ce());
        match self {
            Period::Hour => day * 24 + i64::from(t.hour()),
            Period::Day => day,
            Period::Week => {
                let week = t.iso_week();
                i64::from(week.year()) * 100 + i64::from(week.week())
            }
            Period::Month => i64::from(t.year()) * 12 + i64::from(t.month0()),
            Period::Year => i64::from(t.year()),
        }
    }

    /// The period `t` falls in, for people: `2026-03-29 02h`, `2026-03-29`, `2026-W13`, `2026-03`, `2026`.
    pub fn label(self, t: &DateTime<Tz>) -> String {
        match self {
            Period::Hour => format!(
                "{:04}-{:02}-{:02} {:02}h",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            ),
            Period::Day => format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            Period::Week => {
                let week = t.iso_week();
                format!("{:04}-W{:02}", week.year(), week.week())
            }
            Period::Month => format!("{:04}-{:02}", t.year(), t.month()),
            Period::Year => format!("{:04}", t.year()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32) -> DateTime<Tz> {
        tz.with_ymd_and_hms(y, m, d, h, 30, 0).earliest().unwrap()
    }

    #[test]
    fn iso_weeks_cross_the_new_year() {
        let utc = chrono_tz::UTC;
        // 2027-01-01 is a Friday: still in the 53rd week of 2026; 2024-12-30 is a Monday: week 1 of 2025.
        let labels: Vec<String> = [
            at(utc, 2026, 12, 31, 9),
            at(utc, 2027, 1, 3, 9),
            at(utc, 2027, 1, 4, 9),
            at(utc, 2024, 12, 30, 9),
        ]
        .iter()
        .map(|t| Period::Week.label(t))
        .collect();
        assert_eq!(labels, ["2026-W53", "2026-W53", "2027-W01", "2025-W01"]);
        assert_eq!(
            Period::Week.key(&at(utc, 2026, 12, 31, 9)),
            Period::Week.key(&at(utc, 2027, 1, 3, 23))
        );
    }

    #[test]
    fn keys_and_labels_follow_the_wall_clock() {
        let berlin = chrono_tz::Europe::Berlin;
        // 00:30 in Berlin on New Year's Day is 23:30 UTC the day before: a different day, month and year.
        let t = at(berlin, 2026, 1, 1, 0);
        let in_utc = t.with_timezone(&chrono_tz::UTC);
        for p in [Period::Day, Period::Month, Period::Year] {
            assert_ne!(p.key(&t), p.key(&in_utc), "{p:?}");
        }
        assert_eq!(Period::Hour.label(&t), "2026-01-01 00h");
        assert_eq!(Period::Hour.label(&in_utc), "2025-12-31 23h");
        assert_eq!(Period::Day.label(&t), "2026-01-01");
        assert_eq!(Period::Month.label(&t), "2026-01");
        assert_eq!(Period::Year.label(&t), "2026");
    }

    #[test]
    fn keys_grow_with_time() {
        let tz = chrono_tz::America::New_York;
        let mut t = at(tz, 2023, 1, 1, 0);
        let mut last: Vec<i64> = Period::ALL.iter().map(|p| p.key(&t)).collect();
        for _ in 0..(3 * 366 * 24) {
            t += chrono::TimeDelta::minutes(61);
            let now: Vec<i64> = Period::ALL.iter().map(|p| p.key(&t)).collect();
            assert!(now.iter().zip(&last).all(|(a, b)| a >= b), "{t}");
            last = now;
        }
    }

    #[test]
    fn reach() {
        assert_eq!(Period::Hour.reach_days(24), 1);
        assert_eq!(Period::Hour.reach_days(25), 2);
        assert_eq!(Period::Day.reach_days(7), 7);
        assert_eq!(Period::Week.reach_days(4), 28);
        assert_eq!(Period::Month.reach_days(12), 372);
        assert_eq!(Period::Year.reach_days(2), 732);
    }
}
