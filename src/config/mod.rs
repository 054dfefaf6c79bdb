//! Configuration: the environment turned into a validated [`Config`], in two steps (raw strings, then checked
//! values). Nothing here touches the network or the databases (but the probe that `from_env` runs when nothing
//! names the engine, see `probe`); only `_FILE` secrets are read, through a callback.

mod connection;
mod destinations;
mod encryption;
mod engine_settings;
mod logging;
mod naming;
mod pg_args;
mod pipeline;
pub mod probe;
mod raw;
mod s3;
mod service;
mod tls;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ConfigError;
use crate::pipeline::{Compression, Encryption, Keys};
use crate::retention::Policy;

pub use connection::Connection;
pub use destinations::Destinations;
pub use logging::LogFormat;
pub use naming::Naming;
pub use pipeline::Pipeline;
pub use raw::KNOWN;
pub use s3::S3Settings;
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

/// Which database engine to back up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Postgres,
    Mysql,
    Redis,
    Sqlite,
    /// Any shell command that writes a dump to stdout (`BACKUP_CMD`) and one that reads it (`RESTORE_CMD`).
    Command,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Mysql => "mysql",
            EngineKind::Redis => "redis",
            EngineKind::Sqlite => "sqlite",
            EngineKind::Command => "command",
        }
    }

    /// The engine's standard port (0 for engines without a server).
    pub fn default_port(self) -> u16 {
        match self {
            EngineKind::Postgres => 5432,
            EngineKind::Mysql => 3306,
            EngineKind::Redis => 6379,
            EngineKind::Sqlite | EngineKind::Command => 0,
        }
    }

    /// The user when none is configured (empty: none, as for Redis without ACLs).
    pub fn default_user(self) -> &'static str {
        match self {
            EngineKind::Postgres => "postgres",
            EngineKind::Mysql => "root",
            EngineKind::Redis | EngineKind::Sqlite | EngineKind::Command => "",
        }
    }

    /// Whether `DB_NAME` names databases on the server for this engine.
    pub fn has_databases(self) -> bool {
        matches!(self, EngineKind::Postgres | EngineKind::Mysql)
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

/// The output format of `pg_dump`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgFormat {
    Plain,
    Custom,
}

impl PgFormat {
    /// The file name extension of a dump in this format.
    pub fn kind(self) -> &'static str {
        match self {
            PgFormat::Plain => "sql",
            PgFormat::Custom => "dump",
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub engine: EngineKind,
    /// Why this engine was chosen, for the log.
    pub engine_reason: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub databases: Databases,
    /// The series base name used in file names (`DB_CONTAINER`).
    pub container: String,
    pub backup_dir: PathBuf,
    pub retention: Policy,
    pub prefix: String,
    pub compression: Compression,
    pub compression_level: i32,
    pub pg_dump_args: Vec<String>,
    /// Extra `pg_dumpall --globals-only` options (`PG_DUMPALL_ARGS`), e.g. `--no-role-passwords`.
    pub pg_dumpall_args: Vec<String>,
    pub pg_format: PgFormat,
    pub pg_bin_dir: Option<PathBuf>,
    pub mysqldump_args: Vec<String>,
    /// A directory holding `mariadb-dump`/`mysqldump` and `mariadb`/`mysql`, instead of searching `PATH`.
    pub mysql_bin_dir: Option<PathBuf>,
    /// The SQLite database file (`DB_PATH`).
    pub db_path: Option<PathBuf>,
    /// The command engine's dump command (`BACKUP_CMD`), run with `sh -c`.
    pub backup_cmd: Option<String>,
    /// The command engine's restore command (`RESTORE_CMD`), fed the dump on stdin.
    pub restore_cmd: Option<String>,
    /// The file name extension of the command engine's dumps (`BACKUP_NAME`).
    pub backup_kind: String,
    /// The Unix user the command engine's commands run as (`BACKUP_USER`).
    pub backup_user: Option<String>,
    pub wait_timeout: Duration,
    /// TLS for the network engines (`DB_SSLMODE` and the certificate files).
    pub tls: TlsSettings,
    pub tz: chrono_tz::Tz,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The settings of `backup-service` (schedule, retries, stopping, metrics, notifications).
    pub service: ServiceSettings,
    /// How new backups are encrypted (`None`: not encrypted).
    pub encryption: Option<Encryption>,
    /// What decrypts encrypted backups for `restore` and `verify`.
    pub keys: Keys,
    /// The local directory (unless `BACKUP_LOCAL=false`) and the S3 destinations.
    pub destinations: Destinations,
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
        let (kind, reason) = probe::decide(&host, &probe::probe_all(&host))?;
        vars.retain(|(k, _)| k != "DB_TYPE");
        vars.push(("DB_TYPE".to_string(), kind.name().to_string()));
        let mut cfg = Config::from_vars(&vars, &read_file)?;
        cfg.engine_reason = reason;
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
        let results = probe::probe_all(host);
        if results.iter().any(|r| r.2 == probe::Answer::Speaks) {
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
        for kind in probe::PROBED {
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
        match self.databases {
            Databases::One(_) | Databases::Server => self.container.clone(),
            _ => format!(
                "{}-{}",
                self.container,
                crate::naming::sanitize_series(database)
            ),
        }
    }

    /// The series of the server-wide globals (roles, tablespaces) when every database is backed up.
    pub fn globals_series(&self) -> String {
        format!("{}-globals", self.container)
    }

    /// A printable description of the effective configuration, secrets redacted.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let databases = match &self.databases {
            Databases::One(name) => name.clone(),
            Databases::List(names) => names.join(","),
            Databases::All => "all".to_string(),
            Databases::Server => "(whole server)".to_string(),
        };
        vec![
            (
                "DB_TYPE",
                format!("{} ({})", self.engine.name(), self.engine_reason),
            ),
            ("DB_HOST", self.host.clone()),
            ("DB_PORT", self.port.to_string()),
            ("DB_USER", self.user.clone()),
            (
                "DB_PASSWORD",
                if self.password.is_some() {
                    "[redacted]"
                } else {
                    "(none)"
                }
                .to_string(),
            ),
            ("DB_NAME", databases),
            ("DB_CONTAINER", self.container.clone()),
            ("BACKUP_DIR", self.backup_dir.display().to_string()),
            (
                "BACKUP_RETENTION_DAYS",
                self.retention.max_age_days.to_string(),
            ),
            ("DB_BACKUP_MAX_N", self.retention.max_count.to_string()),
            ("DB_BACKUP_PREFIX", self.prefix.clone()),
            ("BACKUP_COMPRESSION", self.compression.to_string()),
            (
                "BACKUP_COMPRESSION_LEVEL",
                self.compression_level.to_string(),
            ),
            (
                "PG_DUMP_FORMAT",
                format!("{:?}", self.pg_format).to_lowercase(),
            ),
            ("PG_DUMP_ARGS", self.pg_dump_args.join(" ")),
            ("PG_DUMPALL_ARGS", self.pg_dumpall_args.join(" ")),
            (
                "PG_BIN_DIR",
                self.pg_bin_dir
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "(search /usr/lib/postgresql/*/bin, then PATH)".into()),
            ),
            ("MYSQLDUMP_ARGS", self.mysqldump_args.join(" ")),
            (
                "MYSQL_BIN_DIR",
                self.mysql_bin_dir
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "(search PATH)".into()),
            ),
            (
                "DB_PATH",
                self.db_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("BACKUP_CMD", self.backup_cmd.clone().unwrap_or_default()),
            ("RESTORE_CMD", self.restore_cmd.clone().unwrap_or_default()),
            ("BACKUP_NAME", self.backup_kind.clone()),
            ("BACKUP_USER", self.backup_user.clone().unwrap_or_default()),
            ("DB_WAIT_TIMEOUT", self.wait_timeout.as_secs().to_string()),
        ]
        .into_iter()
        .chain(self.tls.describe())
        .chain([
            ("TZ", self.tz.name().to_string()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            ("LOG_LEVEL", self.log_level.clone()),
        ])
        .chain(self.service.describe(self.tz))
        .chain(encryption::describe(self.encryption.as_ref(), &self.keys))
        .chain(destinations::describe_copies(&self.destinations))
        .collect()
    }
}

/// Validates each part in turn: the connection (and with it the engine), the naming, the engine's settings,
/// the destinations, the pipeline, the logs and the service.
fn validate(raw: raw::Raw) -> Result<Config, ConfigError> {
    let conn = connection::validate(&raw)?;
    let naming = naming::validate(&raw, conn.kind)?;
    let engine = engine_settings::validate(&raw, conn.kind)?;
    let destinations = destinations::validate(&raw)?;
    let pipeline = pipeline::validate(&raw)?;
    let log = logging::validate(&raw)?;
    let service = service::validate(&raw)?;
    Ok(Config {
        engine: conn.kind,
        engine_reason: conn.reason,
        host: conn.host,
        port: conn.port,
        user: conn.user,
        password: conn.password,
        databases: naming.databases,
        container: naming.container,
        backup_dir: destinations.backup_dir.clone(),
        retention: destinations.retention,
        prefix: naming.prefix,
        compression: pipeline.compression,
        compression_level: pipeline.compression_level,
        pg_dump_args: engine.pg_dump_args,
        pg_dumpall_args: engine.pg_dumpall_args,
        pg_format: engine.pg_format,
        pg_bin_dir: engine.pg_bin_dir,
        mysqldump_args: engine.mysqldump_args,
        mysql_bin_dir: engine.mysql_bin_dir,
        db_path: engine.db_path,
        backup_cmd: engine.backup_cmd,
        restore_cmd: engine.restore_cmd,
        backup_kind: engine.backup_kind,
        backup_user: engine.backup_user,
        wait_timeout: conn.wait_timeout,
        tls: conn.tls,
        tz: naming.tz,
        log_format: log.format,
        log_level: log.level,
        service,
        encryption: pipeline.encryption,
        keys: pipeline.keys,
        destinations,
    })
}

/// The process environment as UTF-8 pairs (others are left out).
fn env_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests;
