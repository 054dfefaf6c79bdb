//! `Config::from_vars` with any list of variables and any content for the `_FILE` secrets: it never panics, an
//! error names a variable, and a secret never shows in an error, in `describe()` (what `db-backup config`
//! prints) or in the configuration's `Debug` form.
//!
//! Input: the environment as `NAME=VALUE` lines (a line without `=` is a name with an empty value), then
//! optionally a NUL byte and what every `_FILE` read returns (no NUL: the read fails with "not found"; not
//! UTF-8: it fails as `read_to_string` does). A secret variable (a password, the passphrase, an S3 key) whose
//! value is `@secret` (also a session token), and file content `@secret` when only such variables read files, become a sentinel
//! string that must never be printed. `fuzz/config.dict` holds the names and typical values.
#![no_main]

use std::io;
use std::path::Path;

use db_backup::config::Config;
use libfuzzer_sys::fuzz_target;

const SENTINEL: &str = "fuzz-sentinel-7f3a9c41-never-printed";

fn is_secret(name: &str) -> bool {
    matches!(
        name,
        "DB_PASSWORD"
            | "PGPASSWORD"
            | "TEST_RESTORE_PASSWORD"
            | "BACKUP_ENCRYPTION_PASSPHRASE"
            | "AWS_SECRET_ACCESS_KEY"
            | "AWS_ACCESS_KEY_ID"
            | "AWS_SESSION_TOKEN"
            | "NOTIFY_URLS"
    ) || (name.starts_with("S3_")
        && (name.ends_with("_SECRET_KEY")
            || name.ends_with("_ACCESS_KEY")
            || name.ends_with("_SESSION_TOKEN")))
}

fuzz_target!(|data: &[u8]| {
    let (env, file) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let Ok(env) = std::str::from_utf8(env) else {
        return;
    };
    // The fuzzer learns the sentinel from the comparisons below and types it in anywhere (a host, a name),
    // also split by shell quotes or backslashes that the dump-argument parser removes (`fuzz-sen''tinel`)
    // and in any case: only a sentinel this harness put in place is one that must stay hidden.
    let typed: Vec<u8> = data
        .iter()
        .filter(|b| !matches!(b, b'\'' | b'"' | b'\\'))
        .map(u8::to_ascii_lowercase)
        .collect();
    let only_planted = !typed
        .windows(SENTINEL.len())
        .any(|w| w == SENTINEL.as_bytes());
    let vars: Vec<(String, String)> = env
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            let value = if value == "@secret" && is_secret(name) {
                SENTINEL
            } else {
                value
            };
            (name.to_string(), value.to_string())
        })
        .collect();
    let files_are_secret = vars.iter().all(|(name, _)| {
        name.strip_suffix("_FILE")
            .is_none_or(|var| is_secret(var) || var == "BACKUP_ENCRYPTION_IDENTITY")
    });
    let file: Option<Vec<u8>> = match file {
        Some(b"@secret") if files_are_secret => Some(SENTINEL.as_bytes().to_vec()),
        other => other.map(<[u8]>::to_vec),
    };
    let read_file = |_: &Path| -> io::Result<String> {
        match &file {
            None => Err(io::ErrorKind::NotFound.into()),
            Some(bytes) => String::from_utf8(bytes.clone()).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                )
            }),
        }
    };
    match Config::from_vars(&vars, &read_file) {
        Ok(cfg) => {
            let described = cfg.describe();
            let debug = format!("{cfg:?}");
            if only_planted {
                for (name, value) in &described {
                    assert!(
                        !value.contains(SENTINEL),
                        "describe() shows a secret in {name}: {value}"
                    );
                }
                assert!(!debug.contains(SENTINEL), "Debug shows a secret: {debug}");
            }
            if let db_backup::config::Databases::List(names) = &cfg.naming.databases {
                for name in names {
                    let _ = cfg.series_for(name);
                }
            }
            let _ = cfg.globals_series();
        }
        Err(e) => {
            assert!(
                !e.variable.trim().is_empty(),
                "an error that names no variable: {e}"
            );
            let shown = e.to_string();
            assert!(
                !only_planted || !shown.contains(SENTINEL),
                "an error shows a secret: {shown}"
            );
        }
    }
});
