//! Parsers for single configuration values; each error names the variable and what it accepts.

use std::str::FromStr;

use crate::error::ConfigError;

/// A number; `expected` describes what is accepted, for the error message.
pub fn number<T: FromStr>(var: &str, value: &str, expected: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse::<T>()
        .map_err(|_| ConfigError::new(var, format!("{value:?} is not valid: must be {expected}")))
}

/// One of a fixed set of words, case-insensitive.
pub fn one_of<T: Copy>(var: &str, value: &str, choices: &[(&str, T)]) -> Result<T, ConfigError> {
    let wanted = value.trim().to_ascii_lowercase();
    choices
        .iter()
        .find(|(word, _)| *word == wanted)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
            ConfigError::new(
                var,
                format!(
                    "{value:?} is not valid: must be one of {}",
                    words.join(", ")
                ),
            )
        })
}

/// The spellings every yes/no setting accepts (`BACKUP_ON_START`, `BACKUP_LOCAL`, `S3_FORCE_PATH_STYLE`...),
/// case-insensitive.
const BOOLEANS: &[(&str, bool)] = &[
    ("true", true),
    ("false", false),
    ("1", true),
    ("0", false),
    ("yes", true),
    ("no", false),
    ("on", true),
    ("off", false),
];

/// A yes/no setting: `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, in any case. The one parser of every
/// boolean variable, so that each accepts the same words.
pub fn boolean(var: &str, value: &str) -> Result<bool, ConfigError> {
    one_of(var, value, BOOLEANS)
}

/// Extra dump tool arguments (`PG_DUMP_ARGS`, `PG_DUMPALL_ARGS`, `MYSQLDUMP_ARGS`), split like a shell would.
/// `refused` says why its tool may not be given an argument: options that would send the dump elsewhere,
/// change its format, or carry a password are refused, since the dump must reach stdout and the password
/// travels privately. Each variable has its own tool and so its own list (in its engine's folder).
pub fn dump_args(
    var: &str,
    value: Option<&str>,
    refused: fn(&str) -> Option<&'static str>,
) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let args = shlex::split(value).ok_or_else(|| {
        ConfigError::new(var, "has an unclosed quote; quote arguments like a shell")
    })?;
    for arg in &args {
        if let Some(why) = refused(arg) {
            return Err(ConfigError::new(
                var,
                format!("{arg:?} is not allowed: {why}"),
            ));
        }
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_boolean_spelling_in_any_case() {
        for (value, want) in [
            ("true", true),
            ("FALSE", false),
            ("1", true),
            ("0", false),
            ("Yes", true),
            ("no", false),
            ("on", true),
            ("OFF", false),
            (" on ", true),
        ] {
            assert_eq!(boolean("BACKUP_LOCAL", value).unwrap(), want, "{value:?}");
        }
        let err = boolean("BACKUP_LOCAL", "maybe").unwrap_err();
        assert_eq!(err.variable, "BACKUP_LOCAL");
        assert!(
            err.message.contains("true, false, 1, 0, yes, no, on, off"),
            "{err}"
        );
    }
}
