//! PostgreSQL: wait for the server, learn its version, pick the matching client tools, list databases, and
//! build the `pg_dump` / `pg_dumpall` / `psql` / `pg_restore` commands. The password reaches the tools through
//! a private `PGPASSFILE`, never their command line.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use super::pg_tools::PgTools;
use super::{Completeness, DumpTarget};
use crate::config::{Config, Databases, PgFormat};
use crate::error::{Error, Result};

/// The trailer `pg_dump` writes at the end of a complete plain dump.
pub const DUMP_TRAILER: &str = "-- PostgreSQL database dump complete";
/// The trailer `pg_dumpall` writes at the end of a complete dump.
pub const DUMPALL_TRAILER: &str = "-- PostgreSQL database cluster dump complete";
/// The file name extension of the globals dump.
pub const GLOBALS_KIND: &str = "sql";

/// A reachable PostgreSQL server and the client tools that fit it.
pub struct Postgres {
    cfg: Config,
    pub tools: PgTools,
    pub server_major: u32,
    passfile: Option<tempfile::NamedTempFile>,
}

impl Postgres {
    /// Waits for the server (bounded by `DB_WAIT_TIMEOUT`), reads its version and finds the client tools.
    /// `database` is the database to connect to for the check.
    pub async fn connect(cfg: &Config, database: &str) -> Result<(Postgres, Client)> {
        let client = wait_for_server(cfg, database).await?;
        let row = client
            .query_one("SHOW server_version_num", &[])
            .await
            .map_err(|e| server_error(cfg, database, &e))?;
        let num: String = row.get(0);
        let num: u32 = num.trim().parse().map_err(|_| Error::Server {
            server: server_label(cfg),
            message: format!("reported an unreadable version number {num:?}"),
        })?;
        let server_major = if num >= 100_000 {
            num / 10_000
        } else {
            num / 100
        };
        let tools = PgTools::find(server_major, cfg.pg_bin_dir.as_deref())?;
        tracing::debug!(
            server_major,
            client_major = tools.major,
            "PostgreSQL client chosen"
        );
        let passfile = match &cfg.password {
            Some(password) => Some(write_passfile(password.expose())?),
            None => None,
        };
        Ok((
            Postgres {
                cfg: cfg.clone(),
                tools,
                server_major,
                passfile,
            },
            client,
        ))
    }

    /// The database the connection check should use: the first configured database, or `postgres` for `all`.
    pub fn check_database(cfg: &Config) -> String {
        match &cfg.databases {
            Databases::One(name) => name.clone(),
            Databases::List(names) => names.first().cloned().unwrap_or_default(),
            Databases::All => "postgres".to_string(),
        }
    }

    /// What to dump, in order: the globals first when every database is backed up.
    pub async fn targets(&self, client: &Client) -> Result<Vec<DumpTarget>> {
        let kind = self.cfg.pg_format.kind().to_string();
        let names = match &self.cfg.databases {
            Databases::One(name) => vec![name.clone()],
            Databases::List(names) => names.clone(),
            Databases::All => client
                .query(
                    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname",
                    &[],
                )
                .await
                .map_err(|e| server_error(&self.cfg, "postgres", &e))?
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect(),
        };
        let mut targets = Vec::new();
        if self.cfg.databases == Databases::All {
            targets.push(DumpTarget {
                database: None,
                series: self.cfg.globals_series(),
                kind: GLOBALS_KIND.to_string(),
            });
        }
        for name in names {
            targets.push(DumpTarget {
                series: self.cfg.series_for(&name),
                database: Some(name),
                kind: kind.clone(),
            });
        }
        Ok(targets)
    }

    /// The dump command for a target; its stdout is the dump.
    pub fn dump_command(&self, target: &DumpTarget) -> Command {
        match &target.database {
            None => {
                let mut cmd = self.tools.command("pg_dumpall");
                cmd.arg("--globals-only");
                self.set_env(&mut cmd, "postgres");
                cmd
            }
            Some(db) => {
                let mut cmd = self.tools.command("pg_dump");
                if self.cfg.pg_format == PgFormat::Custom {
                    // db-backup compresses the stream itself; compressing twice only costs time.
                    cmd.args(["--format=custom", "--compress=0"]);
                }
                cmd.args(&self.cfg.pg_dump_args);
                self.set_env(&mut cmd, db);
                cmd
            }
        }
    }

    /// How to tell that a target's dump is complete.
    pub fn completeness(&self, target: &DumpTarget) -> Completeness {
        match (&target.database, target.kind.as_str()) {
            (None, _) => Completeness::Trailer(&[DUMPALL_TRAILER]),
            (Some(_), "dump") => {
                // A custom-format archive has no trailer: reading it through to the end with pg_restore is
                // what proves every data block is there.
                let mut command = self.tools.command("pg_restore");
                command.args(["--file=/dev/null"]);
                Completeness::Reader {
                    tool: "pg_restore".into(),
                    command: Box::new(command),
                }
            }
            (Some(_), _) => Completeness::Trailer(&[DUMP_TRAILER]),
        }
    }

    /// The command that restores a dump of `kind` read on stdin into `database` (`None`: globals).
    pub fn restore_command(&self, database: Option<&str>, kind: &str) -> Command {
        match (database, kind) {
            (Some(db), "dump") => {
                let mut cmd = self.tools.command("pg_restore");
                cmd.args(["--exit-on-error", "--single-transaction", "--no-password"]);
                cmd.arg(format!("--dbname={}", conninfo_dbname(db)));
                self.set_env(&mut cmd, db);
                cmd
            }
            (Some(db), _) => {
                let mut cmd = self.tools.command("psql");
                cmd.args([
                    "--no-psqlrc",
                    "--quiet",
                    "--no-password",
                    "--set=ON_ERROR_STOP=1",
                    "--single-transaction",
                    "--file=-",
                ]);
                self.set_env(&mut cmd, db);
                cmd
            }
            (None, _) => {
                // Globals always include roles that already exist (at least the one restoring), so errors
                // such as "role already exists" are expected here and must not stop the rest.
                let mut cmd = self.tools.command("psql");
                cmd.args(["--no-psqlrc", "--quiet", "--no-password", "--file=-"]);
                self.set_env(&mut cmd, "postgres");
                cmd
            }
        }
    }

    /// Connection settings go through the child's environment: the password via a private file, the database
    /// name literally (an argument could be read as a connection string).
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
        cmd.env("PGHOST", &self.cfg.host)
            .env("PGPORT", self.cfg.port.to_string())
            .env("PGUSER", &self.cfg.user)
            .env("PGDATABASE", database)
            .env("PGCONNECT_TIMEOUT", "30");
        match &self.passfile {
            Some(file) => cmd.env("PGPASSFILE", file.path()),
            None => cmd.env("PGPASSFILE", "/dev/null"),
        };
    }

    /// Creates `database` when it does not exist; returns whether it was created.
    pub async fn ensure_database(client: &Client, cfg: &Config, database: &str) -> Result<bool> {
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
            .await
            .map_err(|e| server_error(cfg, database, &e))?
            .is_some();
        if exists {
            return Ok(false);
        }
        client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(database)))
            .await
            .map_err(|e| server_error(cfg, database, &e))?;
        Ok(true)
    }

    /// The number of user relations, functions and types in `database` (0 for a fresh database).
    pub async fn object_count(cfg: &Config, database: &str) -> Result<i64> {
        let client = connect_once(cfg, database)
            .await
            .map_err(|e| server_error(cfg, database, &e))?;
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                   WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%') \
                 + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                   WHERE n.nspname NOT IN ('pg_catalog','information_schema'))",
                &[],
            )
            .await
            .map_err(|e| server_error(cfg, database, &e))?;
        Ok(row.get::<_, i64>(0))
    }
}

/// How to check a stored backup of `kind` without a server: plain dumps by their trailer (of `pg_dump` or of
/// `pg_dumpall`), custom archives by reading them through `pg_restore`.
pub fn file_completeness(kind: &str, tools: Option<&PgTools>) -> Option<Completeness> {
    match kind {
        "sql" => Some(Completeness::Trailer(&[DUMP_TRAILER, DUMPALL_TRAILER])),
        "dump" => {
            let mut command = match tools {
                Some(t) => t.command("pg_restore"),
                None => Command::new("pg_restore"),
            };
            command.arg("--file=/dev/null");
            Some(Completeness::Reader {
                tool: "pg_restore".into(),
                command: Box::new(command),
            })
        }
        _ => None,
    }
}

/// Connects to the maintenance database, waiting for the server like a backup does.
pub async fn maintenance_client(cfg: &Config) -> Result<Client> {
    wait_for_server(cfg, "postgres").await
}

async fn connect_once(
    cfg: &Config,
    database: &str,
) -> std::result::Result<Client, tokio_postgres::Error> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(database)
        .application_name("db-backup")
        .connect_timeout(Duration::from_secs(10));
    if let Some(password) = &cfg.password {
        pg.password(password.expose());
    }
    let (client, connection) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// Connects, retrying while the server is not up yet, until `DB_WAIT_TIMEOUT` runs out.
async fn wait_for_server(cfg: &Config, database: &str) -> Result<Client> {
    let deadline = Instant::now() + cfg.wait_timeout;
    let mut delay = Duration::from_millis(250);
    let mut announced = false;
    loop {
        match connect_once(cfg, database).await {
            Ok(client) => return Ok(client),
            Err(e) if is_transient(&e) && Instant::now() + delay < deadline => {
                if !announced {
                    tracing::info!(
                        server = %server_label(cfg),
                        wait_seconds = cfg.wait_timeout.as_secs(),
                        "PostgreSQL is not reachable yet; waiting for it to start"
                    );
                    announced = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(server_error(cfg, database, &e)),
        }
    }
}

fn is_transient(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        Some(code) => {
            *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::TOO_MANY_CONNECTIONS
        }
        None => true,
    }
}

fn server_label(cfg: &Config) -> String {
    format!("PostgreSQL at {}:{}", cfg.host, cfg.port)
}

/// A server error turned into a message that says what to check.
pub fn server_error(cfg: &Config, database: &str, e: &tokio_postgres::Error) -> Error {
    let server = server_label(cfg);
    let message = match e.as_db_error() {
        Some(db)
            if *db.code() == SqlState::INVALID_PASSWORD
                || *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            format!(
                "authentication failed for user {}: {}; check DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)",
                cfg.user,
                db.message()
            )
        }
        Some(db) if *db.code() == SqlState::INVALID_CATALOG_NAME => {
            format!(
                "database {database} does not exist: {}; check DB_NAME",
                db.message()
            )
        }
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let detail = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string());
            format!(
                "cannot connect: {detail}; check that the server is running and DB_HOST/DB_PORT point at it"
            )
        }
    };
    Error::Server { server, message }
}

/// A `PGPASSFILE` that holds only the password, readable only by this user, removed when dropped.
fn write_passfile(password: &str) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("db-backup-pgpass-")
        .tempfile()
        .map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
    writeln!(file, "*:*:*:*:{escaped}")
        .and_then(|_| file.flush())
        .map_err(|e| Error::io(file.path(), e))?;
    Ok(file)
}

/// A database name as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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
    fn identifiers_and_conninfo_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(conninfo_dbname("it's"), "dbname='it\\'s'");
    }
}
