//! `BackupName::parse` with any prefix and any name: it never panics, and a name it accepts formats back to
//! exactly itself (so `list`, retention and `restore` see the file that is there).
//!
//! Input: the prefix, a newline, then the file name; without a newline the whole input is the name and the
//! prefix is empty. Input that is not UTF-8 is skipped (`parse` takes `&str`).
#![no_main]

use db_backup::naming::{self, BackupName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (prefix, name) = text.split_once('\n').unwrap_or(("", text));
    let Some(parsed) = BackupName::parse(name, prefix) else {
        return;
    };
    assert_eq!(parsed.file_name(), name, "parsed as {parsed:?}");
    assert_eq!(parsed.to_string(), name);
    assert_eq!(parsed.prefix, prefix);
    assert!(naming::check_series(&parsed.series).is_ok(), "{parsed:?}");
    assert!(naming::check_kind(&parsed.kind).is_ok(), "{parsed:?}");
    assert_eq!(
        BackupName::parse(&parsed.file_name(), prefix).as_ref(),
        Some(&parsed)
    );
    // The checksum file beside a backup is never taken for a backup itself.
    assert_eq!(
        BackupName::parse(&parsed.checksum_file_name(), prefix),
        None
    );
    // Temporary files are written under a hidden name: never a backup.
    assert_eq!(BackupName::parse(&format!(".{name}"), prefix), None);
    for tz in [
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Pacific::Apia,
        chrono_tz::Australia::Lord_Howe,
    ] {
        let _ = parsed.taken_at(tz);
    }
});
