//! Property tests of the keep rules against a plain reference implementation, over years of synthetic series:
//! gaps from minutes to a year, several backups a day, time zones with DST changes (also at midnight and by half
//! an hour), backups dated in the future and backups without their checksum file.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{Action, Candidate, Decision, Keep, Policy, plan};

const ZONES: [Tz; 8] = [
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    // DST changes at midnight.
    chrono_tz::America::Santiago,
    // Half an hour of DST.
    chrono_tz::Australia::Lord_Howe,
    // Skipped 2011-12-30 entirely.
    chrono_tz::Pacific::Apia,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Pacific::Chatham,
];

const VARIABLES: [&str; 5] = [
    "BACKUP_KEEP_HOURLY",
    "BACKUP_KEEP_DAILY",
    "BACKUP_KEEP_WEEKLY",
    "BACKUP_KEEP_MONTHLY",
    "BACKUP_KEEP_YEARLY",
];
/// The period of each rule as a string that sorts like time: hour, day, ISO week, month, year.
const PERIOD_FORMATS: [&str; 5] = ["%Y-%m-%d %H", "%Y-%m-%d", "%G-W%V", "%Y-%m", "%Y"];

#[derive(Debug, Clone)]
struct Scene {
    tz: Tz,
    candidates: Vec<Candidate>,
    now: DateTime<Utc>,
}

/// The time to the next backup: mostly hours or about a day, sometimes days or months of nothing.
fn gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 60i64..6 * 3_600,
        4 => 20 * 3_600i64..28 * 3_600,
        1 => 2 * 86_400i64..40 * 86_400,
        1 => 40 * 86_400i64..400 * 86_400,
    ]
}

fn scene() -> impl Strategy<Value = Scene> {
    (
        0..ZONES.len(),
        // 2000-01-01 .. 2034-01-01
        946_684_800i64..2_019_686_400,
        proptest::collection::vec((gap(), 0usize..2, prop::bool::weighted(0.85)), 1..250),
        -3 * 86_400i64..30 * 86_400,
    )
        .prop_map(|(zone, start, steps, after)| {
            let mut t = DateTime::from_timestamp(start, 0).expect("in range");
            let mut candidates = Vec::new();
            for (i, (gap, series, complete)) in steps.into_iter().enumerate() {
                t += TimeDelta::seconds(gap);
                let series = ["app", "db"][series];
                candidates.push(Candidate {
                    file_name: format!("{series}-{i:04}"),
                    series: series.to_owned(),
                    taken_at: t,
                    complete,
                });
            }
            Scene {
                tz: ZONES[zone],
                candidates,
                now: t + TimeDelta::seconds(after),
            }
        })
}

fn rule_count() -> impl Strategy<Value = u32> {
    prop_oneof![2 => Just(0u32), 3 => 1u32..12]
}

/// Keep rules with at least one of them set.
fn keep() -> impl Strategy<Value = Keep> {
    (
        rule_count(),
        rule_count(),
        rule_count(),
        rule_count(),
        rule_count(),
    )
        .prop_map(|(hourly, daily, weekly, monthly, yearly)| Keep {
            hourly,
            daily: if hourly + weekly + monthly + yearly == 0 {
                daily.max(1)
            } else {
                daily
            },
            weekly,
            monthly,
            yearly,
        })
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        keep(),
        prop_oneof![Just(0u32), 1u32..800],
        prop_oneof![Just(0u32), 1u32..40],
    )
        .prop_map(|(keep, max_age_days, max_count)| Policy {
            max_age_days,
            max_count,
            keep,
        })
}

/// Which rules keep each backup, by the definition: per series and rule, group the backups (those not in the
/// future) by period, take the latest N periods, keep the newest backup of each.
fn rules_keeping(scene: &Scene, keep: Keep) -> HashMap<String, BTreeSet<&'static str>> {
    let wanted = [
        keep.hourly,
        keep.daily,
        keep.weekly,
        keep.monthly,
        keep.yearly,
    ];
    let mut kept: HashMap<String, BTreeSet<&'static str>> = HashMap::new();
    for series in ["app", "db"] {
        for rule in 0..5 {
            let mut newest_of: BTreeMap<String, &Candidate> = BTreeMap::new();
            for c in &scene.candidates {
                if c.series != series || c.taken_at > scene.now {
                    continue;
                }
                let period = c
                    .taken_at
                    .with_timezone(&scene.tz)
                    .format(PERIOD_FORMATS[rule])
                    .to_string();
                let newest = newest_of.entry(period).or_insert(c);
                if c.taken_at > newest.taken_at {
                    *newest = c;
                }
            }
            for c in newest_of.values().rev().take(wanted[rule] as usize) {
                kept.entry(c.file_name.clone())
                    .or_default()
                    .insert(VARIABLES[rule]);
            }
        }
    }
    kept
}

/// What the whole policy keeps, by the definition: what a rule keeps unless older than the age limit or beyond
/// the newest `max_count` of those; the newest complete backup of each series; whatever is dated in the future.
fn kept_by_definition(scene: &Scene, policy: Policy) -> BTreeSet<String> {
    let by_rules = rules_keeping(scene, policy.keep);
    let mut kept = BTreeSet::new();
    for series in ["app", "db"] {
        let mut backups: Vec<&Candidate> = scene
            .candidates
            .iter()
            .filter(|c| c.series == series)
            .collect();
        backups.sort_by_key(|c| std::cmp::Reverse(c.taken_at));
        if let Some(c) = backups
            .iter()
            .find(|c| c.complete && c.taken_at <= scene.now)
        {
            kept.insert(c.file_name.clone());
        }
        let mut counted = 0;
        for c in backups {
            let age = scene.now - c.taken_at;
            let too_old =
                policy.max_age_days > 0 && age > TimeDelta::days(i64::from(policy.max_age_days));
            if age < TimeDelta::zero() {
                kept.insert(c.file_name.clone());
            } else if by_rules.contains_key(&c.file_name) && !too_old {
                counted += 1;
                if policy.max_count == 0 || counted <= policy.max_count {
                    kept.insert(c.file_name.clone());
                }
            }
        }
    }
    kept
}

fn kept(ds: &[Decision]) -> BTreeSet<String> {
    ds.iter()
        .filter(|d| d.action == Action::Keep)
        .map(|d| d.file_name.clone())
        .collect()
}

fn no_limits(keep: Keep) -> Policy {
    Policy {
        max_age_days: 0,
        max_count: 0,
        keep,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn keeps_exactly_what_the_definition_keeps(s in scene(), p in policy()) {
        let ds = plan(&s.candidates, p, s.tz, s.now);
        prop_assert_eq!(ds.len(), s.candidates.len());
        prop_assert_eq!(kept(&ds), kept_by_definition(&s, p));
    }

    #[test]
    fn each_reason_names_exactly_the_rules_that_keep_the_backup(s in scene(), k in keep()) {
        let by_rules = rules_keeping(&s, k);
        for d in plan(&s.candidates, no_limits(k), s.tz, s.now) {
            let expected = by_rules.get(&d.file_name).cloned().unwrap_or_default();
            let named: BTreeSet<&str> =
                VARIABLES.into_iter().filter(|v| d.reason.contains(v)).collect();
            prop_assert_eq!(named, expected, "{:?}", d);
        }
    }

    #[test]
    fn a_second_prune_deletes_nothing(s in scene(), p in policy()) {
        let first = kept(&plan(&s.candidates, p, s.tz, s.now));
        let left: Vec<Candidate> =
            s.candidates.iter().filter(|c| first.contains(&c.file_name)).cloned().collect();
        let second = plan(&left, p, s.tz, s.now);
        let deleted: Vec<&Decision> = second.iter().filter(|d| d.action == Action::Delete).collect();
        prop_assert!(deleted.is_empty(), "{:?}", deleted);
    }

    #[test]
    fn keeping_more_periods_deletes_nothing_more(s in scene(), k in keep(), rule in 0usize..5, more in 1u32..5) {
        let mut bigger = k;
        *[&mut bigger.hourly, &mut bigger.daily, &mut bigger.weekly, &mut bigger.monthly, &mut bigger.yearly][rule] += more;
        let small = kept(&plan(&s.candidates, no_limits(k), s.tz, s.now));
        let large = kept(&plan(&s.candidates, no_limits(bigger), s.tz, s.now));
        prop_assert!(small.is_subset(&large), "{:?} keeps {:?} but {:?} only {:?}", k, small, bigger, large);
    }
}
