//! Which extra options `PG_DUMP_ARGS` (for `pg_dump`) and `PG_DUMPALL_ARGS` (for `pg_dumpall --globals-only`)
//! may not carry: those that send the dump elsewhere, change its format, reach another server or make a dump
//! that `restore` cannot apply. Both tools accept any unambiguous prefix of a long option (`--cre` for
//! `--create`) and grouped short options (`-sC`), so both forms are looked through.

const OUTPUT: &str = "db-backup chooses the output, the format (PG_DUMP_FORMAT), the database (DB_NAME) and \
                      passes the password privately";
const CREATE: &str = "a dump with CREATE DATABASE cannot be restored: restore applies a dump inside one \
                      transaction, where CREATE DATABASE cannot run, into the database it chooses (DB_NAME or \
                      --database); db-backup creates the database itself, and with DB_NAME=all it keeps each \
                      database's owner, settings, grants and comment in the globals backup";
const CLEAN: &str =
    "restore needs an empty database, where the DROP statements of --clean fail; leave it out";
const NO_SCHEMA: &str = "restore applies a dump to an empty database, where data without its tables (or only \
                         part of the sections) cannot be applied; use --schema-only for the schema alone";
const UPGRADE: &str =
    "it is for pg_upgrade only: its dumps restore only into a server in binary-upgrade mode";
const COMPRESS: &str =
    "db-backup compresses the stream itself (BACKUP_COMPRESSION, BACKUP_COMPRESSION_LEVEL)";
const CONNECTION: &str = "db-backup connects with DB_HOST, DB_PORT, DB_USER and DB_PASSWORD (passed privately) \
                          and writes the dump to its own output";
const GLOBALS: &str = "db-backup dumps roles and tablespaces together (--globals-only); the databases are \
                       dumped one by one with pg_dump";
const ROLES_CLEAN: &str = "restore creates the roles that are missing and never drops one; the DROP ROLE \
                           statements of --clean would fail on a new server";

/// Why `pg_dump` may not be given `arg`, if it may not.
pub fn refused_pg_dump_arg(arg: &str) -> Option<&'static str> {
    let long: &[(&str, &str)] = &[
        ("file", OUTPUT),
        ("format", OUTPUT),
        ("dbname", OUTPUT),
        ("password", OUTPUT),
        ("create", CREATE),
        ("clean", CLEAN),
        ("compress", COMPRESS),
        ("data-only", NO_SCHEMA),
        ("no-schema", NO_SCHEMA),
        ("statistics-only", NO_SCHEMA),
        ("section", NO_SCHEMA),
        ("binary-upgrade", UPGRADE),
    ];
    // pg_dump's short options; those followed by `:` take a value.
    let short: &[(char, Option<&str>)] = &[
        ('f', Some(OUTPUT)),
        ('F', Some(OUTPUT)),
        ('d', Some(OUTPUT)),
        ('W', Some(OUTPUT)),
        ('C', Some(CREATE)),
        ('c', Some(CLEAN)),
        ('Z', Some(COMPRESS)),
        ('a', Some(NO_SCHEMA)),
    ];
    refused(arg, long, short, "d:e:E:f:F:h:j:n:N:p:S:t:T:U:Z:")
}

/// Why `pg_dumpall --globals-only` may not be given `arg`, if it may not.
pub fn refused_pg_dumpall_arg(arg: &str) -> Option<&'static str> {
    let long: &[(&str, &str)] = &[
        ("file", CONNECTION),
        ("dbname", CONNECTION),
        ("database", CONNECTION),
        ("host", CONNECTION),
        ("port", CONNECTION),
        ("username", CONNECTION),
        ("password", CONNECTION),
        ("roles-only", GLOBALS),
        ("tablespaces-only", GLOBALS),
        ("data-only", GLOBALS),
        ("clean", ROLES_CLEAN),
    ];
    let short: &[(char, Option<&str>)] = &[
        ('f', Some(CONNECTION)),
        ('d', Some(CONNECTION)),
        ('l', Some(CONNECTION)),
        ('h', Some(CONNECTION)),
        ('p', Some(CONNECTION)),
        ('U', Some(CONNECTION)),
        ('W', Some(CONNECTION)),
        ('r', Some(GLOBALS)),
        ('t', Some(GLOBALS)),
        ('a', Some(GLOBALS)),
        ('c', Some(ROLES_CLEAN)),
    ];
    refused(arg, long, short, "d:E:f:h:l:p:S:U:")
}

/// `long`: refused long options (any prefix of one is refused too: the tool would take it for that option,
/// or refuse it as ambiguous). `short`: refused letters. `with_value`: the letters that take a value, each
/// followed by `:` as in `getopt`: the rest of the word after one of them is its value, not more options.
fn refused(
    arg: &str,
    long: &[(&str, &'static str)],
    short: &[(char, Option<&'static str>)],
    with_value: &str,
) -> Option<&'static str> {
    if let Some(option) = arg.strip_prefix("--") {
        let name = option.split('=').next().unwrap_or(option);
        if name.is_empty() {
            return None;
        }
        return long
            .iter()
            .find(|(full, _)| full.starts_with(name))
            .map(|(_, why)| *why);
    }
    let letters = arg.strip_prefix('-')?;
    for letter in letters.chars() {
        if let Some((_, why)) = short.iter().find(|(l, _)| *l == letter) {
            return *why;
        }
        if with_value.contains(&format!("{letter}:")) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_dump_refusals() {
        for (arg, why) in [
            ("--create", "CREATE DATABASE"),
            ("--cre", "CREATE DATABASE"),
            ("-C", "CREATE DATABASE"),
            ("-sC", "CREATE DATABASE"),
            ("--clean", "DROP"),
            ("-c", "DROP"),
            ("-Z9", "compresses"),
            ("--compress=gzip:9", "compresses"),
            ("-Fc", "format"),
            ("-sfout.sql", "output"),
            ("--file=x", "output"),
            ("-a", "empty database"),
            ("--data-only", "empty database"),
            ("--section=data", "empty database"),
            ("--binary-upgrade", "pg_upgrade"),
        ] {
            let said = refused_pg_dump_arg(arg).unwrap_or_else(|| panic!("{arg} accepted"));
            assert!(said.contains(why), "{arg}: {said}");
        }
        for arg in [
            "--no-owner",
            "-O",
            "-s",
            "-tpeople",
            "-nCfoo",
            "--if-exists",
            "--no-sync",
            "--no-subscriptions",
            "--exclude-table=logs",
            "people",
        ] {
            assert_eq!(refused_pg_dump_arg(arg), None, "{arg}");
        }
    }

    #[test]
    fn pg_dumpall_refusals() {
        for arg in [
            "--file=x",
            "-f",
            "--host=x",
            "-hx",
            "-l",
            "--database=x",
            "-U",
            "--roles-only",
            "-r",
            "-t",
            "--clean",
            "-c",
        ] {
            assert!(refused_pg_dumpall_arg(arg).is_some(), "{arg} accepted");
        }
        for arg in [
            "--no-role-passwords",
            "--no-comments",
            "--no-tablespaces",
            "-O",
            "-Sadmin",
        ] {
            assert_eq!(refused_pg_dumpall_arg(arg), None, "{arg}");
        }
    }
}
