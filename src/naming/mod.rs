//! Backup file names: formatting and parsing them, in one place, so both can never drift apart.
//!
//! A name is `<prefix><series>-<YYYY-MM-DD>T<HH-MM-SS>.<kind><compression suffix>[.age]`, for example
//! `postgres-2025-12-20T03-00-00.sql.gz`; its checksum file is the same name plus `.sha256`.

mod component;

use std::fmt;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc};

pub use component::{check_kind, check_prefix, check_series, sanitize_series};

use crate::pipeline::Compression;

/// Appended to a backup's file name to name the checksum file beside it.
pub const CHECKSUM_SUFFIX: &str = ".sha256";

/// Appended after the compression suffix when the backup is encrypted with age.
pub const ENCRYPTED_SUFFIX: &str = ".age";

/// What stands in place of the time in the name of a series' latest link (`app-latest.sql.gz`) or, on S3, latest
/// pointer (`app-latest`): see `jobs::latest`. Never a backup's name: it has no time.
pub const LATEST_MARK: &str = "-latest";

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

    /// `<prefix><series>`: what every file of the series starts with, before the time.
    pub fn stem(&self) -> String {
        format!("{}{}", self.prefix, self.series)
    }

    /// The name of the series' latest link when it points at this backup: `latest` in place of the time, e.g.
    /// `app-latest.sql.gz`.
    pub fn latest_link_name(&self) -> String {
        format!(
            "{}{LATEST_MARK}.{}{}{}",
            self.stem(),
            self.kind,
            self.compression.suffix(),
            if self.encrypted { ENCRYPTED_SUFFIX } else { "" },
        )
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

/// Splits the name of a latest link or pointer, `<stem>-latest[.<ext>]`, into the stem (`<prefix><series>`) and
/// the extension with its dot (empty for a pointer); None for any other name.
pub fn latest_link_parts(name: &str) -> Option<(&str, &str)> {
    if name.starts_with('.') {
        return None;
    }
    let at = name.rfind(LATEST_MARK)?;
    let (stem, ext) = (&name[..at], &name[at + LATEST_MARK.len()..]);
    // An extension never holds a '-'; a stem is never empty.
    let ext_ok = ext.is_empty() || (ext.starts_with('.') && ext.len() > 1 && !ext.contains('-'));
    (!stem.is_empty() && ext_ok).then_some((stem, ext))
}

/// Appended to a backup's file name to name its manifest: what the dump held (per-table row counts) and
/// the outcome of its last restore drill.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

/// The name of the manifest beside the file `file_name`: the name plus `.manifest.json`.
pub fn manifest_name_of(file_name: &str) -> String {
    format!("{file_name}{MANIFEST_SUFFIX}")
}

/// The names of the side files that live and die with the backup `file_name`: its checksum and its manifest.
pub fn side_files_of(file_name: &str) -> [String; 2] {
    [checksum_name_of(file_name), manifest_name_of(file_name)]
}

/// The backup a side file named `name` (a checksum or a manifest) belongs to; None for any other name.
pub fn side_file_owner(name: &str) -> Option<&str> {
    checksummed_file(name).or_else(|| name.strip_suffix(MANIFEST_SUFFIX))
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
mod tests;
