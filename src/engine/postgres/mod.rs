//! PostgreSQL: dumps with `pg_dump` (and for `DB_NAME=all` a globals backup: roles, tablespaces and each
//! database's properties, see `cluster`), restores with `psql` or `pg_restore`, using the client that matches
//! the server's major version. The password reaches the tools through a private `PGPASSFILE`, never their
//! command line. A failed restore removes what it created (see `undo`).

mod args;
mod cluster;
mod drill;
mod dump;
pub mod facts;
mod globals;
mod parallel;
mod server;
mod sessions;
pub mod settings;
pub mod tools;
mod undo;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use std::sync::Arc;

use tokio::runtime::Handle;
use tokio_postgres::Client;

use super::{Checker, Completeness, Dump, DumpTarget, Engine, Opener, RestoreSource};
use crate::cancel::Cancel;
use crate::config::{Databases, exclude};
use crate::engine::postgres::settings::{PgConfig, PgFormat};
use crate::error::{Error, Result};
use crate::process::Tool;
use dump::PgDump;
use tools::PgTools;

/// The trailer `pg_dump` writes at the end of a complete plain dump.
pub const DUMP_TRAILER: &str = "-- PostgreSQL database dump complete";
/// The trailer `pg_dumpall` writes at the end of a complete dump.
pub const DUMPALL_TRAILER: &str = "-- PostgreSQL database cluster dump complete";
/// The kinds of file this engine writes: plain SQL and custom-format archives.
pub const KINDS: &[&str] = &["sql", "dump"];

/// A reachable PostgreSQL server and the client tools that fit it.
pub struct Postgres {
    cfg: PgConfig,
    runtime: Handle,
    client: Arc<Client>,
    server_major: u32,
    tools: PgTools,
    /// Always set: with no password it is empty, so that libpq neither reads `~/.pgpass` nor warns about
    /// a passfile that is not a plain file.
    passfile: tempfile::NamedTempFile,
    /// The roles and databases that existed when a restore began (see [`Engine::begin_restore`]).
    before_restore: std::sync::Mutex<Option<undo::Snapshot>>,
    /// Stops the connect steps, the streams and the tools.
    cancel: Cancel,
}

impl Postgres {
    /// Waits for the server (bounded by `DB_WAIT_TIMEOUT`), reads its version and finds the client tools.
    /// Must be called from a blocking thread of the runtime.
    pub fn connect(cfg: &PgConfig, database: Option<&str>, cancel: &Cancel) -> Result<Postgres> {
        let runtime = Handle::current();
        let first = database
            .map(str::to_string)
            .unwrap_or_else(|| check_database(cfg));
        // One `DB_WAIT_TIMEOUT` bounds the whole step, the second try and the version query included.
        let start = Instant::now();
        let client = runtime.block_on(async {
            match server::wait_for(cfg, cancel, &first, start).await {
                // A restore may target a database this user cannot reach yet; the maintenance one will do,
                // in what is left of the wait (none after a server that never answered).
                Err(e)
                    if database.is_some()
                        && first != "postgres"
                        && start.elapsed() < cfg.conn.wait_timeout =>
                {
                    server::wait_for(cfg, cancel, "postgres", start)
                        .await
                        .map_err(|_| e)
                }
                other => other,
            }
        })?;
        let server_major = runtime.block_on(server::major_version(&client, cfg, cancel, start))?;
        let tools = PgTools::find(server_major, cfg.settings.bin_dir.as_deref())?;
        tracing::debug!(
            server_major,
            client_major = tools.major,
            "PostgreSQL client chosen"
        );
        let passfile = write_passfile(cfg.conn.password.as_ref().map(|p| p.expose()))?;
        Ok(Postgres {
            cfg: cfg.clone(),
            runtime,
            client: Arc::new(client),
            server_major,
            tools,
            passfile,
            before_restore: std::sync::Mutex::new(None),
            cancel: cancel.clone(),
        })
    }

    fn dump_command(&self, target: &DumpTarget) -> Command {
        match &target.database {
            None => {
                let mut cmd = self.tools.command("pg_dumpall");
                cmd.arg("--globals-only");
                cmd.args(&self.cfg.settings.dumpall_args);
                self.set_env(&mut cmd, "postgres");
                cmd
            }
            Some(db) => {
                let mut cmd = self.tools.command("pg_dump");
                if self.cfg.settings.format == PgFormat::Custom {
                    // db-backup compresses the stream itself; compressing twice only costs time.
                    cmd.args(["--format=custom", "--compress=0"]);
                }
                cmd.args(&self.cfg.settings.dump_args);
                self.set_env(&mut cmd, db);
                cmd
            }
        }
    }

    /// The command that restores a dump of `kind` read on stdin into `database` (`None`: globals).
    fn restore_command(&self, database: Option<&str>, kind: &str) -> Command {
        match (database, kind) {
            (Some(db), "dump") => {
                let mut cmd = self.tools.command("pg_restore");
                cmd.args(["--exit-on-error", "--single-transaction", "--no-password"]);
                cmd.arg(format!("--dbname={}", conninfo_dbname(db)));
                self.set_env(&mut cmd, db);
                cmd
            }
            // No --single-transaction: the restore sends BEGIN and COMMIT itself (see `restore`).
            (Some(db), _) => self.psql(db),
            // Not in one transaction: CREATE DATABASE and CREATE TABLESPACE cannot run in one. What exists
            // already is filtered out (see `globals::filter`), so any error is a real one, and a failed restore
            // removes what it created (see `undo`).
            (None, _) => self.psql("postgres"),
        }
    }

    /// `psql` reading a script on stdin in `database`, stopping at the first error.
    fn psql(&self, database: &str) -> Command {
        let mut cmd = self.tools.command("psql");
        cmd.args([
            "--no-psqlrc",
            "--quiet",
            "--no-password",
            "--set=ON_ERROR_STOP=1",
            "--file=-",
        ]);
        self.set_env(&mut cmd, database);
        cmd
    }

    /// Notes that the restore is about to create a role (`role`) or a database named `name`.
    fn note_creating(&self, role: bool, name: String) {
        let mut guard = self
            .before_restore
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(snapshot) = guard.as_mut() {
            if role {
                snapshot.creating_role(name);
            } else {
                snapshot.creating_database(name);
            }
        }
    }

    /// Connection settings go through the child's environment: the password via a private file, the database
    /// name literally (an argument could be read as a connection string).
    /// The server sessions of a run of the dump tool `tool`, to end if the dump is stopped.
    fn sessions(&self, tool: &str) -> sessions::DumpSessions {
        sessions::DumpSessions::new(
            tool,
            self.client.clone(),
            self.runtime.clone(),
            self.server_major,
        )
    }

    fn set_env(&self, cmd: &mut Command, database: &str) {
        for var in [
            "PGPASSWORD",
            "PGPASSWORD_FILE",
            "PGSERVICE",
            "PGSERVICEFILE",
            "DB_PASSWORD",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("PGHOST", &self.cfg.conn.host)
            .env("PGPORT", self.cfg.conn.port.to_string())
            .env("PGUSER", &self.cfg.conn.user)
            .env("PGDATABASE", database)
            .env("PGCONNECT_TIMEOUT", "30");
        cmd.env("PGPASSFILE", self.passfile.path());
        tools::set_tls_env(&self.cfg.conn.tls, cmd);
    }
}

impl Engine for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn targets(&self) -> Result<Vec<DumpTarget>> {
        let kind = self.cfg.settings.format.kind().to_string();
        let names = match &self.cfg.naming.databases {
            Databases::One(name) => vec![name.clone()],
            Databases::Server => Vec::new(),
            Databases::List(names) => names.clone(),
            Databases::All => exclude::apply(
                &self.cfg.naming,
                self.runtime
                    .block_on(server::list_databases(&self.client, &self.cfg))?,
            )?,
        };
        let mut targets = Vec::new();
        if self.cfg.naming.databases == Databases::All {
            targets.push(DumpTarget {
                database: None,
                series: self.cfg.naming.globals_series(),
                kind: "sql".to_string(),
            });
        }
        for name in names {
            targets.push(DumpTarget {
                series: self.cfg.naming.series_for(&name),
                database: Some(name),
                kind: kind.clone(),
            });
        }
        Ok(targets)
    }

    fn dump(&self, target: &DumpTarget) -> Result<Box<dyn Dump>> {
        let command = self.dump_command(target);
        if target.database.is_some() {
            return Ok(Box::new(PgDump::start(
                "pg_dump",
                &self.cfg.conn.user,
                command,
                self.sessions("pg_dump"),
                &self.cancel,
            )?));
        }
        Ok(Box::new(self.dump_globals(command)?))
    }

    fn completeness(&self, target: &DumpTarget) -> Completeness {
        match (&target.database, target.kind.as_str()) {
            (None, _) => Completeness::Trailer(&[globals::TRAILER]),
            (Some(_), kind) => {
                file_completeness(&self.cfg, kind).unwrap_or(Completeness::Trailer(&[DUMP_TRAILER]))
            }
        }
    }

    fn prepare_restore(&self, database: &str) -> Result<String> {
        self.note_creating(false, database.to_string());
        let created =
            self.runtime
                .block_on(server::ensure_database(&self.client, &self.cfg, database))?;
        if created {
            return Ok("created".to_string());
        }
        let objects =
            self.runtime
                .block_on(server::object_count(&self.cfg, &self.cancel, database))?;
        if objects > 0 {
            return Err(Error::Server {
                server: server::label(&self.cfg),
                message: format!(
                    "database {database} is not empty ({objects} tables, sequences, functions...); restore \
                     needs an empty database: drop and recreate it, or restore into a new one with --database NAME"
                ),
            });
        }
        Ok("existing, empty".to_string())
    }

    fn restore(&self, database: Option<&str>, kind: &str, open: Opener) -> Result<()> {
        if database.is_none() {
            return self.restore_globals(open);
        }
        let plain = kind == "sql" && database.is_some();
        let tool_name = if kind == "dump" { "pg_restore" } else { "psql" };
        let mut tool = Tool::spawn(
            tool_name,
            self.restore_command(database, kind),
            Stdio::piped(),
            Stdio::null(),
            &self.cancel,
        )?;
        let mut stdin = tool
            .take_stdin()
            .ok_or_else(|| Error::no_pipe(tool_name, "input"))?;
        let mut checker = Checker::start(
            Completeness::Trailer(&[DUMP_TRAILER, DUMPALL_TRAILER]),
            &self.cancel,
        )?;
        let mut input = open()?;

        // The transaction is ours rather than psql's --single-transaction, so that COMMIT is sent only once the
        // whole dump has arrived intact; a stream cut short ends in a rollback.
        let streamed = (|| -> std::io::Result<()> {
            if plain {
                stdin.write_all(b"BEGIN;\n")?;
            }
            crate::pipeline::pump(&mut *input, &self.cancel, &mut |chunk| {
                checker.feed(chunk)?;
                stdin.write_all(chunk)
            })
        })();
        if let Err(e) = streamed {
            drop(stdin);
            // A client that stopped reading has the better explanation.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                tool.wait()?;
            }
            return Err(Error::stopped(
                self.cancel.is_cancelled(),
                format!("restore stopped: {e}; nothing was committed"),
            ));
        }
        if kind == "sql"
            && let Some(Err(message)) = checker.trailer_verdict()
        {
            return Err(Error::Incomplete {
                database: database.unwrap_or("globals").to_string(),
                message: format!("{message}; nothing was committed"),
            });
        }
        if plain {
            stdin
                .write_all(b"COMMIT;\n")
                .map_err(|e| Error::Other(format!("restore stopped at COMMIT: {e}")))?;
        }
        drop(stdin);
        tool.wait()?;
        Ok(())
    }

    fn drill_rows(&self, database: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        Postgres::drill_rows(self, database)
    }

    fn drop_database(&self, database: &str) -> Result<()> {
        Postgres::drop_database(self, database)
    }

    fn database_names(&self) -> Result<Vec<String>> {
        Postgres::database_names(self)
    }

    fn archive_rows(
        &self,
        kind: &str,
        open: Opener,
    ) -> Result<Option<std::collections::BTreeMap<String, u64>>> {
        Postgres::archive_rows(self, kind, open)
    }

    fn restore_from(
        &self,
        database: Option<&str>,
        kind: &str,
        open: Opener,
        source: RestoreSource,
    ) -> Result<()> {
        match database {
            Some(db) => match self.restore_jobs(db, kind) {
                1 => self.restore(database, kind, open),
                jobs => self.restore_parallel(db, open, source, jobs),
            },
            None => self.restore(database, kind, open),
        }
    }

    fn begin_restore(&self) -> Result<()> {
        let snapshot = self
            .runtime
            .block_on(undo::Snapshot::take(&self.client, &self.cfg))?;
        *self
            .before_restore
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
        Ok(())
    }

    fn undo_restore(&self) -> Option<String> {
        let before = self
            .before_restore
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        // A token of its own: a stopped restore (a parallel one leaves half a database) is undone too, bounded
        // by DB_WAIT_TIMEOUT.
        self.runtime
            .block_on(undo::remove_created(&self.cfg, &Cancel::new(), &before))
    }
}

/// The database the connection check uses: the first configured database, or `postgres` for `all`.
fn check_database(cfg: &PgConfig) -> String {
    match &cfg.naming.databases {
        Databases::One(name) => name.clone(),
        Databases::List(names) => names.first().cloned().unwrap_or_default(),
        Databases::All | Databases::Server => "postgres".to_string(),
    }
}

/// How to check a stored backup of `kind`: plain dumps by their trailer (of `pg_dump` or of `pg_dumpall`),
/// custom archives by reading them through `pg_restore`.
pub fn file_completeness(cfg: &PgConfig, kind: &str) -> Option<Completeness> {
    match kind {
        "sql" => Some(Completeness::Trailer(&[
            DUMP_TRAILER,
            DUMPALL_TRAILER,
            globals::TRAILER,
        ])),
        "dump" => {
            // A custom-format archive has no trailer: reading it through to the end with pg_restore is what
            // proves every data block is there.
            let mut command =
                PgTools::newest(cfg.settings.bin_dir.as_deref()).command("pg_restore");
            command.arg("--file=/dev/null");
            Some(Completeness::Reader {
                tool: "pg_restore".into(),
                command: Box::new(command),
            })
        }
        _ => None,
    }
}

/// A `PGPASSFILE` that holds only the password (nothing at all without one), readable only by this user,
/// removed when dropped.
fn write_passfile(password: Option<&str>) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("db-backup-pgpass-")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    if let Some(password) = password {
        let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
        writeln!(file, "*:*:*:*:{escaped}")
            .and_then(|_| file.flush())
            .map_err(|e| Error::io(file.path(), e))?;
    }
    Ok(file)
}

/// A database name as a libpq connection string, so that a name with `=` is not read as options.
fn conninfo_dbname(name: &str) -> String {
    format!(
        "dbname='{}'",
        name.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conninfo_is_quoted() {
        assert_eq!(conninfo_dbname("it's"), "dbname='it\\'s'");
    }
}
