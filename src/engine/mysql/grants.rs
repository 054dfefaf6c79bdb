//! What the connecting user may do, read from `SHOW GRANTS`: the privileges it holds on every table of a
//! database (a grant on `*.*`, or on a database pattern that matches it), which decide what the server lets it
//! see. Table-, column- and routine-level grants are ignored on purpose: they show only part of a database.
//!
//! `SHOW GRANTS` is used rather than `information_schema.SCHEMA_PRIVILEGES` because MariaDB lists there
//! neither the grants of the active role nor wildcard patterns resolved; `SHOW GRANTS` lists the user's own
//! grants and those of its active (default) role, which is what the dump tool's session has too.

use std::collections::BTreeSet;

/// The privileges the user holds on every object of some database, or of all of them.
#[derive(Debug, Default, Clone)]
pub struct Grants {
    /// Privileges granted `ON *.*`, upper case (`SELECT`, `SHOW DATABASES`, `SHOW_ROUTINE`...); `ALL`
    /// stands for `ALL PRIVILEGES`.
    global: BTreeSet<String>,
    /// `(database pattern, privileges)` for each `ON db.*` grant; the pattern is unquoted and may hold the
    /// `LIKE` wildcards `%` and `_` (`\_` for a literal underscore).
    databases: Vec<(String, BTreeSet<String>)>,
    /// MySQL 8's partial revokes (`REVOKE SELECT ON `db`.* FROM ...` under `partial_revokes`): a global
    /// privilege taken back on one database, named literally.
    revoked: Vec<(String, BTreeSet<String>)>,
}

impl Grants {
    /// Reads the lines `SHOW GRANTS` printed.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Grants {
        let mut grants = Grants::default();
        for line in lines {
            if let Some(revoke) = line.trim().strip_prefix("REVOKE ") {
                if let Some((privileges, Target::Database(db))) = split_privileges_on(revoke) {
                    grants.revoked.push((db, privileges));
                }
                continue;
            }
            let Some((privileges, target)) = split_grant(line) else {
                continue;
            };
            match target {
                Target::Global => grants.global.extend(privileges),
                Target::Database(pattern) => grants.databases.push((pattern, privileges)),
            }
        }
        grants
    }

    /// Whether the user holds `privilege` (upper case) on every object of every database.
    pub fn global(&self, privilege: &str) -> bool {
        self.global.contains(privilege) || self.global.contains("ALL")
    }

    /// Whether the user holds `privilege` on every object of `database`: globally or through a grant on a
    /// database pattern that matches it.
    pub fn on_database(&self, database: &str, privilege: &str) -> bool {
        let revoked = self.revoked.iter().any(|(db, privileges)| {
            db == database && (privileges.contains(privilege) || privileges.contains("ALL"))
        });
        if revoked {
            return false;
        }
        self.global(privilege)
            || self.databases.iter().any(|(pattern, privileges)| {
                (privileges.contains(privilege) || privileges.contains("ALL"))
                    && like(pattern, database)
            })
    }

    /// Whether any privilege at all is granted on `*.*` that is a database privilege (the server then lists
    /// every database to the user), or `SHOW DATABASES` itself.
    pub fn sees_every_database(&self) -> bool {
        const DATABASE_PRIVILEGES: &[&str] = &[
            "SHOW DATABASES",
            "ALL",
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
            "CREATE",
            "DROP",
            "REFERENCES",
            "INDEX",
            "ALTER",
            "CREATE TEMPORARY TABLES",
            "LOCK TABLES",
            "EXECUTE",
            "CREATE VIEW",
            "SHOW VIEW",
            "CREATE ROUTINE",
            "ALTER ROUTINE",
            "EVENT",
            "TRIGGER",
            "DELETE HISTORY",
        ];
        DATABASE_PRIVILEGES.iter().any(|p| self.global.contains(*p))
    }
}

enum Target {
    Global,
    Database(String),
}

/// `GRANT <privileges> ON <target> TO ...` split into the privileges and a global or database target. Role
/// grants (no `ON`), `PROXY`, routine grants and table grants give `None`.
fn split_grant(line: &str) -> Option<(BTreeSet<String>, Target)> {
    split_privileges_on(line.trim().strip_prefix("GRANT ")?)
}

/// `<privileges> ON <target> ...` (the rest of a GRANT or REVOKE line).
fn split_privileges_on(rest: &str) -> Option<(BTreeSet<String>, Target)> {
    let on = find_outside_quotes(rest, " ON ")?;
    let (privileges, target) = (&rest[..on], rest[on + 4..].trim_start());
    let privileges = split_privileges(privileges);
    if privileges.contains("PROXY") {
        return None;
    }
    let (object, _) = read_object(target)?;
    let target = match object.as_slice() {
        [db, table] if table == "*" && db == "*" => Target::Global,
        [db, table] if table == "*" => Target::Database(db.clone()),
        _ => return None,
    };
    Some((privileges, target))
}

/// The comma-separated privileges, upper case, with column lists (`SELECT (a, b)`) left out: a column grant
/// is not a privilege on the whole table.
fn split_privileges(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut depth = 0usize;
    let mut current = String::new();
    let mut column_list = false;
    for c in text.chars() {
        match c {
            '(' => {
                depth += 1;
                column_list = true;
            }
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                push_privilege(&mut out, &current, column_list);
                current.clear();
                column_list = false;
            }
            c if depth == 0 => current.push(c),
            _ => {}
        }
    }
    push_privilege(&mut out, &current, column_list);
    out
}

fn push_privilege(out: &mut BTreeSet<String>, text: &str, column_list: bool) {
    let name = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || column_list {
        return;
    }
    let name = name.to_ascii_uppercase();
    out.insert(if name == "ALL PRIVILEGES" {
        "ALL".into()
    } else {
        name
    });
}

/// Reads `db.table` at the start of `text` (each part quoted with backquotes, or bare, or `*`); returns the
/// unquoted parts and the rest. A leading `PROCEDURE`/`FUNCTION`/`PACKAGE` keyword gives `None`.
fn read_object(text: &str) -> Option<(Vec<String>, &str)> {
    let upper = text.to_ascii_uppercase();
    if ["PROCEDURE ", "FUNCTION ", "PACKAGE "]
        .iter()
        .any(|k| upper.starts_with(k))
    {
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let (part, after) = read_ident(rest)?;
        parts.push(part);
        rest = after;
        match rest.strip_prefix('.') {
            Some(after) => rest = after,
            None => return Some((parts, rest)),
        }
    }
}

/// One identifier: `` `name` `` (with ``` `` ``` for a backquote), `"name"` (under `ANSI_QUOTES`), `*`, or a
/// bare word.
pub fn read_ident(text: &str) -> Option<(String, &str)> {
    if let Some(q) = text.chars().next().filter(|c| *c == '`' || *c == '"') {
        let quoted = &text[1..];
        let mut out = String::new();
        let mut chars = quoted.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == q {
                if chars.peek().is_some_and(|(_, n)| *n == q) {
                    chars.next();
                    out.push(q);
                    continue;
                }
                return Some((out, &quoted[i + 1..]));
            }
            out.push(c);
        }
        return None;
    }
    if let Some(rest) = text.strip_prefix('*') {
        return Some(("*".into(), rest));
    }
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    (end > 0).then(|| (text[..end].to_string(), &text[end..]))
}

/// The byte offset of `needle` in `text` outside backquoted and single-quoted parts.
pub fn find_outside_quotes(text: &str, needle: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '\'' => quote = Some(c),
            None if text[i..].starts_with(needle) => return Some(i),
            None => {}
        }
    }
    None
}

/// SQL `LIKE` with `\` as the escape, as the server matches a database pattern of a grant. The server
/// compares database names case-sensitively on Linux (`lower_case_table_names=0`); so does this.
pub fn like(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('%', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('_', rest)) => !n.is_empty() && go(rest, &n[1..]),
            Some(('\\', rest)) if !rest.is_empty() => {
                n.first() == Some(&rest[0]) && go(&rest[1..], &n[1..])
            }
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_and_global_grants_are_read() {
        let g = Grants::parse([
            "GRANT USAGE ON *.* TO `bk`@`%` IDENTIFIED BY PASSWORD '*D82'",
            "GRANT SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER ON `my-app`.* TO `bk`@`%`",
            "GRANT SELECT ON `mysql`.`proc` TO `bk`@`%`",
            "GRANT EXECUTE ON PROCEDURE `app`.`p` TO `bk`@`%`",
            "GRANT `r` TO `bk`@`%`",
            "GRANT SHOW DATABASES ON *.* TO `r`",
            "GRANT INSERT (a, b), UPDATE ON `other`.* TO `r`",
        ]);
        assert!(g.on_database("my-app", "SELECT"));
        assert!(g.on_database("my-app", "TRIGGER"));
        assert!(!g.on_database("my-app", "EXECUTE"));
        assert!(!g.on_database("mysql", "SELECT"));
        assert!(!g.on_database("app", "EXECUTE"));
        assert!(g.sees_every_database());
        assert!(g.on_database("other", "UPDATE"));
        assert!(!g.on_database("other", "INSERT"));
    }

    #[test]
    fn all_privileges_and_patterns() {
        let g = Grants::parse(["GRANT ALL PRIVILEGES ON `app\\_%`.* TO `a`@`%` WITH GRANT OPTION"]);
        assert!(g.on_database("app_1", "TRIGGER"));
        assert!(!g.on_database("appx1", "TRIGGER"));
        assert!(!g.sees_every_database());
        let root =
            Grants::parse(["GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION"]);
        assert!(root.global("SHOW_ROUTINE"));
        assert!(root.sees_every_database());
        let usage = Grants::parse(["GRANT USAGE ON *.* TO `x`@`%`"]);
        assert!(!usage.sees_every_database());
    }

    #[test]
    fn quoted_names_with_odd_characters() {
        let g = Grants::parse(["GRANT SELECT ON `a``b ON c`.* TO `u`@`%`"]);
        assert!(g.on_database("a`b ON c", "SELECT"));
        assert_eq!(read_ident("`x``y`.z"), Some(("x`y".to_string(), ".z")));
        assert_eq!(read_ident("tr AFTER"), Some(("tr".to_string(), " AFTER")));
        assert_eq!(read_ident("\"p\"\"q\"()"), Some(("p\"q".to_string(), "()")));
    }

    #[test]
    fn partial_revokes_take_a_database_back() {
        let g = Grants::parse([
            "GRANT SELECT, TRIGGER ON *.* TO `b`@`%`",
            "REVOKE SELECT ON `secret`.* FROM `b`@`%`",
        ]);
        assert!(g.on_database("app", "SELECT"));
        assert!(!g.on_database("secret", "SELECT"));
        assert!(g.on_database("secret", "TRIGGER"));
    }

    #[test]
    fn like_patterns() {
        assert!(like("my-app", "my-app"));
        assert!(like("a%", "abc"));
        assert!(like("a_c", "abc"));
        assert!(!like("a\\_c", "abc"));
        assert!(like("a\\_c", "a_c"));
        assert!(!like("App", "app"));
    }
}
