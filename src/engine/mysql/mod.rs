//! MySQL and MariaDB: dumps each database with `mariadb-dump` (or `mysqldump`), restores with `mariadb` (or
//! `mysql`), and checks the server with `mysql_async`. The password reaches the tools through a private
//! option file (`--defaults-extra-file`), never their command line or `MYSQL_PWD`.

mod client;
mod restore;
mod server;

use std::sync::{Mutex, MutexGuard};

use mysql_async::Conn;
use tokio::runtime::Handle;

use super::{Completeness, Dump, DumpTarget, Engine, Opener, ToolDump};
use crate::config::{Config, Databases};
use crate::error::{Error, Result};
use client::Tools;

/// The line a complete dump ends with (`-- Dump completed on <date>`, or without the date under
/// `--skip-dump-date`). `--skip-comments` and `--compact` would drop it, so MYSQLDUMP_ARGS refuses them.
pub const DUMP_TRAILERS: &[&str] = &["-- Dump completed"];
/// The kinds of file this engine writes: SQL.
pub const KINDS: &[&str] = &["sql"];

/// A reachable MySQL or MariaDB server and the client tools to use with it.
pub struct Mysql {
    cfg: Config,
    runtime: Handle,
    conn: Mutex<Conn>,
    tools: Tools,
    option_file: tempfile::NamedTempFile,
}

impl Mysql {
    /// Waits for the server (bounded by `DB_WAIT_TIMEOUT`) and reads its version. For a backup
    /// (`database` is `None`) the first configured database is opened, so that a wrong name fails here;
    /// a restore connects without one, since its target may not exist yet. Must be called from a blocking
    /// thread of the runtime.
    pub fn connect(cfg: &Config, database: Option<&str>) -> Result<Mysql> {
        let runtime = Handle::current();
        let first = match (database, &cfg.databases) {
            (Some(_), _) => None,
            (None, Databases::One(name)) => Some(name.as_str()),
            (None, Databases::List(names)) => names.first().map(String::as_str),
            (None, Databases::All | Databases::Server) => None,
        };
        let mut conn = runtime.block_on(server::wait_for(cfg, first))?;
        let version = runtime.block_on(server::version(&mut conn, cfg))?;
        tracing::info!(server = %server::label(cfg), version = %version, "connected");
        Ok(Mysql {
            cfg: cfg.clone(),
            runtime,
            conn: Mutex::new(conn),
            tools: Tools::new(cfg.mysql_bin_dir.as_deref()),
            option_file: client::write_option_file(cfg)?,
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
        let names = match &self.cfg.databases {
            Databases::One(name) => vec![name.clone()],
            Databases::List(names) => names.clone(),
            Databases::All => self
                .runtime
                .block_on(server::list_databases(&mut *self.conn()?, &self.cfg))?,
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
        Ok(names
            .into_iter()
            .map(|name| DumpTarget {
                series: self.cfg.series_for(&name),
                database: Some(name),
                kind: "sql".to_string(),
            })
            .collect())
    }

    fn dump(&self, target: &DumpTarget) -> Result<Box<dyn Dump>> {
        let database = target.database.as_deref().ok_or_else(|| {
            Error::Other("a MySQL dump needs a database; there is no server-wide dump".into())
        })?;
        let (name, path) = self.tools.dump()?;
        let command = client::dump_command(
            &path,
            self.option_file.path(),
            database,
            &self.cfg.mysqldump_args,
        );
        Ok(Box::new(ToolDump::start(&name, command)?))
    }

    fn completeness(&self, _target: &DumpTarget) -> Completeness {
        Completeness::Trailer(DUMP_TRAILERS)
    }

    fn prepare_restore(&self, database: &str) -> Result<String> {
        let cfg = &self.cfg;
        let mut conn = self.conn()?;
        if self
            .runtime
            .block_on(server::ensure_database(&mut conn, cfg, database))?
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

    fn restore(&self, database: Option<&str>, _kind: &str, open: Opener) -> Result<()> {
        let database = database.ok_or_else(|| {
            Error::Other(
                "MySQL backups hold one database each; there is no server-wide data to restore"
                    .into(),
            )
        })?;
        let (name, path) = self.tools.client()?;
        let command = client::restore_command(&path, self.option_file.path(), database);
        restore::run(&name, command, database, open)
    }
}

/// How to check a stored backup of `kind`: SQL dumps by their trailer.
pub fn file_completeness(kind: &str) -> Option<Completeness> {
    (kind == "sql").then_some(Completeness::Trailer(DUMP_TRAILERS))
}
