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

/// Extra dump tool arguments (`PG_DUMP_ARGS`, `MYSQLDUMP_ARGS`), split like a shell would. Options that would
/// send the dump elsewhere, change its format, or carry a password are refused: the dump must reach stdout
/// and the password travels privately.
pub fn dump_args(var: &str, value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let args = shlex::split(value).ok_or_else(|| {
        ConfigError::new(
            "PG_DUMP_ARGS",
            "has an unclosed quote; quote arguments like a shell",
        )
    })?;
    for arg in &args {
        let refused = [
            "-f",
            "--file",
            "-F",
            "--format",
            "-d",
            "--dbname",
            "-W",
            "--password",
        ];
        let name = arg.split('=').next().unwrap_or(arg);
        let short_with_value = ["-f", "-F", "-d"]
            .iter()
            .any(|s| arg.starts_with(s) && arg.len() > 2);
        if refused.contains(&name) || short_with_value {
            return Err(ConfigError::new(
                var,
                format!(
                    "{arg:?} is not allowed: db-backup chooses the output, the format (PG_DUMP_FORMAT), \
                     the database (DB_NAME) and passes the password privately"
                ),
            ));
        }
    }
    Ok(args)
}
