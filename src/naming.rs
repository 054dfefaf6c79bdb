//! Backup file names: formatting and parsing them, in one place, so both can never drift apart.
//!
//! A name is `<prefix><series>-<YYYY-MM-DD>T<HH-MM-SS>.<kind><compression suffix>[.age]`, for example
//! `postgres-2025-12-20T03-00-00.sql.gz`; its checksum file is the same name plus `.sha256`.

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};

use crate::pipeline::Compression;

/// Appended to a backup's file name to name the checksum file beside it.
pub const CHECKSUM_SUFFIX: &str = ".sha256";

/// Appended after the compression suffix when the backup is encrypted with age.
pub const ENCRYPTED_SUFFIX: &str = ".age";

/// Words that follow the kind in a name; a kind spelled like one of them would make a name misleading
/// (`x-...T....gz` that is not gzip) and is refused.
const RESERVED_KINDS: [&str; 4] = ["gz", "zst", "age", "sha256"];

/// `-YYYY-MM-DDTHH-MM-SS.`: the separator before the timestamp, the timestamp and the dot after it.
const STAMP_LEN: usize = 21;

/// One backup file, as its name describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupName {
    pub prefix: String,
    pub series: String,
    /// Wall-clock time in the configured time zone; a name holds whole seconds only, so any fraction
    /// is dropped by [`BackupName::file_name`].
    pub time: NaiveDateTime,
    /// The extension saying what the dump is: `sql`, `dump`, `rdb`, `db` or a user-chosen `[A-Za-z0-9_]+`.
    pub kind: String,
    pub compression: Compression,
    pub encrypted: bool,
}

impl BackupName {
    /// The file name, e.g. `postgres-2025-12-20T03-00-00.sql.gz`.
    pub fn file_name(&self) -> String {
        let t = self.time;
        // Formatted by hand rather than with `%Y`, which would not pad years below 1000 the same way
        // on every chrono version, and which parsing relies on being exactly four digits.
        format!(
            "{}{}-{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{}{}{}",
            self.prefix,
            self.series,
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            self.kind,
            self.compression.suffix(),
            if self.encrypted { ENCRYPTED_SUFFIX } else { "" },
        )
    }

    /// The name of the checksum file beside the backup: [`BackupName::file_name`] plus `.sha256`.
    pub fn checksum_file_name(&self) -> String {
        checksum_name_of(&self.file_name())
    }

    /// Parses a file name that starts with `prefix`; None when the name is not a backup of ours
    /// (wrong prefix, no timestamp, a `.sha256` file, a temporary/hidden file starting with '.', bad date...).
    pub fn parse(file_name: &str, prefix: &str) -> Option<BackupName> {
        // Temporary files are written under a hidden name; they must never look like a backup.
        if file_name.starts_with('.') {
            return None;
        }
        let rest = file_name.strip_prefix(prefix)?;
        // The suffix after the timestamp cannot contain '-', so the last timestamp-shaped run is the
        // real one even when the series itself contains dashes, dots or something timestamp-like.
        let start = find_last_stamp(rest.as_bytes())?;
        let series = &rest[..start];
        check_series(series).ok()?;
        let time = parse_stamp(&rest.as_bytes()[start + 1..start + STAMP_LEN - 1])?;

        let mut parts = rest[start + STAMP_LEN..].split('.');
        let kind = parts.next()?;
        check_kind(kind).ok()?;
        let mut next = parts.next();
        let compression = match next {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        };
        if compression != Compression::None {
            next = parts.next();
        }
        let encrypted = next == Some("age");
        if encrypted {
            next = parts.next();
        }
        // Anything else after the kind (`.sha256`, `.bz2`, `.partial`, an empty part) is not ours.
        if next.is_some() {
            return None;
        }

        Some(BackupName {
            prefix: prefix.to_owned(),
            series: series.to_owned(),
            time,
            kind: kind.to_owned(),
            compression,
            encrypted,
        })
    }

    /// The instant this backup was taken, interpreting `time` in `tz` (ambiguous DST times: the earlier; a
    /// nonexistent local time: shift forward by an hour) — never panics.
    pub fn taken_at(&self, tz: chrono_tz::Tz) -> chrono::DateTime<Utc> {
        let mut local = self.time;
        // A single hour covers ordinary DST gaps; a few zones once skipped a whole day (Samoa, 2011),
        // so keep shifting, within bounds, until the time exists.
        for _ in 0..=48 {
            if let Some(t) = tz.from_local_datetime(&local).earliest() {
                return t.with_timezone(&Utc);
            }
            match local.checked_add_signed(TimeDelta::hours(1)) {
                Some(next) => local = next,
                None => break,
            }
        }
        // Only reachable at the very edges of chrono's range: a wrong offset beats a panic there.
        Utc.from_utc_datetime(&self.time)
    }
}

impl fmt::Display for BackupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// The name of the checksum file beside the file `file_name`: the name plus `.sha256`.
pub fn checksum_name_of(file_name: &str) -> String {
    format!("{file_name}{CHECKSUM_SUFFIX}")
}

/// The file a checksum file named `name` belongs to (the name without `.sha256`); None when `name` is not a
/// checksum file's name.
pub fn checksummed_file(name: &str) -> Option<&str> {
    name.strip_suffix(CHECKSUM_SUFFIX)
}

/// Validates a series component: non-empty, only `[A-Za-z0-9._-]`, not starting with '.'.
pub fn check_series(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the series name is empty".to_owned());
    }
    check_component("series", s)
}

/// Validates a prefix: may be empty, otherwise the same rules as [`check_series`].
pub fn check_prefix(s: &str) -> Result<(), String> {
    check_component("prefix", s)
}

/// Validates a kind (the extension after the timestamp): non-empty `[A-Za-z0-9_]+`, and not one of the
/// suffixes that may follow it (`gz`, `zst`, `age`, `sha256`).
pub fn check_kind(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the file kind (extension) is empty".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(format!(
            "the file kind {s:?} contains {c:?}; only letters, digits and '_' are allowed"
        ));
    }
    if RESERVED_KINDS.contains(&s) {
        return Err(format!(
            "the file kind {s:?} would be mistaken for a suffix; it may not be one of {}",
            RESERVED_KINDS.join(", ")
        ));
    }
    Ok(())
}

/// Turns an arbitrary string (a host name, a database name) into a valid series component by replacing
/// disallowed characters with '_'. A leading '.' is replaced too (it would hide the file), and an empty
/// string becomes `_`.
pub fn sanitize_series(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if is_name_char(c) { c } else { '_' })
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_component(what: &str, s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|&c| !is_name_char(c)) {
        return Err(format!(
            "the {what} {s:?} contains {c:?}; only letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    // A name starting with '.' is hidden, and hidden names are how temporary files are told apart.
    if s.starts_with('.') {
        return Err(format!("the {what} {s:?} may not start with '.'"));
    }
    Ok(())
}

/// The byte offset of the last `-YYYY-MM-DDTHH-MM-SS.` run in `s` (shape only, not date validity).
fn find_last_stamp(s: &[u8]) -> Option<usize> {
    const SHAPE: &[u8; STAMP_LEN] = b"-0000-00-00T00-00-00.";
    let fits = |window: &[u8]| {
        window.iter().zip(SHAPE).all(|(&b, &want)| {
            if want == b'0' {
                b.is_ascii_digit()
            } else {
                b == want
            }
        })
    };
    s.windows(STAMP_LEN).rposition(fits)
}

/// Parses `YYYY-MM-DDTHH-MM-SS` whose shape [`find_last_stamp`] already checked.
fn parse_stamp(s: &[u8]) -> Option<NaiveDateTime> {
    let num = |from: usize, len: usize| {
        s.get(from..from + len)?.iter().try_fold(0u32, |acc, &d| {
            Some(acc * 10 + u32::from(d.checked_sub(b'0')?))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(5, 2)?, num(8, 2)?)?;
    // `from_hms_opt` refuses second 60, so a leap-second name is not a real time either.
    let time = NaiveTime::from_hms_opt(num(11, 2)?, num(14, 2)?, num(17, 2)?)?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn checks_series_prefix_and_kind() {
        for ok in ["a", "app-db", "host.example.com", "db_1", "-x", "a.", "A9"] {
            assert_eq!(check_series(ok), Ok(()), "{ok}");
            assert_eq!(check_prefix(ok), Ok(()), "{ok}");
        }
        assert!(check_series("").is_err());
        assert_eq!(check_prefix(""), Ok(()));
        for bad in ["a b", "a/b", "é", ".hidden", "..", "a:b", "a\n"] {
            assert!(check_series(bad).is_err(), "{bad:?}");
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        let msg = check_series("a/b").unwrap_err();
        assert!(msg.contains("a/b") && msg.contains("'/'"), "{msg}");

        for ok in ["sql", "dump", "rdb", "db", "My_Kind2", "_"] {
            assert_eq!(check_kind(ok), Ok(()), "{ok}");
        }
        for bad in ["", "s.ql", "s-ql", "gz", "zst", "age", "sha256"] {
            assert!(check_kind(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sanitizes_series() {
        assert_eq!(sanitize_series("db.example.com"), "db.example.com");
        assert_eq!(sanitize_series("my db/1"), "my_db_1");
        assert_eq!(sanitize_series("häuser"), "h_user");
        assert_eq!(sanitize_series(".hidden"), "_hidden");
        assert_eq!(sanitize_series(""), "_");
        assert_eq!(sanitize_series("a:b@c"), "a_b_c");
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

    proptest! {
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
        fn sanitized_series_are_valid(s in ".*") {
            let clean = sanitize_series(&s);
            prop_assert_eq!(check_series(&clean), Ok(()));
            if check_series(&s).is_ok() {
                prop_assert_eq!(clean, s);
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
}
