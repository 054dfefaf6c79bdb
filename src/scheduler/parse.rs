//! Reading `BACKUP_SCHEDULE` and `DB_BACKUP_INTERVAL` into a [`Schedule`]: the accepted cron forms and `@`
//! shorthands, whole seconds for an interval, and an error naming the variable and what it accepts.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use croner::parser::{CronParser, Seconds, Year};

use super::{DEFAULT_SCHEDULE, INTERVAL_VAR, MAX_INTERVAL_SECS, SCHEDULE_VAR, Schedule};
use crate::error::ConfigError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::tests::{cron, utc};
    use chrono_tz::Europe::Berlin;
    use chrono_tz::UTC;

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
}
