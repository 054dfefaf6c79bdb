//! The limits alone (no keep rule set): delete what is older than `BACKUP_RETENTION_DAYS` or beyond the newest
//! `DB_BACKUP_MAX_N`.

use chrono::{DateTime, TimeDelta, Utc};

use super::words::{describe_duration, plural, rank};
use super::{Action, INCOMPLETE, Policy, Series, always_kept, future};

/// One decision per backup of `series`, in its order.
pub(super) fn decide(
    series: &Series<'_>,
    policy: Policy,
    now: DateTime<Utc>,
) -> Vec<(Action, String)> {
    let max_age =
        (policy.max_age_days > 0).then(|| TimeDelta::days(i64::from(policy.max_age_days)));
    let max_count = (policy.max_count > 0).then_some(policy.max_count as usize);

    let mut position = 0usize;
    let mut out = Vec::with_capacity(series.backups.len());
    for (index, c) in series.backups.iter().enumerate() {
        if let Some(reason) = future(c, now) {
            out.push((Action::Keep, reason));
            continue;
        }
        let age = now.signed_duration_since(c.taken_at);
        position += 1;
        let mut broken = Vec::new();
        if let Some(max_age) = max_age.filter(|&max| age > max) {
            broken.push(format!(
                "older than {} ({} old)",
                plural(max_age.num_days(), "day"),
                describe_duration(age)
            ));
        }
        if let Some(max_count) = max_count.filter(|&max| position > max) {
            broken.push(format!("beyond the newest {max_count} (number {position})"));
        }
        out.push(if Some(index) == series.newest_complete {
            (Action::Keep, always_kept(series.name, "", &broken))
        } else if broken.is_empty() {
            let mut reason = format!("kept: {}, {} old", rank(position), describe_duration(age));
            if !c.complete {
                reason.push_str(INCOMPLETE);
            }
            (Action::Keep, reason)
        } else {
            (Action::Delete, broken.join(" and "))
        });
    }
    out
}
