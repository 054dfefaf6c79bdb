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

mod parse;
mod retry;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use croner::Cron;

pub use retry::{backoff, unit_random, with_jitter};

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

#[cfg(test)]
mod tests;
