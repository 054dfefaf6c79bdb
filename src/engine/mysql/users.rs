//! The server's users, roles and grants, backed up as their own series with `DB_NAME=all`
//! (`mariadb-dump --system=users --insert-ignore`: `CREATE USER IF NOT EXISTS` and `GRANT` statements, one a
//! line) and restored before the databases.
//!
//! Two rules shape it. The backup must hold every account the server has: [`UsersCheck`] counts the accounts
//! the dump creates against `mysql.user`. The restore must never change the account it is connected as (a
//! changed password or a lost privilege would lock it out in the middle of the restore): [`AccountFilter`]
//! leaves out every statement whose object is that account, and says how many.

use std::collections::BTreeSet;
use std::io::{self, Read};

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::DUMP_TRAILERS;
use super::lines::LineHeads;
use super::server;
use crate::engine::mysql::settings::MysqlConfig;
use crate::engine::{Dump, StreamCheck, ToolDump, check_trailer};
use crate::error::{Error, Result};

const CREATE_USER: &str = "CREATE USER IF NOT EXISTS ";
/// MariaDB writes each role twice, for itself and for MySQL 8 (`/*!80001 CREATE ROLE IF NOT EXISTS 'r' */`).
const CREATE_ROLE: &[&str] = &[
    "/*M!100005 CREATE ROLE IF NOT EXISTS ",
    "/*!80001 CREATE ROLE IF NOT EXISTS ",
];

/// The accounts (users and roles) the server has, as `name@host` (a MariaDB role has no host): what the users
/// dump must create.
pub async fn accounts(conn: &mut Conn, cfg: &MysqlConfig) -> Result<Vec<String>> {
    let rows: Vec<(String, String)> = conn
        .query("SELECT User, Host FROM mysql.user")
        .await
        .map_err(|e| server::error(cfg, "mysql", &e))?;
    Ok(rows.into_iter().map(|(u, h)| format!("{u}@{h}")).collect())
}

/// The completeness check of a users dump: the trailer, and as many accounts created as the server has.
#[derive(Debug)]
pub struct UsersCheck {
    /// The server's accounts, `name@host`.
    expected: Vec<String>,
    users: BTreeSet<String>,
    roles: BTreeSet<String>,
    lines: LineHeads,
}

impl UsersCheck {
    pub fn new(expected: Vec<String>) -> UsersCheck {
        UsersCheck {
            expected,
            users: BTreeSet::new(),
            roles: BTreeSet::new(),
            lines: LineHeads::new(),
        }
    }

    /// One line's head: a `CREATE USER` or `CREATE ROLE` adds its account.
    fn line(line: &[u8], users: &mut BTreeSet<String>, roles: &mut BTreeSet<String>) {
        let text = String::from_utf8_lossy(line);
        if let Some(rest) = text.strip_prefix(CREATE_USER) {
            users.insert(unquote_account(&account_text(rest)));
        } else if let Some(rest) = CREATE_ROLE.iter().find_map(|p| text.strip_prefix(p)) {
            let role = account_text(rest);
            roles.insert(format!("{}@", role.trim_matches('\'').replace("''", "'")));
        }
    }
}

/// `` `name`@`host` `` as `name@host`.
fn unquote_account(text: &str) -> String {
    text.split("`@`")
        .map(|part| part.trim_matches('`').replace("``", "`"))
        .collect::<Vec<_>>()
        .join("@")
}

/// The account at the start of a statement's rest: up to the first blank or `;` outside quotes.
fn account_text(rest: &str) -> String {
    let mut quote = None;
    for (i, c) in rest.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '`' || c == '\'' => quote = Some(c),
            None if c == ' ' || c == ';' => return rest[..i].to_string(),
            None => {}
        }
    }
    rest.to_string()
}

impl StreamCheck for UsersCheck {
    fn feed(&mut self, chunk: &[u8]) {
        let (users, roles) = (&mut self.users, &mut self.roles);
        self.lines
            .feed(chunk, |l| UsersCheck::line(l, users, roles));
    }

    fn finish(mut self: Box<Self>) -> std::result::Result<(), String> {
        let (users, roles) = (&mut self.users, &mut self.roles);
        self.lines.finish(|l| UsersCheck::line(l, users, roles));
        check_trailer(DUMP_TRAILERS, self.lines.tail())?;
        let found = self.users.len() + self.roles.len();
        if found >= self.expected.len() {
            return Ok(());
        }
        let missing: Vec<&str> = self
            .expected
            .iter()
            .filter(|a| !self.users.contains(*a) && !self.roles.contains(*a))
            .map(String::as_str)
            .collect();
        let public = if missing.contains(&"PUBLIC@") {
            " (mariadb-dump does not write the grants to PUBLIC: grant them to a role instead, or list the \
             databases in DB_NAME to back them up without the users)"
        } else {
            ""
        };
        Err(format!(
            "the server has {} accounts (users and roles) but the dump creates {found} ({} users, {} roles); \
             missing: {}{public}; the dump tool left them out without an error",
            self.expected.len(),
            self.users.len(),
            self.roles.len(),
            missing.join(", ")
        ))
    }
}

/// Leaves out of a users dump, line by line, the statements about one account: `CREATE USER`, `GRANT ... TO`,
/// `SET DEFAULT ROLE ... FOR` and `ALTER USER` naming it.
#[derive(Debug)]
pub struct AccountFilter {
    /// The account as `mariadb-dump` quotes it: `` `name`@`host` `` and `'name'@'host'`.
    forms: [String; 2],
    /// `name@host`, for the log.
    pub account: String,
    line: Vec<u8>,
    /// How many statements were left out.
    pub skipped: usize,
}

impl AccountFilter {
    /// `account` as `CURRENT_USER()` gives it: `name@host`.
    pub fn new(account: &str) -> AccountFilter {
        let (name, host) = account.rsplit_once('@').unwrap_or((account, "%"));
        AccountFilter {
            forms: [
                format!(
                    "`{}`@`{}`",
                    name.replace('`', "``"),
                    host.replace('`', "``")
                ),
                format!(
                    "'{}'@'{}'",
                    name.replace('\'', "\\'"),
                    host.replace('\'', "\\'")
                ),
            ],
            account: account.to_string(),
            line: Vec::new(),
            skipped: 0,
        }
    }

    /// Passes `chunk` on to `out`, whole lines at a time, without the lines about the account.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut rest = chunk;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            self.line.extend_from_slice(&rest[..=at]);
            self.emit(out)?;
            rest = &rest[at + 1..];
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    /// Passes on the last line, when the stream did not end with a newline.
    pub fn finish(&mut self, out: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        if self.line.is_empty() {
            return Ok(());
        }
        self.emit(out)
    }

    fn emit(&mut self, out: &mut dyn FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        let line = std::mem::take(&mut self.line);
        if self.is_about_account(&String::from_utf8_lossy(&line)) {
            self.skipped += 1;
            return Ok(());
        }
        out(&line)
    }

    /// Whether the statement's object is the account: the account follows `TO`, `FOR`, `USER` or `EXISTS`.
    fn is_about_account(&self, line: &str) -> bool {
        if line.starts_with("--") {
            return false;
        }
        self.forms.iter().any(|form| {
            line.match_indices(form.as_str()).any(|(at, _)| {
                let before = line[..at].trim_end().to_ascii_uppercase();
                ["TO", "FOR", "USER", "EXISTS"]
                    .iter()
                    .any(|w| before.ends_with(&format!(" {w}")))
            })
        })
    }
}

/// The users dump, whose failure on an account the server ignores gets a hint.
pub struct UsersDump(pub ToolDump);

impl Read for UsersDump {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Dump for UsersDump {
    fn finish(self: Box<Self>) -> Result<()> {
        Box::new(self.0).finish().map_err(|e| match e {
            // ER_NONEXISTING_GRANT on SHOW CREATE USER: the account is in mysql.user but the server ignores it.
            Error::Tool { tool, message } if message.contains("(1133)") => Error::Tool {
                tool,
                message: format!(
                    "{message}; the server ignores this account (an account with a host name on a server \
                     running with skip-name-resolve): drop it, or give it an IP address or `%` as host"
                ),
            },
            other => other,
        })
    }

    fn abort(self: Box<Self>) -> String {
        Box::new(self.0).abort()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: &str = "CREATE USER IF NOT EXISTS `root`@`localhost` IDENTIFIED BY PASSWORD '*AB';\n\
        CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED BY PASSWORD '*CD';\n\
        /*!80001 CREATE ROLE IF NOT EXISTS 'r' */;\n\
        /*M!100005 CREATE ROLE IF NOT EXISTS 'r' WITH ADMIN mariadb_dump_import_role */;\n\
        /*M!100005 GRANT 'r' TO 'root'@'localhost' WITH ADMIN OPTION */;\n\
        GRANT ALL PRIVILEGES ON *.* TO `root`@`localhost` WITH GRANT OPTION;\n\
        GRANT PROXY ON `root`@`localhost` TO `app`@`%`;\n\
        /*M!100005 SET DEFAULT ROLE NONE FOR 'root'@'localhost' */;\n\
        /*!80001 ALTER USER 'root'@'localhost' DEFAULT ROLE NONE */;\n\
        GRANT SELECT ON `app`.* TO `app`@`%`;\n\
        -- Dump completed\n";

    #[test]
    fn the_connecting_account_is_left_alone() {
        let mut filter = AccountFilter::new("root@localhost");
        let mut out = Vec::new();
        for piece in USERS.as_bytes().chunks(9) {
            filter
                .feed(piece, &mut |b| {
                    out.extend_from_slice(b);
                    Ok(())
                })
                .expect("feed");
        }
        filter
            .finish(&mut |b| {
                out.extend_from_slice(b);
                Ok(())
            })
            .expect("finish");
        let out = String::from_utf8(out).expect("UTF-8");
        assert_eq!(filter.skipped, 5, "{out}");
        assert!(out.contains("CREATE USER IF NOT EXISTS `app`@`%`"));
        assert!(out.contains("GRANT PROXY ON `root`@`localhost` TO `app`@`%`"));
        assert!(out.contains("GRANT SELECT ON `app`.* TO `app`@`%`"));
        assert!(!out.contains("TO `root`@`localhost`"));
        assert!(out.ends_with("-- Dump completed\n"));
    }

    #[test]
    fn accounts_are_counted() {
        let mut check = Box::new(UsersCheck::new(vec![
            "root@localhost".into(),
            "app@%".into(),
            "r@".into(),
        ]));
        for piece in USERS.as_bytes().chunks(4) {
            check.feed(piece);
        }
        assert_eq!(check.finish(), Ok(()));
        let mut check = Box::new(UsersCheck::new(vec![
            "root@localhost".into(),
            "app@%".into(),
            "r@".into(),
            "PUBLIC@".into(),
        ]));
        check.feed(USERS.as_bytes());
        let err = check.finish().unwrap_err();
        assert!(err.contains("4 accounts"), "{err}");
        assert!(
            err.contains("missing: PUBLIC@ (mariadb-dump does not write"),
            "{err}"
        );
    }
}
