//! The keep rules (`BACKUP_KEEP_HOURLY` ... `_YEARLY`), with restic's meaning: walking a series newest first, each
//! rule keeps the newest backup of each of the last N periods that have a backup; a backup kept by any rule is
//! kept. The limits, when set with them, only cap what the rules keep: nothing older than `BACKUP_RETENTION_DAYS`,
//! no more than the newest `DB_BACKUP_MAX_N` of the backups the rules keep.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::words::{describe_duration, plural};
use super::{Action, INCOMPLETE, Period, Policy, Series, always_kept, future};

/// Why each rule keeps a backup (`kept_by`) or passes it over (`passed`), per backup of the series.
#[derive(Default, Clone)]
struct Verdicts {
    kept_by: Vec<String>,
    passed: Vec<String>,
}

/// One decision per backup of `series`, in its order.
pub(super) fn decide(
    series: &Series<'_>,
    policy: Policy,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<(Action, String)> {
    let verdicts = walk(series, policy, tz, now);
    let max_age =
        (policy.max_age_days > 0).then(|| TimeDelta::days(i64::from(policy.max_age_days)));
    let mut counted = 0u32;
    let mut out = Vec::with_capacity(series.backups.len());
    for ((index, c), v) in series.backups.iter().enumerate().zip(verdicts) {
        if let Some(reason) = future(c, now) {
            out.push((Action::Keep, reason));
            continue;
        }
        let age = now.signed_duration_since(c.taken_at);
        let mut broken = Vec::new();
        if let Some(max_age) = max_age.filter(|&max| age > max) {
            broken.push(format!(
                "older than {} ({} old)",
                plural(max_age.num_days(), "day"),
                describe_duration(age)
            ));
        } else if !v.kept_by.is_empty() {
            counted += 1;
            if policy.max_count > 0 && counted > policy.max_count {
                broken.push(format!(
                    "beyond the newest {} that the rules keep (number {counted})",
                    policy.max_count
                ));
            }
        }
        let rules = v.kept_by.join(", ");
        out.push(if Some(index) == series.newest_complete {
            let also = if rules.is_empty() {
                String::new()
            } else {
                format!("; also {rules}")
            };
            (Action::Keep, always_kept(series.name, &also, &broken))
        } else if !v.kept_by.is_empty() && broken.is_empty() {
            let mut reason = format!("kept by {rules}");
            if !c.complete {
                reason.push_str(INCOMPLETE);
            }
            (Action::Keep, reason)
        } else if !v.kept_by.is_empty() {
            (
                Action::Delete,
                format!("{}, though kept by {rules}", broken.join(" and ")),
            )
        } else {
            (
                Action::Delete,
                format!("kept by no rule: {}", v.passed.join("; ")),
            )
        });
    }
    out
}

/// Applies each keep rule to the series on its own, newest first; backups dated in the future take no part.
fn walk(series: &Series<'_>, policy: Policy, tz: Tz, now: DateTime<Utc>) -> Vec<Verdicts> {
    let mut verdicts = vec![Verdicts::default(); series.backups.len()];
    let local: Vec<Option<DateTime<Tz>>> = series
        .backups
        .iter()
        .map(|c| (c.taken_at <= now).then(|| c.taken_at.with_timezone(&tz)))
        .collect();
    for period in Period::ALL {
        let wanted = policy.keep.of(period);
        if wanted == 0 {
            continue;
        }
        let mut seen = HashSet::new();
        for (t, v) in local.iter().zip(verdicts.iter_mut()) {
            let Some(t) = t else { continue };
            let (noun, label) = (period.noun(), period.label(t));
            if !seen.insert(period.key(t)) {
                v.passed.push(format!("{noun} {label} has a newer backup"));
            } else if seen.len() as u64 <= u64::from(wanted) {
                v.kept_by.push(format!("{} {label}", period.variable()));
            } else {
                v.passed.push(format!(
                    "{noun} {label} is beyond the newest {}",
                    plural(i64::from(wanted), noun)
                ));
            }
        }
    }
    verdicts
}
