//! Database engines: how to reach the server, dump a database, tell a complete dump and restore one. Each
//! engine is a folder here behind the [`Engine`] trait, with its [`Facts`] (what is known without a server)
//! in its `facts.rs` and its own settings in its `settings.rs`; the engines are registered in one list below
//! (`engines!`), and the jobs, the configuration and the service ask the registry instead of naming an engine.
//!
//! Adding an engine touches a new folder `src/engine/<name>/` and one line in `engines!` below, no other code:
//! - `mod.rs`: the [`Engine`] implementation, declaring `pub mod facts;` and `pub mod settings;`;
//! - `facts.rs`: a `pub const FACTS: Facts` (names, port, probe, kinds, `connect`...; its `needs`, a variable it
//!   cannot run without, also chooses it when set and `DB_TYPE` is not);
//! - `settings.rs`: its settings type as `pub type Settings`, `pub const VARIABLES` (the variables it reads;
//!   those named `DB_*` or `BACKUP_*` are thereby known to the check of unknown names), `pub fn
//!   validate(&Env, chosen: bool) -> Result<Settings, ConfigError>` (which reads its variables from the
//!   environment with [`Env::read`] into a struct of its own, and checks them even when another engine is
//!   chosen, so that a bad value never waits for a change of engine to surface) and `pub fn
//!   describe(&Settings)` (the lines `config` prints).
//!
//! The registration line makes the [`EngineKind`] variant, the [`EngineSettings`] variant holding the
//! engine's settings, and their dispatch; the engine reaches its settings through `Config::for_engine` in its
//! facts. Its variables and their defaults go into README's settings tables.
//!
//! Engines are driven from a blocking thread (the byte path is synchronous); those whose client library is
//! async use the runtime's handle to wait for it.

mod completeness;
pub mod connect;
pub mod facts;
pub mod probe;
pub mod tls;
mod wait;

pub use completeness::{Checker, Completeness, StreamCheck, TAIL_BYTES, check_trailer};
pub use facts::Facts;
pub use wait::ServerWait;

use std::io::Read;
use std::process::{ChildStdout, Command};

use crate::cancel::Cancel;
use crate::config::{Config, Env};
use crate::error::{ConfigError, Result};
use crate::process::Tool;

/// Declares the engines: each line `Variant => module` adds the module `src/engine/<module>/`, the
/// [`EngineKind`] variant, its place in the registry (the module's `facts::FACTS`) and the [`EngineSettings`]
/// variant of its `settings::Settings`, validated by its `settings::validate`. The order is the order of
/// detection and of listings.
macro_rules! engines {
    ($($(#[$doc:meta])* $variant:ident => $module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Which database engine to back up.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum EngineKind {
            $($(#[$doc])* $variant),*
        }

        impl EngineKind {
            /// Every engine, in the order of registration.
            pub const ALL: &'static [EngineKind] = &[$(EngineKind::$variant),*];

            /// What is known about this engine without reaching a server.
            pub fn facts(self) -> &'static Facts {
                match self {
                    $(EngineKind::$variant => &$module::facts::FACTS),*
                }
            }
        }

        /// The settings of the chosen engine: its own, from its `settings.rs`.
        #[derive(Debug, Clone)]
        pub enum EngineSettings {
            $($variant($module::settings::Settings)),*
        }

        impl EngineSettings {
            pub fn kind(&self) -> EngineKind {
                match self {
                    $(EngineSettings::$variant(_) => EngineKind::$variant),*
                }
            }

            /// The lines `config` prints: the chosen engine's settings.
            pub fn describe(&self) -> Vec<(&'static str, String)> {
                match self {
                    $(EngineSettings::$variant(s) => $module::settings::describe(s)),*
                }
            }

            /// Validates every engine's settings, the chosen one's first, and keeps those of `kind`.
            pub fn validate(env: &Env, kind: EngineKind) -> std::result::Result<EngineSettings, ConfigError> {
                let chosen = match kind {
                    $(EngineKind::$variant => EngineSettings::$variant($module::settings::validate(env, true)?)),*
                };
                $(if kind != EngineKind::$variant {
                    $module::settings::validate(env, false)?;
                })*
                Ok(chosen)
            }
        }

        /// The variables the engines read themselves, in the order of registration.
        pub fn variables() -> impl Iterator<Item = &'static str> {
            [$($module::settings::VARIABLES),*].into_iter().flatten().copied()
        }
    };
}

engines! {
    Postgres => postgres,
    Mysql => mysql,
    Redis => redis,
    Sqlite => sqlite,
    /// Any shell command that writes a dump to stdout (`BACKUP_CMD`) and one that reads it (`RESTORE_CMD`).
    Command => command,
}

impl EngineKind {
    /// The name `DB_TYPE` gives the engine.
    pub fn name(self) -> &'static str {
        self.facts().name
    }

    /// The engine's standard port (0 for engines without a server).
    pub fn default_port(self) -> u16 {
        self.facts().default_port
    }

    /// The user when none is configured (empty: none, as for Redis without ACLs).
    pub fn default_user(self) -> &'static str {
        self.facts().default_user
    }

    /// Whether `DB_NAME` names databases on the server for this engine.
    pub fn has_databases(self) -> bool {
        self.facts().has_databases
    }
}

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
            None => "server globals".to_string(),
        }
    }
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
            .ok_or_else(|| crate::error::Error::no_pipe(name, "output"))?;
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

/// What is known of the stored backup a restore reads, beside its stream (see [`Engine::restore_from`]).
#[derive(Debug, Clone, Copy)]
pub struct RestoreSource<'a> {
    /// The stored file's size: the plain stream's own when it is neither compressed nor encrypted, less
    /// otherwise.
    pub stored_size: u64,
    /// The stored file when it is the plain stream itself (neither compressed nor encrypted) and local, for a
    /// tool that reads a file rather than a pipe.
    pub plain_file: Option<&'a std::path::Path>,
}

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

    /// For a restore drill: the rows of every table in `database`, by the name the engine's dump gives it.
    fn drill_rows(&self, database: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        Err(crate::error::Error::Other(format!(
            "the {} engine cannot count the rows of {database}",
            self.name()
        )))
    }

    /// What tells this server from any other whatever address reaches it (Redis's `run_id`), when the engine
    /// knows.
    fn server_id(&self) -> Option<String> {
        None
    }

    /// For a restore drill: the name of every database on the server (templates left out), to find the
    /// scratch databases a killed drill left.
    fn database_names(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// For a restore drill: the rows per table a backup of `kind` holds, read from the stream itself, when
    /// the backup kept no row counts of its own (a PostgreSQL custom-format archive); `None` when the engine
    /// cannot read them.
    fn archive_rows(
        &self,
        _kind: &str,
        _open: Opener,
    ) -> Result<Option<std::collections::BTreeMap<String, u64>>> {
        Ok(None)
    }

    /// For a restore drill: drops the scratch database `database`.
    fn drop_database(&self, database: &str) -> Result<()> {
        Err(crate::error::Error::Other(format!(
            "the {} engine cannot drop {database}",
            self.name()
        )))
    }

    /// [`Engine::restore`], told what is known of the stored file (for an engine that may need a copy of
    /// the plain stream on disk, or can read the file itself).
    fn restore_from(
        &self,
        database: Option<&str>,
        kind: &str,
        open: Opener,
        _source: RestoreSource,
    ) -> Result<()> {
        self.restore(database, kind, open)
    }

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
    (cfg.conn.kind.facts().connect)(cfg, database, cancel)
}

/// The engine settings that only the machine can check: `PG_BIN_DIR` or `MYSQL_BIN_DIR` naming no directory,
/// a `BACKUP_USER` that does not exist or cannot be switched to, TLS files that cannot be read. Each is a bad
/// setting (exit status 2), told before a lock is taken or a server contacted.
pub fn check_settings(cfg: &Config) -> Result<()> {
    (cfg.conn.kind.facts().check_settings)(cfg)
}

/// For an engine's [`Facts::check_settings`]: `dir` (from the variable `var`) must be a directory of client
/// tools when set.
pub fn check_bin_dir(var: &str, dir: Option<&std::path::Path>) -> Result<()> {
    match dir {
        Some(dir) if !dir.is_dir() => Err(ConfigError::new(
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
    (cfg.conn.kind.facts().kinds)(cfg)
}

/// How to check a stored backup of `kind` without a server, or `None` when the engine does not know the kind.
pub fn file_completeness(cfg: &Config, kind: &str) -> Option<Completeness> {
    (cfg.conn.kind.facts().file_completeness)(cfg, kind)
}
