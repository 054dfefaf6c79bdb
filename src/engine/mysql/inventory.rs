//! What the server has, asked before a dump: whether the connecting user may see all of it (the privileges
//! that decide what `information_schema` and the dump tool show), and the names of the objects of a database,
//! which the dump must then create ([`super::dump_check`]).
//!
//! Why both: the server hides from a user what it has no privilege on, in `information_schema` as in the dump
//! tool's `SHOW` statements, so a restricted user's own count cannot reveal what it cannot see. What decides
//! visibility on MariaDB 10.11 and MySQL 8, and what is therefore required (each only when the dump includes
//! that kind of object):
//!
//! - tables and views: `SELECT` on the whole database (with table grants only, the other tables are hidden);
//! - triggers: `TRIGGER` on the whole database (a trigger is listed only to a user with it on its table);
//! - procedures and functions: a routine is listed only to its definer or a user with `EXECUTE`, `ALTER
//!   ROUTINE` or `CREATE ROUTINE` on it, and its code is shown only to its definer or to a user who may read
//!   `mysql.proc` (MariaDB, MySQL 5.7) or holds `SHOW_ROUTINE` or the global `SELECT` (MySQL 8.0.20+). So
//!   either reading `mysql.proc` (tried with a query), or on MySQL 8 `SHOW_ROUTINE` or the global `SELECT`, or
//!   one of those routine privileges on the whole database (then every routine is listed, and one whose code is
//!   hidden makes `mariadb-dump` fail, or `mysqldump` write an "insufficient privileges" note that
//!   [`super::dump_check`] refuses) is required.
//! - events and views' definitions need `EVENT` and `SHOW VIEW`, but without them the dump tool fails by
//!   itself, so they need no check here.
//! - every database (`DB_NAME=all`): the global `SHOW DATABASES` (or any database privilege on `*.*`).

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::dump_check::Inventory;
use super::grants::Grants;
use super::scope::{Kind, Scope};
use super::server::{self, quote_ident};
use crate::engine::mysql::settings::MysqlConfig;
use crate::error::{Error, Result};

/// The connecting user as the server sees it, and what it may see.
#[derive(Debug)]
pub struct Access {
    /// `CURRENT_USER()`: `name@host`.
    pub account: String,
    pub grants: Grants,
    mariadb: bool,
    /// `SELECT` on `mysql.proc` works (MariaDB, MySQL 5.7).
    proc_readable: bool,
}

/// The ER_TABLEACCESS_DENIED_ERROR and ER_DBACCESS_DENIED_ERROR codes, and ER_NO_SUCH_TABLE (MySQL 8 keeps
/// routines in its data dictionary, without `mysql.proc`).
const NOT_READABLE: &[u16] = &[1142, 1044, 1146];

impl Access {
    /// Reads the user's grants, and whether it may read `mysql.proc`.
    pub async fn read(conn: &mut Conn, cfg: &MysqlConfig, version: &str) -> Result<Access> {
        let fail = |e: mysql_async::Error| server::error(cfg, "", &e);
        let account: String = conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .map_err(fail)?
            .unwrap_or_default();
        let lines: Vec<String> = conn.query("SHOW GRANTS").await.map_err(fail)?;
        let mariadb = version.contains("MariaDB");
        let proc_readable = match conn.query_drop("SELECT 1 FROM mysql.proc LIMIT 0").await {
            Ok(()) => true,
            Err(mysql_async::Error::Server(s)) if NOT_READABLE.contains(&s.code) => false,
            Err(e) => return Err(fail(e)),
        };
        Ok(Access {
            account,
            grants: Grants::parse(lines.iter().map(String::as_str)),
            mariadb,
            proc_readable,
        })
    }

    /// The account as a grant names it: `'name'@'host'`.
    pub fn grantee(&self) -> String {
        let (name, host) = self
            .account
            .rsplit_once('@')
            .unwrap_or((self.account.as_str(), "%"));
        format!(
            "'{}'@'{}'",
            name.replace('\'', "''"),
            host.replace('\'', "''")
        )
    }

    /// Fails unless the user may see every database (`DB_NAME=all`).
    pub fn check_all_databases(&self, cfg: &MysqlConfig) -> Result<()> {
        if self.grants.sees_every_database() {
            return Ok(());
        }
        Err(Error::Server {
            server: server::label(cfg),
            message: format!(
                "user {} may not see every database, so DB_NAME=all would back up only the ones it has \
                 privileges on; give it the global privilege: GRANT SHOW DATABASES ON *.* TO {} (see the \
                 README's Privileges), or name the databases in DB_NAME",
                self.account,
                self.grantee()
            ),
        })
    }

    /// Fails, naming each missing grant, unless the user may see everything of `database` that a dump with
    /// `scope` holds.
    pub fn check_database(&self, cfg: &MysqlConfig, database: &str, scope: &Scope) -> Result<()> {
        let on_db = |p: &str| self.grants.on_database(database, p);
        let db = quote_ident(database);
        let to = self.grantee();
        let mut missing = Vec::new();
        if scope.includes(Kind::Table) && !on_db("SELECT") {
            missing.push(format!(
                "its tables and views (GRANT SELECT ON {db}.* TO {to})"
            ));
        }
        if scope.includes(Kind::Trigger) && !on_db("TRIGGER") {
            missing.push(format!(
                "its triggers (GRANT TRIGGER ON {db}.* TO {to}, or MYSQLDUMP_ARGS=--skip-triggers to leave \
                 them out)"
            ));
        }
        let lists_routines = ["EXECUTE", "ALTER ROUTINE", "CREATE ROUTINE"]
            .iter()
            .any(|p| on_db(p));
        let reads_routines = self.proc_readable
            || (!self.mariadb
                && (self.grants.global("SHOW_ROUTINE") || self.grants.global("SELECT")));
        if scope.includes(Kind::Procedure) && !(reads_routines || lists_routines) {
            let grant = if self.mariadb {
                format!("GRANT SELECT ON mysql.proc TO {to}")
            } else {
                format!(
                    "GRANT SHOW_ROUTINE ON *.* TO {to} on MySQL 8.0.20 and later, GRANT SELECT ON mysql.proc TO \
                     {to} before"
                )
            };
            missing.push(format!(
                "its stored procedures and functions ({grant}, or MYSQLDUMP_ARGS=--skip-routines to leave them \
                 out)"
            ));
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(Error::Server {
            server: server::label(cfg),
            message: format!(
                "user {} may not see everything in database {database}: the dump would leave out, without an \
                 error, {}; nothing was backed up (see the README's Privileges)",
                self.account,
                missing.join("; and ")
            ),
        })
    }
}

/// The objects of `database` in `scope`, by name, as the connecting user sees them (after
/// [`Access::check_database`], that is all of them).
pub async fn inventory(
    conn: &mut Conn,
    cfg: &MysqlConfig,
    database: &str,
    scope: &Scope,
) -> Result<Inventory> {
    let fail = |e: mysql_async::Error| server::error(cfg, database, &e);
    let mut inv = Inventory::default();
    if scope.includes(Kind::Table) {
        let tables: Vec<(String, String)> = conn
            .exec(
                "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?",
                (database,),
            )
            .await
            .map_err(fail)?;
        for (name, kind) in tables {
            if scope.ignored.contains(&name) {
                continue;
            }
            let kind = if kind.eq_ignore_ascii_case("VIEW") {
                Kind::View
            } else {
                Kind::Table
            };
            inv.add(kind, &name);
        }
    }
    if scope.includes(Kind::Procedure) {
        let routines: Vec<(String, String)> = conn
            .exec(
                "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
                 WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')",
                (database,),
            )
            .await
            .map_err(fail)?;
        for (kind, name) in routines {
            let kind = if kind.eq_ignore_ascii_case("PROCEDURE") {
                Kind::Procedure
            } else {
                Kind::Function
            };
            inv.add(kind, &name);
        }
    }
    if scope.includes(Kind::Trigger) {
        let triggers: Vec<(String, String)> = conn
            .exec(
                "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS \
                 WHERE TRIGGER_SCHEMA = ?",
                (database,),
            )
            .await
            .map_err(fail)?;
        for (name, table) in triggers {
            // The triggers of an ignored table are not dumped either.
            if !scope.ignored.contains(&table) {
                inv.add(Kind::Trigger, &name);
            }
        }
    }
    if scope.includes(Kind::Event) {
        let events: Vec<String> = conn
            .exec(
                "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?",
                (database,),
            )
            .await
            .map_err(fail)?;
        for name in events {
            inv.add(Kind::Event, &name);
        }
    }
    Ok(inv)
}
