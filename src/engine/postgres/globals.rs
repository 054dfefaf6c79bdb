//! The globals backup of `DB_NAME=all`: roles and tablespaces (`pg_dumpall --globals-only`) followed by each
//! database's own properties (owner, `ALTER DATABASE ... SET`, `ALTER ROLE ... IN DATABASE ... SET`, grants,
//! comment), taken from `pg_dump --create`; and the filter its restore streams through, which creates only
//! what is missing and never touches the connecting role.

use std::collections::HashSet;

/// The first line of a globals backup that carries database properties (older ones are plain `pg_dumpall`).
pub const HEADER: &str =
    "-- db-backup globals: roles and tablespaces, then the properties of each database";
/// The last line of such a backup: written only after every part was dumped completely.
pub const TRAILER: &str = "-- db-backup globals complete";

/// The database-level entries of a `pg_dump --create --schema-only --exclude-schema=*` output: the
/// `CREATE DATABASE` and owner, its properties (settings, per-role settings), comment, security labels and
/// grants, with the `\connect` and `SET` lines between them. Extensions, event triggers and publications,
/// which that output also holds, belong to the database's own dump and are left out. `pg_dump` starts each
/// entry with a `-- Name: ...; Type: ...; Schema: ...` comment, and sanitises names in it, so the entries
/// are told apart by those lines.
pub fn database_entries(dump: &str) -> String {
    let mut out = String::new();
    let mut keep = true;
    let mut lines = dump.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        // An entry's comment block opens with a bare `--` line followed by its `-- Name:` line.
        if line.trim_end() == "--"
            && let Some(next) = lines.peek()
        {
            if let Some(header) = next.strip_prefix("-- Name: ") {
                keep = database_entry(header);
            } else if next.starts_with("-- PostgreSQL database dump complete") {
                keep = true;
            }
        }
        if keep {
            out.push_str(line);
        }
    }
    out
}

/// Whether the entry whose header (after `-- Name: `) is `header` is a property of the database itself.
fn database_entry(header: &str) -> bool {
    let Some((name, rest)) = header.split_once("; Type: ") else {
        return false;
    };
    let kind = rest.split("; Schema: ").next().unwrap_or("");
    match kind {
        "DATABASE" | "DATABASE PROPERTIES" => true,
        "COMMENT" | "ACL" | "SECURITY LABEL" => name.starts_with("DATABASE "),
        _ => false,
    }
}

/// What already exists on the server a globals backup is restored onto.
#[derive(Debug, Default)]
pub struct Existing {
    /// The role restoring: its password, attributes and settings are never changed.
    pub me: String,
    pub roles: HashSet<String>,
    pub databases: HashSet<String>,
    pub tablespaces: HashSet<String>,
}

/// The decision on one line of a globals backup.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Keep,
    /// Left out, and why (for the log).
    Skip(String),
}

/// Whether `line` of a globals backup is sent to the server: `CREATE ROLE`, `CREATE DATABASE` and
/// `CREATE TABLESPACE` of what exists already are left out (the rest applies to the existing one), and so is
/// every `ALTER ROLE` of the connecting role other than `IN DATABASE` settings: the old cluster's password
/// hash or a `NOLOGIN` there would lock the rest of the restore out. `pg_dumpall` writes each of these
/// statements on a line of its own; only a multi-line string literal (a comment) with a line that looks
/// exactly like one of them could be mistaken for it.
pub fn filter(line: &str, existing: &Existing) -> Line {
    let creates = [
        ("CREATE ROLE ", &existing.roles, "role"),
        ("CREATE DATABASE ", &existing.databases, "database"),
        ("CREATE TABLESPACE ", &existing.tablespaces, "tablespace"),
    ];
    for (prefix, set, what) in creates {
        if let Some((name, _)) = line.strip_prefix(prefix).and_then(parse_ident)
            && set.contains(&name)
        {
            return Line::Skip(format!("{what} {name} exists already"));
        }
    }
    if let Some((name, rest)) = line.strip_prefix("ALTER ROLE ").and_then(parse_ident)
        && name == existing.me
        && !rest.trim_start().starts_with("IN DATABASE ")
    {
        return Line::Skip(format!("role {name} is the one restoring, kept as it is"));
    }
    Line::Keep
}

/// What `line` (one that [`filter`] keeps) creates: `(true, name)` for a role, `(false, name)` for a database.
pub fn creates(line: &str) -> Option<(bool, String)> {
    if let Some((name, _)) = line.strip_prefix("CREATE ROLE ").and_then(parse_ident) {
        return Some((true, name));
    }
    let (name, _) = line
        .strip_prefix("CREATE DATABASE ")
        .and_then(parse_ident)?;
    Some((false, name))
}

/// An SQL identifier at the start of `text` as `pg_dump` writes it (bare, or in double quotes with `""` for
/// a quote), and the text after it.
pub fn parse_ident(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '"' {
                name.push(c);
                continue;
            }
            if quoted[i + 1..].starts_with('"') {
                name.push('"');
                chars.next();
            } else {
                return Some((name, &quoted[i + 1..]));
            }
        }
        return None;
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    (end > 0).then(|| (text[..end].to_string(), &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(parse_ident("app;"), Some(("app".into(), ";")));
        assert_eq!(
            parse_ident("\"We \"\"R\"\" x\" WITH"),
            Some(("We \"R\" x".into(), " WITH"))
        );
        assert_eq!(parse_ident("\"open"), None);
        assert_eq!(parse_ident(";"), None);
    }

    #[test]
    fn what_a_line_creates() {
        assert_eq!(creates("CREATE ROLE app;\n"), Some((true, "app".into())));
        assert_eq!(
            creates("CREATE DATABASE \"Shop\" WITH TEMPLATE = template0;"),
            Some((false, "Shop".into()))
        );
        assert_eq!(creates("ALTER ROLE app WITH LOGIN;"), None);
    }

    #[test]
    fn the_restoring_role_is_never_altered() {
        let existing = Existing {
            me: "postgres".into(),
            roles: ["postgres".to_string(), "app".to_string()].into(),
            ..Existing::default()
        };
        let skip = |l: &str| matches!(filter(l, &existing), Line::Skip(_));
        assert!(skip("CREATE ROLE postgres;"));
        assert!(skip(
            "ALTER ROLE postgres WITH SUPERUSER PASSWORD 'SCRAM-SHA-256$x';"
        ));
        assert!(skip("ALTER ROLE postgres SET search_path TO x;"));
        assert!(!skip(
            "ALTER ROLE postgres IN DATABASE app SET work_mem TO '8MB';"
        ));
        assert!(skip("CREATE ROLE app;"));
        assert!(!skip("ALTER ROLE app WITH NOLOGIN;"));
        assert!(!skip("CREATE ROLE \"New\";"));
        assert!(!skip("ALTER ROLE postgresx WITH LOGIN;"));
    }

    #[test]
    fn only_database_entries_are_kept() {
        let dump = "SET a = 1;\n\n--\n-- Name: app; Type: DATABASE; Schema: -; Owner: app\n--\n\n\
                    CREATE DATABASE app;\n\\connect app\n\n\
                    --\n-- Name: pgcrypto; Type: EXTENSION; Schema: -; Owner: -\n--\n\nCREATE EXTENSION x;\n\n\
                    --\n-- Name: DATABASE app; Type: ACL; Schema: -; Owner: app\n--\n\nREVOKE ALL ON DATABASE app FROM PUBLIC;\n\n\
                    --\n-- Name: e; Type: EVENT TRIGGER; Schema: -; Owner: postgres\n--\n\nCREATE EVENT TRIGGER e;\n\n\
                    --\n-- PostgreSQL database dump complete\n--\n\n";
        let kept = database_entries(dump);
        assert!(kept.starts_with("SET a = 1;"));
        assert!(kept.contains("CREATE DATABASE app;\n\\connect app"));
        assert!(kept.contains("REVOKE ALL ON DATABASE app FROM PUBLIC;"));
        assert!(!kept.contains("EXTENSION") && !kept.contains("EVENT TRIGGER"));
        assert!(kept.contains("-- PostgreSQL database dump complete"));
    }
}
