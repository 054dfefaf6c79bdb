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

/// Extra dump tool arguments (`PG_DUMP_ARGS`, `PG_DUMPALL_ARGS`, `MYSQLDUMP_ARGS`), split like a shell would. Options that would
/// send the dump elsewhere, change its format, or carry a password are refused: the dump must reach stdout
/// and the password travels privately. Each variable has its own tool and so its own list.
pub fn dump_args(var: &str, value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let args = shlex::split(value).ok_or_else(|| {
        ConfigError::new(var, "has an unclosed quote; quote arguments like a shell")
    })?;
    for arg in &args {
        let refusal = match var {
            "MYSQLDUMP_ARGS" => refused_mysqldump_arg(arg),
            "PG_DUMPALL_ARGS" => super::pg_args::refused_pg_dumpall_arg(arg),
            _ => super::pg_args::refused_pg_dump_arg(arg),
        };
        if let Some(why) = refusal {
            return Err(ConfigError::new(
                var,
                format!("{arg:?} is not allowed: {why}"),
            ));
        }
    }
    Ok(args)
}

/// Why `mysqldump`/`mariadb-dump` may not be given `arg`, if it may not. The tool accepts any unambiguous
/// prefix of a long option (`--result` for `--result-file`), the `loose-`, `skip-`, `disable-` and
/// `enable-` forms, and grouped short options (`-qX`), so all of those are looked through.
fn refused_mysqldump_arg(arg: &str) -> Option<&'static str> {
    const OUTPUT: &str = "db-backup reads the dump from standard output, as SQL";
    const CONNECTION: &str = "db-backup connects with DB_HOST, DB_PORT, DB_USER and DB_PASSWORD (passed \
                              privately), and the same settings must reach every tool";
    const DATABASE: &str = "db-backup chooses the database (DB_NAME) and dumps it without CREATE DATABASE or \
                            USE lines, so that it can be restored under another name";
    const COMMENTS: &str = "it switches off the comments, and with them the closing \"-- Dump completed\" \
                            line that proves a dump is complete; without it a cut-off dump cannot be told \
                            from a whole one";
    let long: &[(&str, &str)] = &[
        ("result-file", OUTPUT),
        ("tab", OUTPUT),
        ("xml", OUTPUT),
        ("password", CONNECTION),
        ("host", CONNECTION),
        ("port", CONNECTION),
        ("user", CONNECTION),
        ("socket", CONNECTION),
        ("protocol", CONNECTION),
        ("defaults-file", CONNECTION),
        ("defaults-extra-file", CONNECTION),
        ("defaults-group-suffix", CONNECTION),
        ("no-defaults", CONNECTION),
        ("login-path", CONNECTION),
        ("databases", DATABASE),
        ("all-databases", DATABASE),
        ("compact", COMMENTS),
    ];
    if let Some(option) = arg.strip_prefix("--") {
        let (name, value) = match option.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (option, None),
        };
        let name = name.strip_prefix("loose-").unwrap_or(name);
        let (name, negated) = match name
            .strip_prefix("skip-")
            .or_else(|| name.strip_prefix("disable-"))
        {
            Some(rest) => (rest, true),
            None => (name.strip_prefix("enable-").unwrap_or(name), false),
        };
        let off = negated
            || value
                .is_some_and(|v| ["0", "off", "false"].contains(&v.to_ascii_lowercase().as_str()));
        let matches = |full: &str| !name.is_empty() && full.starts_with(name);
        if off && matches("comments") {
            return Some(COMMENTS);
        }
        return long
            .iter()
            .find(|(full, _)| matches(full) && !(off && *full == "compact"))
            .map(|(_, why)| *why);
    }
    // Short options: letters up to the first one that takes a value (the rest of the word is that value).
    let letters = arg.strip_prefix('-')?;
    for letter in letters.chars() {
        match letter {
            'r' | 'T' | 'X' => return Some(OUTPUT),
            'p' | 'h' | 'P' | 'u' | 'S' => return Some(CONNECTION),
            'A' | 'B' => return Some(DATABASE),
            'w' | '#' => return None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql(args: &str) -> Result<Vec<String>, ConfigError> {
        dump_args("MYSQLDUMP_ARGS", Some(args))
    }

    #[test]
    fn mysqldump_args_that_keep_the_dump_sound_pass() {
        for ok in [
            "--skip-events",
            "--ignore-table=app.logs --no-data",
            "--skip-dump-date --order-by-primary",
            "--comments",
            "--skip-compact",
            "-q -K",
            "-w'id > 5'",
            "--tables",
            "--max-allowed-packet=1G --skip-add-locks",
            "--default-character-set=utf8mb4 --compress --hex-blob --tables",
        ] {
            assert!(mysql(ok).is_ok(), "{ok} should be allowed");
        }
    }

    #[test]
    fn mysqldump_args_that_break_the_dump_are_refused() {
        for (bad, why) in [
            ("--result-file=/tmp/x", "standard output"),
            ("--result=/tmp/x", "standard output"),
            ("-r /tmp/x", "standard output"),
            ("-qr/tmp/x", "standard output"),
            ("--tab=/tmp", "standard output"),
            ("-X", "standard output"),
            ("--password=secret", "privately"),
            ("--pass", "privately"),
            ("-psecret", "privately"),
            ("--host=other", "DB_HOST"),
            ("--ho=other", "DB_HOST"),
            ("-P 3307", "DB_PORT"),
            ("--defaults-file=/etc/my.cnf", "privately"),
            ("--databases", "DB_NAME"),
            ("-B", "DB_NAME"),
            ("--all-databases", "DB_NAME"),
            ("--skip-comments", "Dump completed"),
            ("--loose-skip-comments", "Dump completed"),
            ("--comments=0", "Dump completed"),
            ("--disable-comm", "Dump completed"),
            ("--compact", "Dump completed"),
        ] {
            let err = mysql(bad).expect_err(bad);
            assert_eq!(err.variable, "MYSQLDUMP_ARGS");
            assert!(err.message.contains(why), "{bad}: {}", err.message);
        }
    }

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

    #[test]
    fn pg_dump_args_keep_their_own_list() {
        assert!(dump_args("PG_DUMP_ARGS", Some("--no-owner -t people")).is_ok());
        assert!(dump_args("PG_DUMP_ARGS", Some("--file=x")).is_err());
        // Each variable has its own list: `--host` is refused only in MYSQLDUMP_ARGS.
        assert!(dump_args("PG_DUMP_ARGS", Some("--host=x")).is_ok());
        let err = dump_args("PG_DUMP_ARGS", Some("'unclosed")).unwrap_err();
        assert_eq!(err.variable, "PG_DUMP_ARGS");
    }
}
