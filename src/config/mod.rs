//! Configuration: the environment turned into a validated [`Config`], in two steps (raw strings, then checked
//! values). Nothing here touches the network or the databases (but the engines' detection probe that `from_env`
//! runs when nothing names the engine, see `probe`); only `_FILE` secrets are read, through a callback. What is
//! known about each engine (names, default port and user) is the engine registry's (`engine::facts`).

mod aliases;
mod connection;
mod destinations;
mod drill;
mod encryption;
pub mod exclude;
mod hooks;
mod logging;
mod memory;
mod naming;
mod pipeline;
pub mod probe;
mod raw;
pub mod rclone;
mod retention;
mod s3;
mod service;
mod tls;
pub mod values;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::engine::{facts, probe as engine_probe};
use crate::error::ConfigError;

pub use crate::engine::{EngineKind, EngineSettings};
pub use connection::Connection;
pub use destinations::Destinations;
pub use drill::DrillSettings;
pub use hooks::Hooks;
pub use logging::{LogFormat, Logging};
pub use naming::Naming;
pub use pipeline::Pipeline;
pub use raw::{Env, KNOWN};
pub use rclone::RcloneSettings;
pub use s3::{S3Settings, Source};
pub use service::{NotifyOn, ServiceSettings, redact_url};
pub use tls::{SslMode, TlsSettings, Verify};

/// A secret value: printed as `[redacted]` by `Debug` and `Display`, so that it cannot leak into a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Which databases to back up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Databases {
    /// One database: its series is the container name.
    One(String),
    /// Several named databases: each gets the series `<container>-<database>`.
    List(Vec<String>),
    /// Every database on the server, each in its own series, plus the server's globals.
    All,
    /// The engine's whole unit (a Redis server, a SQLite file, a command's output): one series.
    Server,
}

/// The validated configuration, in parts. Each consumer is given only the parts it needs: an engine gets an
/// [`EngineConfig`] (the connection, its own settings, the naming), never the keys of the pipeline, the
/// destinations or the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which engine, the server, the login, TLS.
    pub conn: Connection,
    /// The chosen engine's own settings.
    pub engine: EngineSettings,
    /// Which databases, and how their series and files are named.
    pub naming: Naming,
    /// Compression and encryption.
    pub pipeline: Pipeline,
    /// `BACKUP_DIR`, retention, the local copy and the S3 destinations.
    pub destinations: Destinations,
    /// The settings of `backup-service` (schedule, retries, stopping, metrics, notifications).
    pub service: ServiceSettings,
    pub log: Logging,
    /// The commands run before and after a backup or a restore, and their timeout.
    pub hooks: Hooks,
    /// `BACKUP_MEMORY_LIMIT` and `BACKUP_THREADS`, as the pipeline shares them out.
    pub budget: crate::pipeline::Budget,
    /// Restore drills: `BACKUP_TEST_RESTORE` and the scratch target (`TEST_RESTORE_*`).
    pub drill: DrillSettings,
}

/// What an engine is given: how to reach the server, its own settings `S`, which databases and how their
/// series are named, and the directory for its temporary files. No key of the pipeline, the destinations or
/// the service is reachable from it.
#[derive(Debug, Clone)]
pub struct EngineConfig<S> {
    pub conn: Connection,
    pub naming: Naming,
    /// `BACKUP_DIR`, where an engine may keep a temporary copy (SQLite's snapshot).
    pub backup_dir: PathBuf,
    pub settings: S,
}

impl Config {
    /// Reads the configuration from the process environment. When nothing there says which engine to use
    /// (no `DB_TYPE`, `DB_PORT`, `DB_PATH` or `BACKUP_CMD`), the server at `DB_HOST` is probed on each engine's
    /// standard port: the one engine that answers is used, and none or several is an error.
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut vars = env_vars();
        let read_file = |p: &Path| std::fs::read_to_string(p);
        if !probe::needed(&vars) {
            return Config::from_vars(&vars, &read_file);
        }
        // Unknown names and unreadable secrets are reported before any waiting on the network.
        raw::read(&vars, &read_file)?;
        let host = probe::host(&vars);
        let (kind, reason) = probe::decide(&host, &engine_probe::probe_all(&host))?;
        vars.retain(|(k, _)| k != "DB_TYPE");
        vars.push(("DB_TYPE".to_string(), kind.name().to_string()));
        let mut cfg = Config::from_vars(&vars, &read_file)?;
        cfg.conn.reason = reason;
        Ok(cfg)
    }

    /// When nothing names the engine (see [`Config::from_env`]): the host the probe asks, once the checks that
    /// need no server have passed (unknown names, unreadable secrets). `None` when the configuration names it.
    pub fn detection_pending() -> Result<Option<String>, ConfigError> {
        let vars = env_vars();
        if !probe::needed(&vars) {
            return Ok(None);
        }
        raw::read(&vars, &|p: &Path| std::fs::read_to_string(p))?;
        Ok(Some(probe::host(&vars)))
    }

    /// Probes `host` as [`Config::from_env`] does: `Ok` when some engine answers, else what each port said.
    pub fn probe_answers(host: &str) -> std::result::Result<(), String> {
        let results = engine_probe::probe_all(host);
        if results.iter().any(|r| r.2 == engine_probe::Answer::Speaks) {
            return Ok(());
        }
        Err(probe::decide(host, &results)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default())
    }

    /// The configuration without the network: when the engine is left to the probe, one configuration per
    /// engine the probe could find (they differ only in what the engine decides), for commands that must not
    /// wait for a server, such as `healthcheck`.
    pub fn without_probe() -> Result<Vec<Config>, ConfigError> {
        let vars = env_vars();
        let read_file = |p: &Path| std::fs::read_to_string(p);
        if !probe::needed(&vars) {
            return Ok(vec![Config::from_vars(&vars, &read_file)?]);
        }
        let mut configs = Vec::new();
        let mut first_error = None;
        for kind in facts::probed() {
            let mut vars = vars.clone();
            vars.push(("DB_TYPE".to_string(), kind.name().to_string()));
            match Config::from_vars(&vars, &read_file) {
                Ok(cfg) => configs.push(cfg),
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        match first_error {
            Some(e) if configs.is_empty() => Err(e),
            _ => Ok(configs),
        }
    }

    /// Builds the configuration from a list of variables; `read_file` reads `_FILE` secrets.
    pub fn from_vars(
        vars: &[(String, String)],
        read_file: &dyn Fn(&Path) -> std::io::Result<String>,
    ) -> Result<Config, ConfigError> {
        let raw = raw::read(vars, read_file)?;
        validate(raw)
    }

    /// The series name of a database's backups.
    pub fn series_for(&self, database: &str) -> String {
        self.naming.series_for(database)
    }

    /// The series of the server-wide globals (roles, tablespaces) when every database is backed up.
    pub fn globals_series(&self) -> String {
        self.naming.globals_series()
    }

    /// The part an engine is given, with its own `settings`.
    pub fn for_engine<S>(&self, settings: S) -> EngineConfig<S> {
        EngineConfig {
            conn: self.conn.clone(),
            naming: self.naming.clone(),
            backup_dir: self.destinations.backup_dir.clone(),
            settings,
        }
    }

    /// A printable description of the effective configuration, secrets redacted: every part's settings, and
    /// of the engine settings those of the chosen engine.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let (conn, naming, dest, pipeline) =
            (&self.conn, &self.naming, &self.destinations, &self.pipeline);
        let databases = match &naming.databases {
            Databases::One(name) => name.clone(),
            Databases::List(names) => names.join(","),
            Databases::All => "all".to_string(),
            Databases::Server => "(whole server)".to_string(),
        };
        let password = match conn.password {
            Some(_) => "[redacted]",
            None => "(none)",
        };
        vec![
            ("DB_TYPE", format!("{} ({})", conn.kind.name(), conn.reason)),
            ("DB_HOST", conn.host.clone()),
            ("DB_PORT", conn.port.to_string()),
            ("DB_USER", conn.user.clone()),
            ("DB_PASSWORD", password.to_string()),
            ("DB_NAME", databases),
            ("DB_EXCLUDE", naming.exclude.join(",")),
            ("DB_CONTAINER", naming.container.clone()),
            ("BACKUP_DIR", dest.backup_dir.display().to_string()),
            (
                "BACKUP_RETENTION_DAYS",
                dest.retention.max_age_days.to_string(),
            ),
            ("DB_BACKUP_MAX_N", dest.retention.max_count.to_string()),
            ("DB_BACKUP_PREFIX", naming.prefix.clone()),
            ("BACKUP_COMPRESSION", pipeline.compression.to_string()),
            (
                "BACKUP_COMPRESSION_LEVEL",
                pipeline.compression_level.to_string(),
            ),
        ]
        .into_iter()
        .chain(self.engine.describe())
        .chain([("DB_WAIT_TIMEOUT", conn.wait_timeout.as_secs().to_string())])
        .chain(conn.tls.describe())
        .chain([
            ("TZ", naming.tz.name().to_string()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log.format).to_lowercase(),
            ),
            ("LOG_LEVEL", self.log.level.clone()),
        ])
        .chain(retention::describe(&dest.retention))
        .chain(self.service.describe(naming.tz))
        .chain(encryption::describe(
            pipeline.encryption.as_ref(),
            &pipeline.keys,
        ))
        .chain(destinations::describe_copies(dest))
        .chain(hooks::describe(&self.hooks))
        .chain(self.drill.describe())
        .collect()
    }
}

/// Validates each part in turn: the connection (and with it the engine), the naming, the engine's settings,
/// the destinations, the pipeline, the logs and the service.
fn validate(raw: raw::Raw) -> Result<Config, ConfigError> {
    let conn = connection::validate(&raw)?;
    let naming = naming::validate(&raw, conn.kind)?;
    let engine = EngineSettings::validate(&raw.env, conn.kind)?;
    let destinations = destinations::validate(&raw)?;
    let pipeline = pipeline::validate(&raw)?;
    let log = logging::validate(&raw)?;
    let service = service::validate(&raw)?;
    let budget = memory::budget(
        raw.backup_memory_limit.as_deref(),
        raw.backup_threads.as_deref(),
        destinations.remotes.len(),
    )?;
    Ok(Config {
        conn,
        engine,
        naming,
        pipeline,
        destinations,
        service,
        log,
        hooks: hooks::validate(&raw.hooks, raw.backup_user.as_deref())?,
        budget,
        drill: drill::validate(&raw)?,
    })
}

/// The process environment as UTF-8 pairs (others are left out).
/// The aliases are read as ours here already, so that the engine probe sees them too (a conflict between them
/// is reported by the raw step).
fn env_vars() -> Vec<(String, String)> {
    let vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    aliases::apply(&vars).unwrap_or(vars)
}

#[cfg(test)]
mod tests;
