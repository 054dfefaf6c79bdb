//! When `backup-service` runs a backup: cron and interval schedules, the next run in a time zone, retry backoff.
//!
//! Everything here is pure: no clock, no I/O, no randomness. The long-running mode asks
//! [`Schedule::next_after`] for the next run, logs [`Schedule::describe_in`], gives the health check
//! [`Schedule::period`], and spaces retries with [`backoff`] and [`with_jitter`].
//!
//! Cron expressions are evaluated by the `croner` crate, which uses the standard (Vixie/POSIX) field
//! meanings, weekday numbers included (0 or 7 is Sunday, 1 is Monday), in the five-field form and in the
//! six-field form with a leading seconds field. It handles daylight-saving changes the way Vixie cron
//! does: a fixed-time job (`30 2 * * *`) whose time is skipped when the clock springs forward runs right
//! after the gap, once; when the clock falls back it runs once, at the first of the two times. A job with
//! wildcards or steps in its time fields (`0 * * * *`, `*/30 * * * * *`) follows the real clock: it has
//! no runs inside a gap and runs in both passes of a repeated hour.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::error::ConfigError;

/// The variable that holds a cron expression.
pub const SCHEDULE_VAR: &str = "BACKUP_SCHEDULE";
/// The variable that holds seconds between backups, instead of a cron expression.
pub const INTERVAL_VAR: &str = "DB_BACKUP_INTERVAL";
/// The schedule when neither variable is set: every day at 03:00 in `TZ`.
pub const DEFAULT_SCHEDULE: &str = "0 3 * * *";
/// The longest accepted `DB_BACKUP_INTERVAL`: 366 days.
pub const MAX_INTERVAL_SECS: u64 = 366 * 24 * 60 * 60;

/// What `period` answers when the next runs cannot be computed (a schedule past the year 4999).
const FALLBACK_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// The `@` shorthands that `BACKUP_SCHEDULE` accepts, and the five-field form each stands for.
const ALIASES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The accepted forms, for error messages.
const ACCEPTED_SCHEDULES: &str = "accepted: five fields \"minute hour day-of-month month day-of-week\" \
     (e.g. \"0 3 * * *\" daily at 03:00, \"0 */6 * * *\" every 6 hours, \"0 2 * * 0\" Sundays at 02:00; \
     weekdays 0-7 with 0 and 7 Sunday, or SUN-SAT), six fields with seconds first \
     (e.g. \"*/30 * * * * *\" every 30 seconds), or one of @hourly, @daily, @midnight, @weekly, \
     @monthly, @yearly, @annually";

/// How often `backup-service` runs a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// A cron expression (`BACKUP_SCHEDULE`), evaluated in the time zone given to each query.
    Cron {
        /// The expression as the user wrote it (trimmed), for the log.
        expr: String,
        /// The parsed form.
        cron: Box<Cron>,
    },
    /// A fixed gap between runs (`DB_BACKUP_INTERVAL`).
    Interval(Duration),
}

impl Schedule {
    /// Builds the schedule from the values of `BACKUP_SCHEDULE` and `DB_BACKUP_INTERVAL`.
    ///
    /// `None` or a blank value means unset. With neither set the schedule is [`DEFAULT_SCHEDULE`]. Setting
    /// both is an error, and so is a value that is not a valid cron expression, a cron expression that
    /// never fires (`0 0 30 2 *`), or an interval that is not a whole number of seconds from 1 to
    /// [`MAX_INTERVAL_SECS`]. Each error names the variable and says what is accepted.
    pub fn parse(schedule: Option<&str>, interval: Option<&str>) -> Result<Schedule, ConfigError> {
        let schedule = schedule.map(str::trim).filter(|s| !s.is_empty());
        let interval = interval.map(str::trim).filter(|s| !s.is_empty());
        match (schedule, interval) {
            (Some(schedule), Some(interval)) => Err(ConfigError::new(
                SCHEDULE_VAR,
                format!(
                    "is set (\"{schedule}\") together with {INTERVAL_VAR} (\"{interval}\"); set only one of \
                     them: {SCHEDULE_VAR} for a cron schedule (e.g. \"0 3 * * *\") or {INTERVAL_VAR} for \
                     seconds between backups (e.g. 3600)"
                ),
            )),
            (None, Some(interval)) => parse_interval(interval).map(Schedule::Interval),
            (schedule, None) => parse_cron(schedule.unwrap_or(DEFAULT_SCHEDULE)),
        }
    }

    /// The next run strictly after `after`, with the expression read as wall-clock time in `tz`.
    ///
    /// For an interval this is `after + interval`. `None` only when the answer would lie beyond what can
    /// be represented (past the year 4999 for cron).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Interval(interval) => {
                after.checked_add_signed(TimeDelta::from_std(*interval).ok()?)
            }
            Schedule::Cron { cron, .. } => {
                let next = cron
                    .find_next_occurrence(&after.with_timezone(&tz), false)
                    .ok()?
                    .with_timezone(&Utc);
                // croner works in whole seconds and steps past `after`'s second, so this holds; the check
                // keeps a scheduler loop from spinning should that ever change.
                (next > after).then_some(next)
            }
        }
    }

    /// The last run at or before `at`; `None` for an interval, which has no fixed phase.
    fn previous_at_or_before(&self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Interval(_) => None,
            Schedule::Cron { cron, .. } => cron
                .find_previous_occurrence(&at.with_timezone(&tz), true)
                .ok()
                .map(|previous| previous.with_timezone(&Utc)),
        }
    }

    /// The gap between runs around `around`, for the health check ("overdue" is no success for about two
    /// periods).
    ///
    /// For an interval it is the interval. For cron it is the longer of two gaps: from the last run at or
    /// before `around` to the next run, and from that run to the one after. Taking the gap `around` sits in,
    /// not only the one ahead, keeps an uneven schedule honest: with `0 3 * * 1-5` the period on a Sunday is
    /// three days (Friday to Monday), so a weekend without backups is not reported as overdue. Across a
    /// daylight-saving change a daily job's period is 23 or 25 hours.
    pub fn period(&self, around: DateTime<Utc>, tz: Tz) -> Duration {
        if let Schedule::Interval(interval) = self {
            return *interval;
        }
        let Some(next) = self.next_after(around, tz) else {
            return FALLBACK_PERIOD;
        };
        let ahead = self
            .next_after(next, tz)
            .and_then(|after_next| (after_next - next).to_std().ok());
        let current = self
            .previous_at_or_before(around, tz)
            .and_then(|previous| (next - previous).to_std().ok());
        match (current, ahead) {
            (Some(current), Some(ahead)) => current.max(ahead),
            (Some(gap), None) | (None, Some(gap)) => gap,
            (None, None) => FALLBACK_PERIOD,
        }
    }

    /// The schedule for the log: `cron 0 3 * * *` or `every 3600 s`.
    pub fn describe(&self) -> String {
        match self {
            Schedule::Cron { expr, .. } => format!("cron {expr}"),
            Schedule::Interval(interval) => format!("every {} s", interval.as_secs()),
        }
    }

    /// The schedule for the log with the time zone a cron expression is read in:
    /// `cron 0 3 * * * (Europe/Berlin)` or `every 3600 s` (an interval does not depend on the zone).
    pub fn describe_in(&self, tz: Tz) -> String {
        match self {
            Schedule::Cron { .. } => format!("{} ({})", self.describe(), tz.name()),
            Schedule::Interval(_) => self.describe(),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Parses a cron expression or `@` alias from `BACKUP_SCHEDULE`.
fn parse_cron(expr: &str) -> Result<Schedule, ConfigError> {
    let bad =
        |what: String| ConfigError::new(SCHEDULE_VAR, format!("{what}; {ACCEPTED_SCHEDULES}"));

    let pattern = if expr.starts_with('@') {
        let alias = ALIASES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(expr))
            .map(|(_, pattern)| *pattern);
        match alias {
            Some(pattern) => pattern,
            None if expr.eq_ignore_ascii_case("@reboot") => {
                return Err(bad(format!(
                    "\"{expr}\" is not a schedule here (for a backup at start set BACKUP_ON_START=true)"
                )));
            }
            None => return Err(bad(format!("\"{expr}\" is not a known @ shorthand"))),
        }
    } else {
        let fields = expr.split_whitespace().count();
        if fields != 5 && fields != 6 {
            return Err(bad(format!("\"{expr}\" has {fields} fields, not 5 or 6")));
        }
        expr
    };

    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let cron = parser.parse(pattern).map_err(|e| {
        let reason = e.to_string();
        let reason = reason.trim_end_matches('.');
        bad(format!(
            "\"{expr}\" is not a valid cron expression ({reason})"
        ))
    })?;

    // Reject what can never fire (the 30th of February), so the service does not start and then wait forever.
    // Any date works as the start: a pattern that fires at all fires within 28 years, one calendar cycle.
    let start = DateTime::<Utc>::UNIX_EPOCH;
    let fires = cron
        .find_next_occurrence(&start, false)
        .is_ok_and(|next| next - start < TimeDelta::days(29 * 366));
    if !fires {
        return Err(bad(format!("\"{expr}\" never matches a date")));
    }

    Ok(Schedule::Cron {
        expr: expr.split_whitespace().collect::<Vec<_>>().join(" "),
        cron: Box::new(cron),
    })
}

/// Parses whole seconds from `DB_BACKUP_INTERVAL`.
fn parse_interval(value: &str) -> Result<Duration, ConfigError> {
    let bad = |what: &str| {
        ConfigError::new(
            INTERVAL_VAR,
            format!(
                "\"{value}\" {what}; expected whole seconds between backups, from 1 to {MAX_INTERVAL_SECS} \
                 (e.g. 3600 for hourly, 86400 for daily), or unset it and use {SCHEDULE_VAR} for a cron \
                 schedule"
            ),
        )
    };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("is not a whole number of seconds"));
    }
    let seconds: u64 = value.parse().map_err(|_| bad("is too large"))?;
    match seconds {
        0 => Err(bad("is zero")),
        s if s > MAX_INTERVAL_SECS => Err(bad("is too large")),
        s => Ok(Duration::from_secs(s)),
    }
}

/// The delay before a retry: `base` doubled for each earlier retry, never more than `max`.
///
/// `attempt` counts retries from 0: attempt 0 waits `base`, 1 waits `2 * base`, 2 waits `4 * base`, and so
/// on until `max`. Spread the result with [`with_jitter`] so that many sidecars do not retry in step.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(Duration::MAX).min(max)
}

/// Spreads a delay by a random factor: `unit_random` in `[0, 1]` maps to `[d / 2, d]`.
///
/// The result never exceeds `d`, so a capped [`backoff`] stays capped, and never falls below half of it.
/// The caller supplies the random number, which keeps this function deterministic in tests. Values outside
/// `[0, 1]` are clamped; NaN counts as 0.
pub fn with_jitter(d: Duration, unit_random: f64) -> Duration {
    let r = if unit_random.is_nan() {
        0.0
    } else {
        unit_random.clamp(0.0, 1.0)
    };
    d.mul_f64(0.5 + r / 2.0)
}

/// A number in `[0, 1)` that differs between processes and calls, for [`with_jitter`]; `RandomState` is seeded
/// from the OS, which is all the randomness jitter needs.
pub fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(std::time::SystemTime::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, NaiveDate, TimeZone, Timelike, Weekday};
    use chrono_tz::America::New_York;
    use chrono_tz::Europe::Berlin;
    use chrono_tz::UTC;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn cron(expr: &str) -> Schedule {
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

    fn err(schedule: Option<&str>, interval: Option<&str>) -> ConfigError {
        Schedule::parse(schedule, interval).unwrap_err()
    }

    // --- parsing: accepted forms ---

    #[test]
    fn default_is_daily_at_three() {
        let s = Schedule::parse(None, None).unwrap();
        assert_eq!(s.describe(), "cron 0 3 * * *");
        assert_eq!(
            s.next_after(utc(2025, 6, 1, 12, 0, 0), UTC),
            Some(utc(2025, 6, 2, 3, 0, 0))
        );
        assert_eq!(Schedule::parse(Some("  "), Some("")).unwrap(), s);
    }

    #[test]
    fn five_field_forms() {
        let at = utc(2025, 6, 4, 10, 15, 0); // a Wednesday
        assert_eq!(
            cron("0 3 * * *").next_after(at, UTC),
            Some(utc(2025, 6, 5, 3, 0, 0))
        );
        assert_eq!(
            cron("0 */6 * * *").next_after(at, UTC),
            Some(utc(2025, 6, 4, 12, 0, 0))
        );
        assert_eq!(
            cron("0 2 * * 0").next_after(at, UTC),
            Some(utc(2025, 6, 8, 2, 0, 0))
        );
        assert_eq!(
            cron("15,45 9-17 * * MON-FRI").next_after(at, UTC),
            Some(utc(2025, 6, 4, 10, 45, 0))
        );
        assert_eq!(
            cron("0 4 1 * *").next_after(at, UTC),
            Some(utc(2025, 7, 1, 4, 0, 0))
        );
    }

    #[test]
    fn six_field_form_has_seconds_first() {
        let s = cron("*/30 * * * * *");
        let at = utc(2025, 6, 4, 10, 15, 0);
        assert_eq!(s.next_after(at, UTC), Some(utc(2025, 6, 4, 10, 15, 30)));
        assert_eq!(
            s.next_after(utc(2025, 6, 4, 10, 15, 30), UTC),
            Some(utc(2025, 6, 4, 10, 16, 0))
        );
        // Six fields are seconds, minutes, hours, day of month, month, day of week: 03:00:15 on Sundays.
        assert_eq!(
            cron("15 0 3 * * 0").next_after(at, UTC),
            Some(utc(2025, 6, 8, 3, 0, 15))
        );
    }

    #[test]
    fn aliases() {
        let at = utc(2025, 6, 4, 10, 15, 0); // Wednesday
        let cases = [
            ("@hourly", utc(2025, 6, 4, 11, 0, 0)),
            ("@daily", utc(2025, 6, 5, 0, 0, 0)),
            ("@midnight", utc(2025, 6, 5, 0, 0, 0)),
            ("@weekly", utc(2025, 6, 8, 0, 0, 0)), // Sunday midnight
            ("@monthly", utc(2025, 7, 1, 0, 0, 0)),
            ("@yearly", utc(2026, 1, 1, 0, 0, 0)),
            ("@annually", utc(2026, 1, 1, 0, 0, 0)),
            ("@DAILY", utc(2025, 6, 5, 0, 0, 0)),
        ];
        for (alias, expected) in cases {
            let s = cron(alias);
            assert_eq!(s.next_after(at, UTC), Some(expected), "{alias}");
            assert_eq!(s.describe(), format!("cron {alias}"));
        }
    }

    #[test]
    fn surrounding_and_repeated_whitespace_is_normalised() {
        let s = cron("  0  3 *\t* *  ");
        assert_eq!(s.describe(), "cron 0 3 * * *");
        assert_eq!(s, cron("0 3 * * *"));
    }

    #[test]
    fn interval() {
        let s = Schedule::parse(None, Some("3600")).unwrap();
        assert_eq!(s, Schedule::Interval(Duration::from_secs(3600)));
        assert_eq!(
            Schedule::parse(Some(""), Some(" 90 ")).unwrap(),
            Schedule::Interval(Duration::from_secs(90))
        );
        let at = utc(2025, 3, 30, 0, 30, 0);
        // Real elapsed time: a daylight-saving change in the zone does not matter.
        assert_eq!(s.next_after(at, Berlin), Some(utc(2025, 3, 30, 1, 30, 0)));
        assert_eq!(s.describe(), "every 3600 s");
        assert_eq!(s.describe_in(Berlin), "every 3600 s");
        assert!(Schedule::parse(None, Some("31622400")).is_ok());
    }

    // --- parsing: bad input names the variable ---

    #[test]
    fn bad_cron_expressions_name_backup_schedule() {
        let cases = [
            ("0 3 * *", "4 fields"),
            ("0 0 3 * * * *", "7 fields"),
            ("61 3 * * *", "not a valid cron expression"),
            ("0 25 * * *", "not a valid cron expression"),
            ("0 3 * * 8", "not a valid cron expression"),
            ("0 3 32 * *", "not a valid cron expression"),
            ("0 3 * 13 *", "not a valid cron expression"),
            ("a b c d e", "not a valid cron expression"),
            ("*/0 * * * *", "not a valid cron expression"),
            ("0 0 30 2 *", "never matches"),
            ("@every 5m", "not a known @ shorthand"),
            ("@reboot", "BACKUP_ON_START"),
            ("daily", "1 fields"),
        ];
        for (expr, what) in cases {
            let e = err(Some(expr), None);
            assert_eq!(e.variable, "BACKUP_SCHEDULE", "{expr}");
            assert!(e.message.contains(what), "{expr}: {}", e.message);
            assert!(
                e.message.contains("\"0 3 * * *\""),
                "{expr}: example missing: {}",
                e.message
            );
            assert!(e.to_string().starts_with("BACKUP_SCHEDULE: "), "{e}");
        }
    }

    #[test]
    fn bad_intervals_name_db_backup_interval() {
        let cases = [
            ("0", "zero"),
            ("-5", "not a whole number"),
            ("1.5", "not a whole number"),
            ("1h", "not a whole number"),
            ("+60", "not a whole number"),
            ("0 3 * * *", "not a whole number"),
            ("31622401", "too large"),
            ("99999999999999999999999", "too large"),
        ];
        for (value, what) in cases {
            let e = err(None, Some(value));
            assert_eq!(e.variable, "DB_BACKUP_INTERVAL", "{value}");
            assert!(e.message.contains(what), "{value}: {}", e.message);
            assert!(
                e.message.contains("3600"),
                "{value}: example missing: {}",
                e.message
            );
        }
    }

    #[test]
    fn both_set_is_an_error_naming_both() {
        let e = err(Some("0 3 * * *"), Some("3600"));
        assert_eq!(e.variable, "BACKUP_SCHEDULE");
        assert!(e.message.contains("DB_BACKUP_INTERVAL"), "{}", e.message);
        assert!(e.message.contains("only one"), "{}", e.message);
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

    // --- backoff ---

    #[test]
    fn backoff_doubles_then_caps() {
        let base = Duration::from_secs(10);
        let max = Duration::from_secs(300);
        let delays: Vec<u64> = (0..8).map(|a| backoff(a, base, max).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX, base, max), max);
        assert_eq!(
            backoff(40, Duration::from_secs(u64::MAX / 2), Duration::MAX),
            Duration::MAX
        );
        assert_eq!(
            backoff(0, base, Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(backoff(3, Duration::ZERO, max), Duration::ZERO);
    }

    #[test]
    fn jitter_stays_between_half_and_whole() {
        let d = Duration::from_secs(100);
        assert_eq!(with_jitter(d, 0.0), Duration::from_secs(50));
        assert_eq!(with_jitter(d, 0.5), Duration::from_secs(75));
        assert_eq!(with_jitter(d, 1.0), d);
        assert_eq!(with_jitter(d, -3.0), Duration::from_secs(50));
        assert_eq!(with_jitter(d, 7.0), d);
        assert_eq!(with_jitter(d, f64::NAN), Duration::from_secs(50));
        assert_eq!(with_jitter(Duration::ZERO, 0.3), Duration::ZERO);
        let capped = backoff(20, Duration::from_secs(1), Duration::from_secs(60));
        assert!(with_jitter(capped, 0.999) <= Duration::from_secs(60));
    }

    #[test]
    fn unit_random_stays_below_one() {
        for _ in 0..1000 {
            let r = unit_random();
            assert!((0.0..1.0).contains(&r), "{r}");
        }
    }
}
