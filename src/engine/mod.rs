//! Database engines: how to reach the server, dump a database, tell a complete dump and restore one. Each
//! engine is a folder or file here behind the [`Engine`] trait; the jobs never name an engine.
//!
//! Engines are driven from a blocking thread (the byte path is synchronous); those whose client library is
//! async use the runtime's handle to wait for it.

pub mod command;
pub mod connect;
pub mod mysql;
pub mod postgres;
pub mod redis;
pub mod sqlite;
pub mod tls;
mod wait;

pub use wait::ServerWait;

use std::io::Read;
use std::process::{ChildStdout, Command};

use crate::cancel::Cancel;
use crate::config::{Config, EngineKind, EngineSettings};
use crate::error::{ConfigError, Result};
use crate::process::Tool;

/// One thing to dump: a database (or the server's globals) and the series its backups belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpTarget {
    /// The database name, or `None` for server-wide data (PostgreSQL globals, a whole Redis server).
    pub database: Option<String>,
    pub series: String,
    /// The file name extension: `sql`, `dump`, ...
    pub kind: String,
}

impl DumpTarget {
    /// How the target is named in logs and errors.
    pub fn label(&self) -> String {
        match &self.database {
            Some(db) => format!("database {db}"),
            None if self.kind == "rdb" => "the Redis server".to_string(),
            None => "server globals".to_string(),
        }
    }
}

/// How to tell that a dump stream is complete.
#[derive(Debug)]
pub enum Completeness {
    /// The stream, trimmed of trailing whitespace, ends with one of these lines.
    Trailer(&'static [&'static str]),
    /// The stream is fed to this command's stdin, which must accept it and exit 0.
    Reader { tool: String, command: Box<Command> },
    /// The engine checks the stream itself (a header, a length, a checksum).
    Custom(Box<dyn StreamCheck>),
    /// Nothing in the stream tells: the producer's exit status (and a non-empty stream) is the whole check,
    /// as for the command engine.
    ExitStatus,
}

/// A completeness check an engine runs over the plain stream: it sees every chunk, then gives a verdict.
pub trait StreamCheck: Send + std::fmt::Debug {
    fn feed(&mut self, chunk: &[u8]);
    /// `Err` says what is wrong, for the message.
    fn finish(self: Box<Self>) -> std::result::Result<(), String>;
}

/// A dump in progress: its bytes through `Read`, then a verdict on the producer.
pub trait Dump: Read + Send {
    /// After the stream ended: fails unless the producer finished cleanly.
    fn finish(self: Box<Self>) -> Result<()>;
    /// After a failure or cancellation: stops the producer; returns what it said, for the error.
    fn abort(self: Box<Self>) -> String;
}

/// A dump produced on a child process's stdout.
pub struct ToolDump {
    tool: Tool,
    stdout: ChildStdout,
}

impl ToolDump {
    /// Starts `command` as the dump tool `name`, killed by `cancel` on a stop.
    pub fn start(name: &str, command: Command, cancel: &Cancel) -> Result<ToolDump> {
        let mut tool = Tool::spawn(
            name,
            command,
            std::process::Stdio::null(),
            std::process::Stdio::piped(),
            cancel,
        )?;
        let stdout = tool
            .take_stdout()
            .ok_or_else(|| crate::error::Error::Other(format!("{name} has no output pipe")))?;
        Ok(ToolDump { tool, stdout })
    }
}

impl Read for ToolDump {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Dump for ToolDump {
    fn finish(self: Box<Self>) -> Result<()> {
        let ToolDump { tool, stdout } = *self;
        drop(stdout);
        tool.wait().map(|_| ())
    }

    fn abort(self: Box<Self>) -> String {
        self.tool.kill()
    }
}

/// Opens a fresh decompressed stream of the backup being restored (an engine may read it more than once).
pub type Opener<'a> = &'a (dyn Fn() -> Result<Box<dyn Read + Send>> + Sync);

/// A reachable server of one engine, with what it needs to dump and restore.
pub trait Engine: Send + Sync {
    fn name(&self) -> &'static str;

    /// What to dump now, in order.
    fn targets(&self) -> Result<Vec<DumpTarget>>;

    /// Starts dumping one target.
    fn dump(&self, target: &DumpTarget) -> Result<Box<dyn Dump>>;

    /// How to tell that a target's dump is complete.
    fn completeness(&self, target: &DumpTarget) -> Completeness;

    /// How logs and errors name `target` ("database app", "the Redis server", ...).
    fn target_label(&self, target: &DumpTarget) -> String {
        target.label()
    }

    /// Makes `database` ready to receive a restore (created when missing; refused when it holds data).
    /// Returns a note for the log, such as "created".
    fn prepare_restore(&self, database: &str) -> Result<String>;

    /// Restores a backup of `kind` into `database` (`None`: server-wide data). Nothing may be committed
    /// unless the whole stream arrived and was complete.
    fn restore(&self, database: Option<&str>, kind: &str, open: Opener) -> Result<()>;

    /// Called once before a restore writes anything: remembers what the server holds, so that
    /// [`Engine::undo_restore`] can tell what the restore created.
    fn begin_restore(&self) -> Result<()> {
        Ok(())
    }

    /// After a failed restore: removes what it created; says what was done, for the error message.
    fn undo_restore(&self) -> Option<String> {
        None
    }
}

/// Reaches the configured server (waiting up to `DB_WAIT_TIMEOUT`) and returns its engine. `database` is the
/// database to connect to first; `None` means the one the configuration implies. `cancel` stops the engine's
/// waits, streams and tools.
pub fn connect(cfg: &Config, database: Option<&str>, cancel: &Cancel) -> Result<Box<dyn Engine>> {
    check_settings(cfg)?;
    // Each engine is given its part: the connection, the naming and its own settings.
    Ok(match &cfg.engine {
        EngineSettings::Postgres(pg) => Box::new(postgres::Postgres::connect(
            &cfg.for_engine(pg.clone()),
            database,
            cancel,
        )?),
        EngineSettings::Mysql(my) => Box::new(mysql::Mysql::connect(
            &cfg.for_engine(my.clone()),
            database,
            cancel,
        )?),
        EngineSettings::Redis => Box::new(redis::Redis::connect(&cfg.for_engine(()), cancel)?),
        EngineSettings::Sqlite(s) => {
            Box::new(sqlite::Sqlite::connect(&cfg.for_engine(s.clone()), cancel)?)
        }
        EngineSettings::Command(c) => Box::new(command::CommandEngine::connect(
            &cfg.for_engine(c.clone()),
            cancel,
        )?),
    })
}

/// The engine settings that only the machine can check: `PG_BIN_DIR` or `MYSQL_BIN_DIR` naming no directory,
/// a `BACKUP_USER` that does not exist or cannot be switched to. Each is a bad setting (exit status 2), told
/// before a lock is taken or a server contacted.
pub fn check_settings(cfg: &Config) -> Result<()> {
    if let EngineSettings::Command(c) = &cfg.engine {
        command::run_as(&cfg.for_engine(c.clone()))?;
    }
    if matches!(
        cfg.conn.kind,
        EngineKind::Postgres | EngineKind::Mysql | EngineKind::Redis
    ) {
        tls::check_files(&cfg.conn.tls)?;
    }
    let set = match &cfg.engine {
        EngineSettings::Postgres(pg) => pg.bin_dir.as_deref().map(|d| ("PG_BIN_DIR", d)),
        EngineSettings::Mysql(my) => my.bin_dir.as_deref().map(|d| ("MYSQL_BIN_DIR", d)),
        _ => None,
    };
    match set {
        Some((var, dir)) if !dir.is_dir() => Err(ConfigError::new(
            var,
            format!(
                "{} is not a directory; give the directory that holds the client tools, or unset {var} to \
                 search for them",
                dir.display()
            ),
        )
        .into()),
        _ => Ok(()),
    }
}

/// The file kinds (extensions) the configured engine writes and restores.
pub fn kinds(cfg: &Config) -> Vec<&str> {
    match &cfg.engine {
        EngineSettings::Postgres(_) => postgres::KINDS.to_vec(),
        EngineSettings::Mysql(_) => mysql::KINDS.to_vec(),
        EngineSettings::Redis => redis::KINDS.to_vec(),
        EngineSettings::Sqlite(_) => sqlite::KINDS.to_vec(),
        // The command engine's kind is whatever BACKUP_NAME says.
        EngineSettings::Command(c) => vec![c.kind.as_str()],
    }
}

/// How to check a stored backup of `kind` without a server, or `None` when the engine does not know the kind.
pub fn file_completeness(cfg: &Config, kind: &str) -> Option<Completeness> {
    match &cfg.engine {
        EngineSettings::Postgres(pg) => {
            postgres::file_completeness(&cfg.for_engine(pg.clone()), kind)
        }
        EngineSettings::Mysql(_) => mysql::file_completeness(kind),
        EngineSettings::Redis => redis::file_completeness(kind),
        EngineSettings::Sqlite(_) => sqlite::file_completeness(kind),
        EngineSettings::Command(c) => command::file_completeness(&cfg.for_engine(c.clone()), kind),
    }
}

/// Checks that a stream whose last bytes are `tail` closes with one of the lines in `expected`. Comment
/// framing (`--`), blank lines and the `\unrestrict <key>` line that PostgreSQL 13.22/14.19/15.14/16.10/17.6
/// and later write after the trailer may follow it.
pub fn check_trailer(expected: &[&str], tail: &[u8]) -> std::result::Result<(), String> {
    let text = String::from_utf8_lossy(tail);
    let last = text
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !(l.is_empty() || *l == "--" || l.starts_with("\\unrestrict ")))
        .unwrap_or("");
    if expected.iter().any(|e| last.starts_with(e)) {
        return Ok(());
    }
    let expected = expected.join("\" or \"");
    let shown: String = last.chars().take(80).collect();
    Err(format!(
        "it does not end with \"{expected}\" (the last line is {shown:?}); the dump tool stopped early"
    ))
}

/// How many bytes at the end of a stream are kept for the trailer check.
pub const TAIL_BYTES: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_with_and_without_unrestrict() {
        let t = &["-- PostgreSQL database dump complete"];
        assert!(check_trailer(t, b"x\n--\n-- PostgreSQL database dump complete\n--\n\n").is_ok());
        assert!(check_trailer(t, b"x\n-- PostgreSQL database dump complete\n\n").is_ok());
        assert!(
            check_trailer(
                t,
                b"-- PostgreSQL database dump complete\n\n\\unrestrict abc\n\n"
            )
            .is_ok()
        );
        assert!(check_trailer(t, b"COPY t FROM stdin;\n1\n").is_err());
        assert!(check_trailer(t, b"\\unrestrict abc\n").is_err());
    }

    #[test]
    fn a_trailer_may_carry_a_date() {
        let t = &["-- Dump completed"];
        assert!(
            check_trailer(
                t,
                b"UNLOCK TABLES;\n-- Dump completed on 2025-01-02  3:04:05\n"
            )
            .is_ok()
        );
        assert!(check_trailer(t, b"INSERT INTO t VALUES (1);\n").is_err());
    }
}
