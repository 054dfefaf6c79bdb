//! MySQL and MariaDB: dumps each database with `mariadb-dump` (or `mysqldump`), and with `DB_NAME=all` the
//! users and grants too ([`users`]); restores with `mariadb` (or `mysql`), and checks the server with
//! `mysql_async`. The password reaches the tools through a private option file (`--defaults-extra-file`),
//! never their command line or `MYSQL_PWD`.
//!
//! A dump is complete only when the user could see everything ([`inventory`]: checked before the dump, naming
//! the missing grant) and the stream creates every object the server listed ([`dump_check`]).

mod args;
mod client;
mod drill;
mod dump_check;
pub mod facts;
mod grants;
mod inventory;
mod lines;
mod rename_check;
mod restore;
mod scope;
mod server;
mod sessions;
pub mod settings;
mod users;

use std::sync::{Arc, Mutex, MutexGuard};

use mysql_async::Conn;
use tokio::runtime::Handle;

use super::{Completeness, Dump, DumpTarget, Engine, Opener, ToolDump};
use crate::cancel::Cancel;
use crate::config::{Databases, exclude};
use crate::engine::mysql::settings::MysqlConfig;
use crate::error::{Error, Result};
use client::Tools;
use dump_check::{DumpCheck, Inventory, Refused};
use inventory::Access;
use scope::Scope;

/// The line a complete dump ends with (`-- Dump completed on <date>`, or without the date under
/// `--skip-dump-date`). `--skip-comments` and `--compact` would drop it, so MYSQLDUMP_ARGS refuses them.
pub const DUMP_TRAILERS: &[&str] = &["-- Dump completed"];
/// The kinds of file this engine writes: SQL.
pub const KINDS: &[&str] = &["sql"];

/// A reachable MySQL or MariaDB server and the client tools to use with it.
pub struct Mysql {
    cfg: MysqlConfig,
    runtime: Handle,
    conn: Arc<Mutex<Conn>>,
    tools: Tools,
    option_file: tempfile::NamedTempFile,
    /// `SELECT VERSION()`: tells MariaDB from MySQL.
    version: String,
    /// Stops the connect steps, the streams and the tools.
    cancel: Cancel,
}

impl Mysql {
    /// Waits for the server (bounded by `DB_WAIT_TIMEOUT`) and reads its version. For a backup
    /// (`database` is `None`) the first configured database is opened, so that a wrong name fails here;
    /// a restore connects without one, since its target may not exist yet. Must be called from a blocking
    /// thread of the runtime.
    pub fn connect(cfg: &MysqlConfig, database: Option<&str>, cancel: &Cancel) -> Result<Mysql> {
        let runtime = Handle::current();
        let first = match (database, &cfg.naming.databases) {
            (Some(_), _) => None,
            (None, Databases::One(name)) => Some(name.as_str()),
            (None, Databases::List(names)) => names.first().map(String::as_str),
            (None, Databases::All | Databases::Server) => None,
        };
        let mut conn = runtime.block_on(server::wait_for(cfg, cancel, first))?;
        let version = runtime.block_on(server::version(&mut conn, cfg, cancel))?;
        tracing::info!(server = %server::label(cfg), version = %version, "connected");
        Ok(Mysql {
            cfg: cfg.clone(),
            runtime,
            conn: Arc::new(Mutex::new(conn)),
            tools: Tools::new(cfg.settings.bin_dir.as_deref()),
            option_file: client::write_option_file(cfg)?,
            version,
            cancel: cancel.clone(),
        })
    }

    /// The connection, for one query at a time.
    fn conn(&self) -> Result<MutexGuard<'_, Conn>> {
        self.conn
            .lock()
            .map_err(|_| Error::Other("the MySQL connection was poisoned by a panic".into()))
    }
}

impl Engine for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn targets(&self) -> Result<Vec<DumpTarget>> {
        let cfg = &self.cfg;
        let access = self
            .runtime
            .block_on(Access::read(&mut *self.conn()?, cfg, &self.version))?;
        let names = match &cfg.naming.databases {
            Databases::One(name) => vec![name.clone()],
            Databases::List(names) => names.clone(),
            Databases::All => {
                access.check_all_databases(cfg)?;
                let names = self
                    .runtime
                    .block_on(server::list_databases(&mut *self.conn()?, cfg))?;
                exclude::apply(&cfg.naming, names)?
            }
            Databases::Server => Vec::new(),
        };
        if names.is_empty() {
            // Exit status 0 must mean a backup exists; an empty server has nothing to restore from.
            return Err(Error::Server {
                server: server::label(&self.cfg),
                message: format!(
                    "has no databases to back up (besides its own: {}); create one or check DB_NAME",
                    server::SYSTEM_DATABASES.join(", ")
                ),
            });
        }
        // Every database is checked before the first dump, so that a missing grant fails the run at once.
        for name in &names {
            access.check_database(cfg, name, &Scope::from_args(&cfg.settings.dump_args, name))?;
        }
        let mut targets = Vec::new();
        if cfg.naming.databases == Databases::All {
            if let Some(name) = names
                .iter()
                .find(|n| cfg.naming.series_for(n) == cfg.naming.globals_series())
            {
                return Err(Error::Server {
                    server: server::label(cfg),
                    message: format!(
                        "database {name} would be backed up as series {}, the series of the users and grants; \
                         rename the database, or list the databases in DB_NAME (the users are then not backed \
                         up)",
                        cfg.naming.globals_series()
                    ),
                });
            }
            targets.push(DumpTarget {
                database: None,
                series: cfg.naming.globals_series(),
                kind: "sql".to_string(),
            });
        }
        targets.extend(names.into_iter().map(|name| DumpTarget {
            series: cfg.naming.series_for(&name),
            database: Some(name),
            kind: "sql".to_string(),
        }));
        Ok(targets)
    }

    fn dump(&self, target: &DumpTarget) -> Result<Box<dyn Dump>> {
        let (name, path) = self.tools.dump()?;
        let Some(database) = target.database.as_deref() else {
            let command = client::users_dump_command(&path, self.option_file.path());
            return Ok(Box::new(users::UsersDump(ToolDump::start(
                &name,
                command,
                &self.cancel,
            )?)));
        };
        let command = client::dump_command(
            &path,
            self.option_file.path(),
            database,
            &self.cfg.settings.dump_args,
        );
        let sessions = sessions::DumpSessions::before_start(
            self.conn.clone(),
            self.runtime.clone(),
            database,
        )
        .map_err(|e| {
            tracing::warn!(error = %e, "the server's connection ids could not be read: a stopped dump's query is not killed");
        })
        .ok();
        Ok(Box::new(sessions::StoppableDump {
            dump: ToolDump::start(&name, command, &self.cancel)?,
            sessions,
            cancel: self.cancel.clone(),
        }))
    }

    /// Asks the server, just before the dump, what it has: the accounts (users dump) or the database's objects,
    /// which the stream must then create. When the server cannot say, the check fails the backup.
    fn completeness(&self, target: &DumpTarget) -> Completeness {
        let cfg = &self.cfg;
        let check: Result<Box<dyn super::StreamCheck>> = (|| {
            let mut conn = self.conn()?;
            let Some(database) = target.database.as_deref() else {
                let accounts = self.runtime.block_on(users::accounts(&mut conn, cfg))?;
                tracing::debug!(
                    accounts = accounts.len(),
                    "accounts the users dump must create"
                );
                return Ok(
                    Box::new(users::UsersCheck::new(accounts)) as Box<dyn super::StreamCheck>
                );
            };
            let scope = Scope::from_args(&cfg.settings.dump_args, database);
            let inventory = self
                .runtime
                .block_on(inventory::inventory(&mut conn, cfg, database, &scope))?;
            tracing::debug!(
                database,
                objects = inventory.count(),
                "objects the dump must create"
            );
            Ok(Box::new(DumpCheck::new(inventory)))
        })();
        Completeness::Custom(check.unwrap_or_else(|e| {
            Box::new(Refused(format!(
                "the server's list of what the dump must hold could not be read: {e}"
            )))
        }))
    }

    fn target_label(&self, target: &DumpTarget) -> String {
        match &target.database {
            Some(db) => format!("database {db}"),
            None => "the users and grants".to_string(),
        }
    }

    fn prepare_restore(&self, database: &str) -> Result<String> {
        let cfg = &self.cfg;
        let mut conn = self.conn()?;
        // A new database is created by the restore itself, once the dump has passed its first read: a refused
        // or damaged dump leaves nothing behind.
        if !self
            .runtime
            .block_on(server::database_exists(&mut conn, cfg, database))?
        {
            return Ok("created".to_string());
        }
        let objects = self
            .runtime
            .block_on(server::object_count(&mut conn, cfg, database))?;
        if objects > 0 {
            return Err(Error::Server {
                server: server::label(cfg),
                message: format!(
                    "database {database} is not empty ({objects} tables, views, routines, triggers or events); \
                     restore needs an empty database: drop and recreate it, or restore into a new one with \
                     --database NAME"
                ),
            });
        }
        Ok("existing, empty".to_string())
    }

    fn drill_rows(&self, database: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        Mysql::drill_rows(self, database)
    }

    fn drop_database(&self, database: &str) -> Result<()> {
        Mysql::drop_database(self, database)
    }

    fn database_names(&self) -> Result<Vec<String>> {
        Mysql::database_names(self)
    }

    fn restore(&self, database: Option<&str>, _kind: &str, open: Opener) -> Result<()> {
        let (name, path) = self.tools.client()?;
        let Some(database) = database else {
            return self.restore_users(&name, &path, open);
        };
        let command = client::restore_command(&path, self.option_file.path(), database);
        let mut create = || -> Result<()> {
            let created = self.runtime.block_on(server::ensure_database(
                &mut *self.conn()?,
                &self.cfg,
                database,
            ))?;
            if created {
                tracing::debug!(database, "database created");
            }
            Ok(())
        };
        restore::run(
            &name,
            command,
            database,
            open,
            None,
            &mut create,
            &self.cancel,
        )
    }
}

impl Mysql {
    /// Restores a users dump, leaving out every statement about the account this restore is connected as.
    fn restore_users(&self, tool: &str, path: &std::path::Path, open: Opener) -> Result<()> {
        let account: String = self
            .runtime
            .block_on(mysql_async::prelude::Queryable::query_first(
                &mut *self.conn()?,
                "SELECT CURRENT_USER()",
            ))
            .map_err(|e| server::error(&self.cfg, "", &e))?
            .unwrap_or_default();
        let mut filter = users::AccountFilter::new(&account);
        let command = client::users_restore_command(path, self.option_file.path());
        restore::run(
            tool,
            command,
            "users and grants",
            open,
            Some(&mut filter),
            &mut || Ok(()),
            &self.cancel,
        )?;
        tracing::info!(
            account = %filter.account,
            statements = filter.skipped,
            "statements about the connected account were left out, so that it stays as it is"
        );
        Ok(())
    }
}

/// Whether the first lines of a dump say it is of no single database (`-- Host: db    Database: ` with no
/// name): the users and grants of a server, or a dump of several databases. Restoring such a dump into one
/// database would run statements about the whole server, without the care a users restore takes.
pub fn names_no_database(head: &[u8]) -> bool {
    String::from_utf8_lossy(head)
        .lines()
        .find(|l| l.starts_with("-- Host: "))
        .is_some_and(|l| l.trim_end().ends_with("Database:"))
}

/// How to check a stored backup of `kind`: SQL dumps by their trailer and the dump tool's notes.
pub fn file_completeness(kind: &str) -> Option<Completeness> {
    (kind == "sql").then(|| Completeness::Custom(Box::new(DumpCheck::new(Inventory::default()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_of_no_single_database_are_told_by_their_header() {
        let users = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n--\n-- Host: localhost    Database: \n";
        assert!(names_no_database(users));
        let app = b"-- MariaDB dump 10.19\n--\n-- Host: db    Database: app\n";
        assert!(!names_no_database(app));
        assert!(!names_no_database(b"CREATE TABLE t (x int);\n"));
    }
}
