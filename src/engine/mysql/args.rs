//! Which extra options `MYSQLDUMP_ARGS` (for `mariadb-dump`/`mysqldump`) may not carry: those that send the dump
//! elsewhere, reach another server, choose the databases or take out the line that proves a dump complete.

/// Why `mysqldump`/`mariadb-dump` may not be given `arg`, if it may not. The tool accepts any unambiguous
/// prefix of a long option (`--result` for `--result-file`), the `loose-`, `skip-`, `disable-` and
/// `enable-` forms, and grouped short options (`-qX`), so all of those are looked through.
pub fn refused_mysqldump_arg(arg: &str) -> Option<&'static str> {
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
    use crate::config::values::dump_args;
    use crate::error::ConfigError;

    fn mysql(args: &str) -> Result<Vec<String>, ConfigError> {
        dump_args("MYSQLDUMP_ARGS", Some(args), refused_mysqldump_arg)
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
}
