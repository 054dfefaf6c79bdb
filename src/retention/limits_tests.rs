//! Tests of the limits (`BACKUP_RETENTION_DAYS`, `DB_BACKUP_MAX_N`) when no keep rule is set.

use super::words::{describe_duration, rank};
use super::*;
use chrono::TimeDelta;
use chrono_tz::UTC;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

fn ago(series: &str, hours: i64, complete: bool) -> Candidate {
    let taken_at = now() - TimeDelta::hours(hours);
    Candidate {
        file_name: format!("{series}-{}.sql.gz", taken_at.format("%Y-%m-%dT%H-%M-%S")),
        series: series.to_owned(),
        taken_at,
        complete,
    }
}

fn policy(max_age_days: u32, max_count: u32) -> Policy {
    Policy {
        max_age_days,
        max_count,
        keep: Keep::default(),
    }
}

fn actions(decisions: &[Decision]) -> Vec<(String, Action)> {
    decisions
        .iter()
        .map(|d| (d.file_name.clone(), d.action))
        .collect()
}

fn find<'a>(decisions: &'a [Decision], c: &Candidate) -> &'a Decision {
    decisions
        .iter()
        .find(|d| d.file_name == c.file_name)
        .unwrap()
}

#[test]
fn nothing_to_do() {
    assert!(plan(&[], policy(7, 10), UTC, now()).is_empty());
}

#[test]
fn no_limits_keeps_everything() {
    let cs: Vec<_> = (0..30).map(|i| ago("app", i * 24, i % 2 == 0)).collect();
    let ds = plan(&cs, policy(0, 0), UTC, now());
    assert_eq!(ds.len(), 30);
    assert!(ds.iter().all(|d| d.action == Action::Keep));
}

#[test]
fn deletes_by_age() {
    let cs = [
        ago("app", 1, true),
        ago("app", 7 * 24, true),
        ago("app", 7 * 24 + 1, true),
        ago("app", 9 * 24, true),
    ];
    let ds = plan(&cs, policy(7, 0), UTC, now());
    assert_eq!(
        actions(&ds),
        vec![
            (cs[0].file_name.clone(), Action::Keep),
            // Exactly seven days old is not older than seven days.
            (cs[1].file_name.clone(), Action::Keep),
            (cs[2].file_name.clone(), Action::Delete),
            (cs[3].file_name.clone(), Action::Delete),
        ]
    );
    assert_eq!(
        ds[0].reason,
        "newest complete backup of series app: always kept"
    );
    assert_eq!(ds[1].reason, "kept: 2nd newest, 7 days old");
    assert_eq!(ds[2].reason, "older than 7 days (7 days 1 hour old)");
    assert_eq!(ds[3].reason, "older than 7 days (9 days old)");
}

#[test]
fn deletes_by_count() {
    let cs: Vec<_> = (0..12).map(|i| ago("app", i * 24, true)).collect();
    let ds = plan(&cs, policy(0, 10), UTC, now());
    let deleted: Vec<_> = ds
        .iter()
        .filter(|d| d.action == Action::Delete)
        .map(|d| d.file_name.clone())
        .collect();
    assert_eq!(
        deleted,
        vec![cs[10].file_name.clone(), cs[11].file_name.clone()]
    );
    assert_eq!(find(&ds, &cs[2]).reason, "kept: 3rd newest, 2 days old");
    assert_eq!(
        find(&ds, &cs[11]).reason,
        "beyond the newest 10 (number 12)"
    );
}

#[test]
fn both_rules_are_named_when_both_apply() {
    let cs = [ago("app", 0, true), ago("app", 10 * 24, true)];
    let ds = plan(&cs, policy(7, 1), UTC, now());
    assert_eq!(
        find(&ds, &cs[1]).reason,
        "older than 7 days (10 days old) and beyond the newest 1 (number 2)"
    );
}

#[test]
fn the_newest_complete_backup_is_always_kept() {
    let cs = [
        ago("app", 20 * 24, false),
        ago("app", 30 * 24, true),
        ago("app", 40 * 24, true),
    ];
    let ds = plan(&cs, policy(7, 1), UTC, now());
    assert_eq!(
        actions(&ds),
        vec![
            (cs[0].file_name.clone(), Action::Delete),
            (cs[1].file_name.clone(), Action::Keep),
            (cs[2].file_name.clone(), Action::Delete),
        ]
    );
    assert_eq!(
        ds[1].reason,
        "newest complete backup of series app: always kept, \
         though older than 7 days (30 days old) and beyond the newest 1 (number 2)"
    );
}

#[test]
fn incomplete_backups_follow_the_rules_but_never_protect_the_series() {
    let cs = [
        ago("app", 1, false),
        ago("app", 2, false),
        ago("app", 3, true),
        ago("app", 4, false),
    ];
    let ds = plan(&cs, policy(0, 2), UTC, now());
    assert_eq!(
        actions(&ds),
        vec![
            (cs[0].file_name.clone(), Action::Keep),
            (cs[1].file_name.clone(), Action::Keep),
            (cs[2].file_name.clone(), Action::Keep),
            (cs[3].file_name.clone(), Action::Delete),
        ]
    );
    assert_eq!(
        ds[0].reason,
        "kept: newest, 1 hour old (incomplete: no checksum file)"
    );
    assert_eq!(
        ds[2].reason,
        "newest complete backup of series app: always kept, though beyond the newest 2 (number 3)"
    );

    // Without any complete backup, nothing is protected.
    let cs = [ago("app", 30 * 24, false), ago("app", 40 * 24, false)];
    let ds = plan(&cs, policy(7, 0), UTC, now());
    assert!(ds.iter().all(|d| d.action == Action::Delete));
}

#[test]
fn future_backups_are_kept_and_not_counted() {
    let cs = [
        ago("app", -5, true),
        ago("app", -3 * 24, false),
        ago("app", 1, true),
        ago("app", 2, true),
    ];
    let ds = plan(&cs, policy(1, 1), UTC, now());
    assert_eq!(
        actions(&ds),
        vec![
            (cs[1].file_name.clone(), Action::Keep),
            (cs[0].file_name.clone(), Action::Keep),
            (cs[2].file_name.clone(), Action::Keep),
            (cs[3].file_name.clone(), Action::Delete),
        ]
    );
    assert_eq!(
        ds[0].reason,
        "kept: dated 3 days in the future (clock skew?)"
    );
    assert_eq!(
        ds[1].reason,
        "kept: dated 5 hours in the future (clock skew?)"
    );
    assert_eq!(
        ds[2].reason,
        "newest complete backup of series app: always kept"
    );
    assert_eq!(ds[3].reason, "beyond the newest 1 (number 2)");
}

#[test]
fn series_are_separate_and_sorted() {
    let cs = [
        ago("b", 5, true),
        ago("a", 1, true),
        ago("b", 1, true),
        ago("a", 3, true),
        ago("a", 2, true),
    ];
    let ds = plan(&cs, policy(0, 2), UTC, now());
    let got: Vec<_> = ds
        .iter()
        .map(|d| (d.series.as_str(), d.file_name.as_str(), d.action))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a", cs[1].file_name.as_str(), Action::Keep),
            ("a", cs[4].file_name.as_str(), Action::Keep),
            ("a", cs[3].file_name.as_str(), Action::Delete),
            ("b", cs[2].file_name.as_str(), Action::Keep),
            ("b", cs[0].file_name.as_str(), Action::Keep),
        ]
    );
}

#[test]
fn ties_are_broken_by_file_name() {
    let t = now() - TimeDelta::hours(1);
    let mk = |name: &str| Candidate {
        file_name: name.to_owned(),
        series: "app".to_owned(),
        taken_at: t,
        complete: true,
    };
    let cs = [mk("app-a.sql"), mk("app-c.sql"), mk("app-b.sql")];
    let ds = plan(&cs, policy(0, 1), UTC, now());
    assert_eq!(
        actions(&ds),
        vec![
            ("app-c.sql".to_owned(), Action::Keep),
            ("app-b.sql".to_owned(), Action::Delete),
            ("app-a.sql".to_owned(), Action::Delete),
        ]
    );
}

#[test]
fn describes_ranks_and_durations() {
    let ranks: Vec<_> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111, 112]
        .into_iter()
        .map(rank)
        .collect();
    assert_eq!(
        ranks,
        [
            "newest",
            "2nd newest",
            "3rd newest",
            "4th newest",
            "11th newest",
            "12th newest",
            "13th newest",
            "21st newest",
            "22nd newest",
            "23rd newest",
            "101st newest",
            "111th newest",
            "112th newest"
        ]
    );
    let d = |s: i64| describe_duration(TimeDelta::seconds(s));
    assert_eq!(d(0), "0 seconds");
    assert_eq!(d(1), "1 second");
    assert_eq!(d(59), "59 seconds");
    assert_eq!(d(60), "1 minute");
    assert_eq!(d(3_599), "59 minutes");
    assert_eq!(d(3_600), "1 hour");
    assert_eq!(d(86_399), "23 hours");
    assert_eq!(d(86_400), "1 day");
    assert_eq!(d(86_400 + 3_600), "1 day 1 hour");
    assert_eq!(d(9 * 86_400 + 7_300), "9 days 2 hours");
}

#[test]
fn actions_display() {
    assert_eq!(Action::Keep.to_string(), "keep");
    assert_eq!(Action::Delete.to_string(), "delete");
}

const SERIES: [&str; 4] = ["app", "app-db", "b", "postgres"];

/// Candidates with unique file names; hours are coarse so ties and exact limits are common.
fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    proptest::collection::vec((0..SERIES.len(), -48i64..24 * 40, any::<bool>()), 0..40).prop_map(
        |raw| {
            raw.into_iter()
                .enumerate()
                .map(|(i, (s, hours, complete))| Candidate {
                    file_name: format!("{}-{i:03}", SERIES[s]),
                    series: SERIES[s].to_owned(),
                    taken_at: now() - TimeDelta::hours(hours),
                    complete,
                })
                .collect()
        },
    )
}

fn any_policy() -> impl Strategy<Value = Policy> {
    (0u32..15, 0u32..8).prop_map(|(a, c)| policy(a, c))
}

/// A limit no looser than `loose` (0 means none).
fn tighter(loose: u32) -> BoxedStrategy<u32> {
    if loose == 0 {
        (0u32..15).boxed()
    } else {
        (1..=loose).boxed()
    }
}

fn deleted(ds: &[Decision]) -> BTreeSet<String> {
    ds.iter()
        .filter(|d| d.action == Action::Delete)
        .map(|d| d.file_name.clone())
        .collect()
}

fn sorted_series(cs: &[Candidate], series: &str) -> Vec<Candidate> {
    let mut v: Vec<_> = cs.iter().filter(|c| c.series == series).cloned().collect();
    v.sort_by(|a, b| (b.taken_at, &b.file_name).cmp(&(a.taken_at, &a.file_name)));
    v
}

proptest! {
    #[test]
    fn every_candidate_appears_exactly_once(cs in candidates(), p in any_policy()) {
        let ds = plan(&cs, p, UTC, now());
        prop_assert_eq!(ds.len(), cs.len());
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for d in &ds {
            *seen.entry(d.file_name.as_str()).or_default() += 1;
            let c = cs.iter().find(|c| c.file_name == d.file_name).unwrap();
            prop_assert_eq!(&c.series, &d.series);
            prop_assert!(!d.reason.is_empty());
        }
        prop_assert!(cs.iter().all(|c| seen.get(c.file_name.as_str()) == Some(&1)));
    }

    #[test]
    fn output_is_by_series_then_newest_first(cs in candidates(), p in any_policy()) {
        let ds = plan(&cs, p, UTC, now());
        let expected: Vec<String> = SERIES
            .iter()
            .flat_map(|s| sorted_series(&cs, s))
            .map(|c| c.file_name)
            .collect();
        let got: Vec<String> = ds.into_iter().map(|d| d.file_name).collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn the_newest_complete_of_each_series_is_kept(cs in candidates(), p in any_policy()) {
        let ds = plan(&cs, p, UTC, now());
        for s in SERIES {
            if let Some(newest) = sorted_series(&cs, s).into_iter().find(|c| c.complete) {
                prop_assert_eq!(find(&ds, &newest).action, Action::Keep);
            }
            if let Some(newest) = sorted_series(&cs, s)
                .into_iter()
                .find(|c| c.complete && c.taken_at <= now())
            {
                prop_assert_eq!(find(&ds, &newest).action, Action::Keep);
            }
        }
    }

    #[test]
    fn deletes_exactly_what_breaks_a_rule(cs in candidates(), p in any_policy()) {
        let ds = plan(&cs, p, UTC, now());
        for s in SERIES {
            let sorted = sorted_series(&cs, s);
            let newest_complete = sorted
                .iter()
                .find(|c| c.complete && c.taken_at <= now())
                .map(|c| c.file_name.clone());
            let mut position = 0u32;
            for (index, c) in sorted.iter().enumerate() {
                let future = c.taken_at > now();
                if !future {
                    position += 1;
                }
                let too_old = p.max_age_days > 0
                    && now() - c.taken_at > TimeDelta::days(i64::from(p.max_age_days));
                // Counting future backups too can only make a position larger.
                let beyond_counting_all = p.max_count > 0 && index + 1 > p.max_count as usize;
                let beyond = p.max_count > 0 && position > p.max_count;
                let action = find(&ds, c).action;
                if !too_old && !beyond_counting_all {
                    prop_assert_eq!(action, Action::Keep, "{:?}", c);
                }
                let protected = future || newest_complete.as_deref() == Some(c.file_name.as_str());
                let expected = if !protected && (too_old || beyond) {
                    Action::Delete
                } else {
                    Action::Keep
                };
                prop_assert_eq!(action, expected, "{:?}", c);
            }
        }
    }

    #[test]
    fn future_backups_are_never_deleted(cs in candidates(), p in any_policy()) {
        let ds = plan(&cs, p, UTC, now());
        for c in cs.iter().filter(|c| c.taken_at > now()) {
            prop_assert_eq!(find(&ds, c).action, Action::Keep);
        }
    }

    #[test]
    fn a_stricter_policy_deletes_at_least_as_much(
        (cs, loose, strict) in (candidates(), any_policy()).prop_flat_map(|(cs, loose)| {
            let strict = (tighter(loose.max_age_days), tighter(loose.max_count))
                .prop_map(|(a, c)| policy(a, c));
            (Just(cs), Just(loose), strict)
        })
    ) {
        let loose_deleted = deleted(&plan(&cs, loose, UTC, now()));
        let strict_deleted = deleted(&plan(&cs, strict, UTC, now()));
        prop_assert!(
            loose_deleted.is_subset(&strict_deleted),
            "{:?} deletes {:?} but {:?} deletes only {:?}",
            loose, loose_deleted, strict, strict_deleted
        );
    }

    #[test]
    fn series_are_decided_independently(cs in candidates(), p in any_policy()) {
        let all = plan(&cs, p, UTC, now());
        for s in SERIES {
            let alone: Vec<Candidate> = cs.iter().filter(|c| c.series == s).cloned().collect();
            let from_all: Vec<Decision> = all.iter().filter(|d| d.series == s).cloned().collect();
            prop_assert_eq!(plan(&alone, p, UTC, now()), from_all);
        }
    }

    #[test]
    fn input_order_does_not_matter(cs in candidates(), p in any_policy(), seed in any::<u64>()) {
        let mut shuffled = cs.clone();
        // A cheap deterministic shuffle; the property only needs a different order.
        let n = shuffled.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(i as u64 + 1) >> 7) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        prop_assert_eq!(plan(&shuffled, p, UTC, now()), plan(&cs, p, UTC, now()));
    }
}
