//! Unit tests of backup names: the documented examples, round trips (by example and by property), names that
//! are not ours, and the instant a name stands for in a time zone.

use proptest::prelude::*;

use super::*;

fn dt(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, s)
        .unwrap()
}

fn name(prefix: &str, series: &str, kind: &str, c: Compression, encrypted: bool) -> BackupName {
    BackupName {
        prefix: prefix.into(),
        series: series.into(),
        time: dt(2025, 1, 2, 3, 4, 5),
        kind: kind.into(),
        compression: c,
        encrypted,
    }
}

#[test]
fn formats_the_documented_examples() {
    let mut n = name("", "postgres", "sql", Compression::Gzip, false);
    n.time = dt(2025, 12, 20, 3, 0, 0);
    assert_eq!(n.file_name(), "postgres-2025-12-20T03-00-00.sql.gz");
    assert_eq!(
        n.checksum_file_name(),
        "postgres-2025-12-20T03-00-00.sql.gz.sha256"
    );
    assert_eq!(n.to_string(), n.file_name());
    assert_eq!(
        checksummed_file(&n.checksum_file_name()),
        Some("postgres-2025-12-20T03-00-00.sql.gz")
    );
    assert_eq!(checksummed_file(&n.file_name()), None);
    assert_eq!(checksum_name_of("x"), "x.sha256");
    // The side files of a backup, and the backup each belongs to; a manifest is never a backup itself.
    let file = n.file_name();
    for side in side_files_of(&file) {
        assert_eq!(side_file_owner(&side), Some(file.as_str()));
        assert_eq!(BackupName::parse(&side, ""), None);
    }
    assert_eq!(manifest_name_of("x"), "x.manifest.json");
    assert_eq!(side_file_owner(&file), None);
    assert_eq!(
        name("myprefix-", "app-db", "dump", Compression::Zstd, true).file_name(),
        "myprefix-app-db-2025-01-02T03-04-05.dump.zst.age"
    );
    assert_eq!(
        name("", "x", "rdb", Compression::None, false).file_name(),
        "x-2025-01-02T03-04-05.rdb"
    );
    assert_eq!(
        name("", "x", "db", Compression::None, true).file_name(),
        "x-2025-01-02T03-04-05.db.age"
    );
}

#[test]
fn parses_the_documented_examples() {
    let n = BackupName::parse("postgres-2025-12-20T03-00-00.sql.gz", "").unwrap();
    assert_eq!(n.series, "postgres");
    assert_eq!(n.time, dt(2025, 12, 20, 3, 0, 0));
    assert_eq!(n.kind, "sql");
    assert_eq!(n.compression, Compression::Gzip);
    assert!(!n.encrypted);

    let n = BackupName::parse(
        "myprefix-app-db-2025-01-02T03-04-05.dump.zst.age",
        "myprefix-",
    )
    .unwrap();
    assert_eq!(
        n,
        name("myprefix-", "app-db", "dump", Compression::Zstd, true)
    );

    let n = BackupName::parse("x-2025-01-02T03-04-05.rdb", "").unwrap();
    assert_eq!(n, name("", "x", "rdb", Compression::None, false));
}

#[test]
fn round_trips() {
    let cases = [
        name("", "postgres", "sql", Compression::Gzip, false),
        name("", "a", "db", Compression::None, false),
        name("", "a", "db", Compression::None, true),
        name("", "a", "db", Compression::Gzip, true),
        name("p-", "app-db", "dump", Compression::Zstd, true),
        name("p", "-lead", "sql", Compression::Zstd, false),
        name(
            "backups.",
            "host.example.com",
            "sql",
            Compression::Gzip,
            false,
        ),
        name("", "trailing-", "sql", Compression::Gzip, false),
        name("", "a--b", "sql", Compression::Gzip, false),
        name("", "db_1", "My_Kind2", Compression::Zstd, false),
        // A series that itself looks like a backup name: the last timestamp wins.
        name(
            "",
            "x-2024-05-06T07-08-09.sql",
            "sql",
            Compression::Gzip,
            false,
        ),
        name("", "x-2024-05-06T07-08-09.", "sql", Compression::None, true),
        name("", "2024-05-06T07-08-09", "rdb", Compression::None, false),
        // Kinds that look like other things are still just kinds, because the kind comes first.
        name("", "a", "bz2", Compression::None, false),
        name("", "a", "partial", Compression::Gzip, false),
        name("", "a", "0", Compression::None, false),
    ];
    for n in cases {
        assert_eq!(
            BackupName::parse(&n.file_name(), &n.prefix),
            Some(n.clone()),
            "{}",
            n.file_name()
        );
    }
    for time in [
        dt(1970, 1, 1, 0, 0, 0),
        dt(2024, 2, 29, 23, 59, 59),
        dt(1, 1, 1, 0, 0, 0),
        dt(9999, 12, 31, 23, 59, 59),
    ] {
        let mut n = name("", "app", "sql", Compression::Gzip, false);
        n.time = time;
        assert_eq!(BackupName::parse(&n.file_name(), ""), Some(n));
    }
}

#[test]
fn rejects_names_that_are_not_ours() {
    let not_ours = [
        "foo.txt",
        "",
        ".x.partial",
        ".app-2025-01-01T00-00-00.sql.gz",
        ".app-2025-01-01T00-00-00.sql.gz.partial",
        "app-2025-01-01T00-00-00.sql.gz.partial",
        "app-2025-01-01T00-00-00.sql.gz.sha256",
        "app-2025-01-01T00-00-00.sql.sha256",
        "app-2025-13-01T00-00-00.sql",
        "app-2025-02-29T00-00-00.sql",
        "app-2025-01-32T00-00-00.sql",
        "app-2025-01-01T24-00-00.sql",
        "app-2025-01-01T00-60-00.sql",
        "app-2025-01-01T23-59-60.sql",
        "app-2025-01-01T00-00-00",
        "app-2025-01-01T00-00-00.",
        "app-2025-01-01T00-00-00.sql.",
        "app-2025-01-01T00-00-00..gz",
        "app-2025-01-01T00-00-00.sql.bz2",
        "app-2025-01-01T00-00-00.sql.gz.gz",
        "app-2025-01-01T00-00-00.sql.age.gz",
        "app-2025-01-01T00-00-00.sql.gz.age.age",
        "app-2025-01-01T00-00-00.sql-x",
        "app-2025-01-01T00-00-00.s-ql",
        "app-2025-01-01T00-00-00.gz",
        "app-2025-01-01T00-00-00.age",
        "app-2025-01-01T00-00-00.sha256",
        "app-2025-01-01 00-00-00.sql",
        "app-2025-1-01T00-00-00.sql",
        "app-2025-01-01T00:00:00.sql",
        "app_2025-01-01T00-00-00.sql",
        "-2025-01-01T00-00-00.sql",
        "2025-01-01T00-00-00.sql",
        "a b-2025-01-01T00-00-00.sql",
        "dir/app-2025-01-01T00-00-00.sql",
        "äpp-2025-01-01T00-00-00.sql",
        "app-2025-01-01T00-00-00.sqlé",
        "app-٢٠٢٥-01-01T00-00-00.sql",
    ];
    for n in not_ours {
        assert_eq!(BackupName::parse(n, ""), None, "{n:?}");
    }
}

#[test]
fn the_prefix_must_match() {
    let file = "pre-app-2025-01-01T00-00-00.sql";
    assert_eq!(BackupName::parse(file, "other-"), None);
    assert_eq!(BackupName::parse(file, "pre-app-"), None);
    assert_eq!(BackupName::parse(file, "PRE-"), None);
    assert_eq!(BackupName::parse(file, "pre-").unwrap().series, "app");
    // Without the prefix configured, the prefix reads as part of the series.
    assert_eq!(BackupName::parse(file, "").unwrap().series, "pre-app");
}

#[test]
fn taken_at_in_a_time_zone() {
    let tz = chrono_tz::Europe::Berlin;
    let mut n = name("", "app", "sql", Compression::Gzip, false);

    n.time = dt(2025, 1, 15, 3, 0, 0);
    assert_eq!(
        n.taken_at(tz),
        Utc.from_utc_datetime(&dt(2025, 1, 15, 2, 0, 0))
    );
    n.time = dt(2025, 7, 15, 3, 0, 0);
    assert_eq!(
        n.taken_at(tz),
        Utc.from_utc_datetime(&dt(2025, 7, 15, 1, 0, 0))
    );
    assert_eq!(
        n.taken_at(chrono_tz::UTC),
        Utc.from_utc_datetime(&dt(2025, 7, 15, 3, 0, 0))
    );

    // 02:30 happens twice on 2025-10-26 in Berlin: the earlier one is still in summer time.
    n.time = dt(2025, 10, 26, 2, 30, 0);
    assert_eq!(
        n.taken_at(tz),
        Utc.from_utc_datetime(&dt(2025, 10, 26, 0, 30, 0))
    );

    // 02:30 never happens on 2025-03-30 in Berlin: read as 03:30 summer time.
    n.time = dt(2025, 3, 30, 2, 30, 0);
    assert_eq!(
        n.taken_at(tz),
        Utc.from_utc_datetime(&dt(2025, 3, 30, 1, 30, 0))
    );

    // Samoa skipped all of 2011-12-30.
    n.time = dt(2011, 12, 30, 12, 0, 0);
    assert_eq!(
        n.taken_at(chrono_tz::Pacific::Apia),
        Utc.from_utc_datetime(&dt(2011, 12, 30, 10, 0, 0))
    );
}

#[test]
fn taken_at_never_panics_at_the_edges() {
    let mut n = name("", "app", "sql", Compression::Gzip, false);
    for time in [NaiveDateTime::MIN, NaiveDateTime::MAX] {
        n.time = time;
        for tz in [
            chrono_tz::UTC,
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Etc::GMTPlus12,
        ] {
            let _ = n.taken_at(tz);
        }
    }
}

fn component() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-][A-Za-z0-9._-]{0,20}"
}

fn backup_name() -> impl Strategy<Value = BackupName> {
    let prefix = prop_oneof![Just(String::new()), component()];
    let kind = "[A-Za-z0-9_]{1,8}".prop_filter("reserved kind", |k| check_kind(k).is_ok());
    let compression = prop_oneof![
        Just(Compression::Gzip),
        Just(Compression::Zstd),
        Just(Compression::None)
    ];
    let time = (0i64..=253_402_300_799).prop_map(|secs| {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .naive_utc()
    });
    (prefix, component(), time, kind, compression, any::<bool>()).prop_map(
        |(prefix, series, time, kind, compression, encrypted)| BackupName {
            prefix,
            series,
            time,
            kind,
            compression,
            encrypted,
        },
    )
}

#[test]
fn the_latest_link_is_named_after_the_backup() {
    let n = name("x_", "app-db", "sql", Compression::Gzip, true);
    assert_eq!(n.latest_link_name(), "x_app-db-latest.sql.gz.age");
    assert_eq!(
        latest_link_parts("x_app-db-latest.sql.gz.age"),
        Some(("x_app-db", ".sql.gz.age"))
    );
    assert_eq!(latest_link_parts("app-latest"), Some(("app", "")));
    assert_eq!(
        latest_link_parts("app-latest-latest.rdb"),
        Some(("app-latest", ".rdb"))
    );
    for not_a_link in [
        "app-2026-01-02T03-04-05.sql.gz",
        "-latest.sql",
        ".app-latest.sql.gz.new",
        "app-latest.",
        "app-latest.sql-x",
        "app-latestx.sql",
    ] {
        assert_eq!(latest_link_parts(not_a_link), None, "{not_a_link}");
    }
}

proptest! {
    #[test]
    fn a_latest_link_is_never_a_backup_and_names_its_series(n in backup_name()) {
        let link = n.latest_link_name();
        prop_assert_eq!(BackupName::parse(&link, &n.prefix), None);
        prop_assert_eq!(BackupName::parse(&link, ""), None);
        let stem = n.stem();
        prop_assert_eq!(latest_link_parts(&link).map(|(s, _)| s), Some(stem.as_str()));
    }

    #[test]
    fn parse_inverts_file_name(n in backup_name()) {
        prop_assert_eq!(BackupName::parse(&n.file_name(), &n.prefix), Some(n.clone()));
        prop_assert_eq!(BackupName::parse(&n.checksum_file_name(), &n.prefix), None);
    }

    #[test]
    fn parse_never_panics(s in ".*", prefix in ".{0,4}") {
        let _ = BackupName::parse(&s, &prefix);
        let _ = BackupName::parse(&s, "");
    }

    #[test]
    fn parse_never_panics_on_near_misses(
        s in "[a.-]{0,3}[0-9]{1,4}-[0-9]{1,3}-[0-9]{1,3}T[0-9]{2}-[0-9]{2}-[0-9]{2}[.a-z]{0,12}",
    ) {
        if let Some(n) = BackupName::parse(&s, "") {
            prop_assert_eq!(n.file_name(), s);
        }
    }

    #[test]
    fn parsed_names_format_back_to_themselves(n in backup_name(), cut in 0usize..60, junk in ".{0,3}") {
        // Any mangled variant either is not ours or is a name we would have written ourselves.
        let mut s = n.file_name();
        let cut = cut.min(s.len());
        s.insert_str(cut, &junk);
        if let Some(parsed) = BackupName::parse(&s, &n.prefix) {
            prop_assert_eq!(parsed.file_name(), s);
        }
    }

    #[test]
    fn taken_at_never_panics(secs in any::<i64>(), tz_index in 0usize..chrono_tz::TZ_VARIANTS.len()) {
        let time = chrono::DateTime::from_timestamp(secs / 1000, 0)
            .map_or(NaiveDateTime::MIN, |t| t.naive_utc());
        let mut n = name("", "a", "sql", Compression::None, false);
        n.time = time;
        let _ = n.taken_at(chrono_tz::TZ_VARIANTS[tz_index]);
    }
}
