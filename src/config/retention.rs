//! The retention settings: the limits (`BACKUP_RETENTION_DAYS`, `DB_BACKUP_MAX_N`), the keep rules
//! (`BACKUP_KEEP_HOURLY` ... `_YEARLY`), and how they combine, refusing combinations that cannot mean what the
//! user wants.
//!
//! Without keep rules the limits decide, with their defaults (7 days, 10 backups). With any keep rule the rules
//! decide and the limits default to none; a limit that is set still caps what the rules keep, so it must leave
//! room for them: `BACKUP_RETENTION_DAYS` at least the longest rule's reach, `DB_BACKUP_MAX_N` at least the sum
//! of the rules.

use super::raw::Raw;
use super::values::number;
use crate::error::ConfigError;
use crate::retention::{Keep, Period, Policy};

/// The retention policy from the raw settings.
pub fn validate(raw: &Raw) -> Result<Policy, ConfigError> {
    let keep = Keep {
        hourly: count(Period::Hour, raw.backup_keep_hourly.as_deref())?,
        daily: count(Period::Day, raw.backup_keep_daily.as_deref())?,
        weekly: count(Period::Week, raw.backup_keep_weekly.as_deref())?,
        monthly: count(Period::Month, raw.backup_keep_monthly.as_deref())?,
        yearly: count(Period::Year, raw.backup_keep_yearly.as_deref())?,
    };
    let days = raw
        .backup_retention_days
        .as_deref()
        .map(|v| {
            number(
                "BACKUP_RETENTION_DAYS",
                v,
                "a whole number of days, 0 for no limit",
            )
        })
        .transpose()?;
    let max_n = raw
        .db_backup_max_n
        .as_deref()
        .map(|v| {
            number(
                "DB_BACKUP_MAX_N",
                v,
                "a whole number of backups, 0 for no limit",
            )
        })
        .transpose()?;
    if !keep.any() {
        return Ok(Policy {
            max_age_days: days.unwrap_or(7),
            max_count: max_n.unwrap_or(10),
            keep,
        });
    }
    let policy = Policy {
        max_age_days: days.unwrap_or(0),
        max_count: max_n.unwrap_or(0),
        keep,
    };
    let rules = || {
        Period::ALL
            .iter()
            .filter(|&&p| keep.of(p) > 0)
            .map(|&p| format!("{}={}", p.variable(), keep.of(p)))
            .collect::<Vec<_>>()
    };
    if policy.max_age_days > 0 {
        let (period, reach) = Period::ALL
            .iter()
            .map(|&p| (p, p.reach_days(keep.of(p))))
            .max_by_key(|&(_, reach)| reach)
            .unwrap_or((Period::Day, 0));
        if u64::from(policy.max_age_days) < reach {
            let n = keep.of(period);
            return Err(ConfigError::new(
                "BACKUP_RETENTION_DAYS",
                format!(
                    "{days} deletes every backup older than {days} days, but {}={n} keeps backups up to {reach} \
                     days old ({n} {}s), so that rule could never keep them all; set BACKUP_RETENTION_DAYS to \
                     at least {reach}, or to 0 to let the BACKUP_KEEP_* rules alone decide",
                    period.variable(),
                    period.noun(),
                    days = policy.max_age_days,
                ),
            ));
        }
    }
    if policy.max_count > 0 && u64::from(policy.max_count) < keep.total() {
        return Err(ConfigError::new(
            "DB_BACKUP_MAX_N",
            format!(
                "{max} keeps at most {max} backups per series, but {} keep up to {} together, so some of \
                 them could never be kept; set DB_BACKUP_MAX_N to at least {}, or to 0 to let the \
                 BACKUP_KEEP_* rules alone decide",
                rules().join(" + "),
                keep.total(),
                keep.total(),
                max = policy.max_count,
            ),
        ));
    }
    Ok(policy)
}

/// The settings as `config` prints them (the limits are printed with the rest of the storage settings).
pub fn describe(policy: &crate::retention::Policy) -> Vec<(&'static str, String)> {
    Period::ALL
        .iter()
        .map(|&p| (p.variable(), policy.keep.of(p).to_string()))
        .collect()
}

fn count(period: Period, value: Option<&str>) -> Result<u32, ConfigError> {
    let Some(value) = value else { return Ok(0) };
    number(
        period.variable(),
        value,
        &format!(
            "a whole number of {}s to keep the newest backup of, 0 for none",
            period.noun()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(pairs: &[(&str, &str)]) -> Result<Policy, ConfigError> {
        let vars: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        validate(&super::super::raw::read(&vars, &|_| {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        })?)
    }

    fn refused(pairs: &[(&str, &str)]) -> ConfigError {
        match policy(pairs) {
            Ok(p) => panic!("{pairs:?} was accepted: {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn without_keep_rules_the_limits_keep_their_defaults() {
        let p = policy(&[]).unwrap();
        assert_eq!((p.max_age_days, p.max_count, p.keep.any()), (7, 10, false));
        let p = policy(&[("BACKUP_RETENTION_DAYS", "3"), ("BACKUP_KEEP_DAILY", "0")]).unwrap();
        assert_eq!((p.max_age_days, p.max_count, p.keep.any()), (3, 10, false));
    }

    #[test]
    fn with_keep_rules_the_limits_default_to_none() {
        let p = policy(&[
            ("BACKUP_KEEP_HOURLY", "24"),
            ("BACKUP_KEEP_DAILY", "7"),
            ("BACKUP_KEEP_WEEKLY", "4"),
            ("BACKUP_KEEP_MONTHLY", "12"),
            ("BACKUP_KEEP_YEARLY", "3"),
        ])
        .unwrap();
        assert_eq!(
            p,
            Policy {
                max_age_days: 0,
                max_count: 0,
                keep: Keep {
                    hourly: 24,
                    daily: 7,
                    weekly: 4,
                    monthly: 12,
                    yearly: 3
                }
            }
        );
        assert_eq!(describe(&p)[3], ("BACKUP_KEEP_MONTHLY", "12".to_string()));
    }

    #[test]
    fn limits_that_leave_room_for_the_rules_are_caps() {
        let p = policy(&[
            ("BACKUP_KEEP_DAILY", "7"),
            ("BACKUP_KEEP_MONTHLY", "12"),
            ("BACKUP_RETENTION_DAYS", "372"),
            ("DB_BACKUP_MAX_N", "19"),
        ])
        .unwrap();
        assert_eq!((p.max_age_days, p.max_count), (372, 19));
        // 0 is no limit, as everywhere.
        let p = policy(&[
            ("BACKUP_KEEP_WEEKLY", "4"),
            ("BACKUP_RETENTION_DAYS", "0"),
            ("DB_BACKUP_MAX_N", "0"),
        ])
        .unwrap();
        assert_eq!((p.max_age_days, p.max_count, p.keep.weekly), (0, 0, 4));
    }

    #[test]
    fn an_age_limit_shorter_than_a_rule_is_refused() {
        let e = refused(&[
            ("BACKUP_KEEP_DAILY", "7"),
            ("BACKUP_KEEP_WEEKLY", "4"),
            ("BACKUP_RETENTION_DAYS", "7"),
        ]);
        assert_eq!(e.variable, "BACKUP_RETENTION_DAYS");
        for said in ["BACKUP_KEEP_WEEKLY=4", "28 days", "at least 28", "or to 0"] {
            assert!(e.message.contains(said), "{said}: {e}");
        }
        let e = refused(&[
            ("BACKUP_KEEP_MONTHLY", "12"),
            ("BACKUP_RETENTION_DAYS", "371"),
        ]);
        assert!(e.message.contains("at least 372"), "{e}");
        let e = refused(&[("BACKUP_KEEP_HOURLY", "48"), ("BACKUP_RETENTION_DAYS", "1")]);
        assert!(e.message.contains("BACKUP_KEEP_HOURLY=48"), "{e}");
        policy(&[("BACKUP_KEEP_HOURLY", "48"), ("BACKUP_RETENTION_DAYS", "2")]).unwrap();
    }

    #[test]
    fn a_count_limit_below_the_rules_total_is_refused() {
        let e = refused(&[
            ("BACKUP_KEEP_DAILY", "7"),
            ("BACKUP_KEEP_WEEKLY", "4"),
            ("DB_BACKUP_MAX_N", "10"),
        ]);
        assert_eq!(e.variable, "DB_BACKUP_MAX_N");
        for said in [
            "BACKUP_KEEP_DAILY=7 + BACKUP_KEEP_WEEKLY=4",
            "up to 11",
            "at least 11",
        ] {
            assert!(e.message.contains(said), "{said}: {e}");
        }
        policy(&[
            ("BACKUP_KEEP_DAILY", "7"),
            ("BACKUP_KEEP_WEEKLY", "4"),
            ("DB_BACKUP_MAX_N", "11"),
        ])
        .unwrap();
    }

    #[test]
    fn bad_numbers_name_the_variable() {
        for var in Period::ALL.map(Period::variable) {
            for bad in ["-1", "weekly", "1.5"] {
                let e = refused(&[(var, bad)]);
                assert_eq!(e.variable, var);
                assert!(e.message.contains("whole number"), "{e}");
            }
        }
    }
}
