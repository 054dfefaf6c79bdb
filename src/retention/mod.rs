//! Which backups to keep: a pure function of (backups, policy, time zone, now) that gives a reason for every
//! decision.
//!
//! Within each series, one of two kinds of policy decides:
//! - limits only (no `BACKUP_KEEP_*` set): a backup is deleted when it is older than the age limit or beyond the
//!   newest `max_count` (see `limits`);
//! - keep rules (`BACKUP_KEEP_HOURLY` ... `_YEARLY`, restic's `forget --keep-*`): a backup is kept when a rule
//!   keeps it, and the limits, if set, only cap what the rules keep (see `keep`).
//!
//! Either way the newest complete backup (one with its checksum file) is always kept, and so is any backup dated
//! in the future, which only clock skew can produce.

mod keep;
mod limits;
mod period;
mod words;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use period::Period;

/// How many hours, days, ISO weeks, months and years (those that have a backup, newest first) to keep the
/// newest backup of; 0 turns a rule off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keep {
    pub hourly: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
    pub yearly: u32,
}

impl Keep {
    /// How many periods of `period` to keep.
    pub fn of(&self, period: Period) -> u32 {
        match period {
            Period::Hour => self.hourly,
            Period::Day => self.daily,
            Period::Week => self.weekly,
            Period::Month => self.monthly,
            Period::Year => self.yearly,
        }
    }

    /// Whether any keep rule is set.
    pub fn any(&self) -> bool {
        Period::ALL.iter().any(|&p| self.of(p) > 0)
    }

    /// The most backups per series the rules can keep together.
    pub fn total(&self) -> u64 {
        Period::ALL.iter().map(|&p| u64::from(self.of(p))).sum()
    }
}

/// What to keep, per series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// 0 = no age limit (`BACKUP_RETENTION_DAYS`).
    pub max_age_days: u32,
    /// 0 = no count limit (`DB_BACKUP_MAX_N`). With keep rules: at most this many of the backups they keep.
    pub max_count: u32,
    /// The keep rules (`BACKUP_KEEP_*`); none set = the limits alone decide.
    pub keep: Keep,
}

/// A backup that retention may keep or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub file_name: String,
    pub series: String,
    pub taken_at: DateTime<Utc>,
    /// Its `.sha256` checksum file exists.
    pub complete: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Keep,
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Keep => "keep",
            Action::Delete => "delete",
        })
    }
}

/// What to do with one candidate, and why, in a short sentence meant for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub file_name: String,
    pub series: String,
    pub action: Action,
    pub reason: String,
}

/// One series, newest first (ties broken by file name), with what every policy needs to know about it.
struct Series<'a> {
    name: &'a str,
    backups: Vec<&'a Candidate>,
    /// The index of the newest complete backup not dated in the future.
    newest_complete: Option<usize>,
}

/// Decides, series by series, which backups to keep. Output order: per series (sorted by series name), newest
/// first. Calendar periods are those of the wall clock in `tz`.
///
/// Every candidate appears exactly once. Backups dated after `now` are kept and take no place in the count or in
/// any period, so a clock that went backwards can neither delete them nor push the backups taken since out of
/// the rules; "the newest complete backup" is likewise the newest complete one not in the future.
pub fn plan(candidates: &[Candidate], policy: Policy, tz: Tz, now: DateTime<Utc>) -> Vec<Decision> {
    let mut by_series: BTreeMap<&str, Vec<&Candidate>> = BTreeMap::new();
    for c in candidates {
        by_series.entry(c.series.as_str()).or_default().push(c);
    }
    let mut decisions = Vec::with_capacity(candidates.len());
    for (name, mut backups) in by_series {
        // The file name breaks ties so that the same directory always gets the same plan.
        backups.sort_by(|a, b| {
            b.taken_at
                .cmp(&a.taken_at)
                .then_with(|| b.file_name.cmp(&a.file_name))
        });
        let newest_complete = backups.iter().position(|c| c.complete && c.taken_at <= now);
        let series = Series {
            name,
            backups,
            newest_complete,
        };
        let actions = if policy.keep.any() {
            keep::decide(&series, policy, tz, now)
        } else {
            limits::decide(&series, policy, now)
        };
        decisions.extend(
            series
                .backups
                .iter()
                .zip(actions)
                .map(|(c, (action, reason))| Decision {
                    file_name: c.file_name.clone(),
                    series: c.series.clone(),
                    action,
                    reason,
                }),
        );
    }
    decisions
}

/// The reason a backup dated after `now` is kept.
fn future(c: &Candidate, now: DateTime<Utc>) -> Option<String> {
    let age = now.signed_duration_since(c.taken_at);
    (age < chrono::TimeDelta::zero()).then(|| {
        format!(
            "kept: dated {} in the future (clock skew?)",
            words::describe_duration(-age)
        )
    })
}

/// The reason the newest complete backup is kept, with the rules it breaks (`broken`) added after "though".
fn always_kept(series: &str, also: &str, broken: &[String]) -> String {
    let mut reason = format!("newest complete backup of series {series}: always kept{also}");
    if !broken.is_empty() {
        reason.push_str(", though ");
        reason.push_str(&broken.join(" and "));
    }
    reason
}

const INCOMPLETE: &str = " (incomplete: no checksum file)";

#[cfg(test)]
mod keep_props;
#[cfg(test)]
mod keep_tests;
#[cfg(test)]
mod limits_tests;
