//! Configuration: the environment turned into a validated [`Config`], in two steps (raw strings, then checked
//! values). Nothing here touches the network or the databases (but the probe that `from_env` runs when nothing
//! names the engine, see `probe`); only `_FILE` secrets are read, through a callback.

mod encryption;
mod memory;
mod pg_args;
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
use crate::naming;
use crate::pipeline::{Compression, Encryption, Keys};
use crate::retention::Policy;

pub use raw::KNOWN;
pub use s3::{Destinations, S3Settings};
pub use service::{NotifyOn, ServiceSettings, redact_url};
pub use tls::{SslMode, TlsSettings, Verify};
use values::{number, one_of};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
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
    /// `BACKUP_MEMORY_LIMIT` and `BACKUP_THREADS`, as the pipeline shares them out.
    pub budget: crate::pipeline::Budget,
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
            _ => format!("{}-{}", self.container, naming::sanitize_series(database)),
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
        .chain(s3::describe(&self.destinations))
        .collect()
    }
}

fn validate(raw: raw::Raw) -> Result<Config, ConfigError> {
    let port_raw = raw.db_port.as_deref().or(raw.pgport.as_deref());
    let port_var = if raw.db_port.is_some() {
        "DB_PORT"
    } else {
        "PGPORT"
    };
    let port: Option<u16> = port_raw
        .map(|p| number::<u16>(port_var, p, "a port number from 1 to 65535"))
        .transpose()?;
    if port == Some(0) {
        return Err(ConfigError::new(
            port_var,
            "must be a port number from 1 to 65535",
        ));
    }
    let (engine, engine_reason) = engine(&raw, port)?;

    let host_set = raw.db_host.clone().or(raw.pghost.clone());
    let host = host_set.clone().unwrap_or_else(|| "localhost".to_string());
    let user = raw
        .db_user
        .clone()
        .or(raw.pguser.clone())
        .unwrap_or_else(|| engine.default_user().to_string());

    let databases = if engine.has_databases() {
        databases(raw.db_name.as_deref())?
    } else {
        Databases::Server
    };
    let db_path = raw.db_path.as_ref().map(PathBuf::from);
    if engine == EngineKind::Sqlite && db_path.is_none() {
        return Err(ConfigError::new(
            "DB_PATH",
            "is required for DB_TYPE=sqlite: the path of the SQLite database file",
        ));
    }
    if engine == EngineKind::Command && raw.backup_cmd.is_none() {
        return Err(ConfigError::new(
            "BACKUP_CMD",
            "is required for DB_TYPE=command: a shell command that writes the dump to stdout",
        ));
    }
    let backup_kind = raw
        .backup_name
        .clone()
        .unwrap_or_else(|| "dump".to_string());
    naming::check_kind(&backup_kind).map_err(|m| ConfigError::new("BACKUP_NAME", m))?;

    let container = match &raw.db_container {
        Some(c) => {
            naming::check_series(c).map_err(|m| ConfigError::new("DB_CONTAINER", m))?;
            c.clone()
        }
        None => naming::sanitize_series(host_set.as_deref().unwrap_or(engine.name())),
    };
    let prefix = raw.db_backup_prefix.clone().unwrap_or_default();
    naming::check_prefix(&prefix).map_err(|m| ConfigError::new("DB_BACKUP_PREFIX", m))?;

    let backup_dir = PathBuf::from(
        raw.backup_dir
            .clone()
            .or(raw.db_backup_dir.clone())
            .unwrap_or_else(|| "/backups".to_string()),
    );
    if !backup_dir.is_absolute() {
        let var = if raw.backup_dir.is_some() {
            "BACKUP_DIR"
        } else {
            "DB_BACKUP_DIR"
        };
        return Err(ConfigError::new(
            var,
            "must be an absolute path such as /backups",
        ));
    }

    let retention = Policy {
        max_age_days: raw
            .backup_retention_days
            .as_deref()
            .map(|v| {
                number(
                    "BACKUP_RETENTION_DAYS",
                    v,
                    "a whole number of days, 0 for no limit",
                )
            })
            .transpose()?
            .unwrap_or(7),
        max_count: raw
            .db_backup_max_n
            .as_deref()
            .map(|v| {
                number(
                    "DB_BACKUP_MAX_N",
                    v,
                    "a whole number of backups, 0 for no limit",
                )
            })
            .transpose()?
            .unwrap_or(10),
    };

    let compression = match raw.backup_compression.as_deref() {
        None => Compression::Gzip,
        Some(v) => one_of(
            "BACKUP_COMPRESSION",
            v,
            &[
                ("gzip", Compression::Gzip),
                ("gz", Compression::Gzip),
                ("zstd", Compression::Zstd),
                ("none", Compression::None),
            ],
        )?,
    };
    let compression_level = match raw.backup_compression_level.as_deref() {
        None => compression.default_level(),
        Some(v) => {
            let (lo, hi) = compression.level_range();
            let expected = format!("a whole number from {lo} to {hi} for {compression}");
            let level: i32 = number("BACKUP_COMPRESSION_LEVEL", v, &expected)?;
            if level < lo || level > hi {
                return Err(ConfigError::new(
                    "BACKUP_COMPRESSION_LEVEL",
                    format!("{level} is out of range: must be {expected}"),
                ));
            }
            level
        }
    };

    let pg_format = match raw.pg_dump_format.as_deref() {
        None => PgFormat::Plain,
        Some(v) => one_of(
            "PG_DUMP_FORMAT",
            v,
            &[("plain", PgFormat::Plain), ("custom", PgFormat::Custom)],
        )?,
    };
    let pg_dump_args = values::dump_args("PG_DUMP_ARGS", raw.pg_dump_args.as_deref())?;
    let pg_dumpall_args = values::dump_args("PG_DUMPALL_ARGS", raw.pg_dumpall_args.as_deref())?;
    let mysqldump_args = values::dump_args("MYSQLDUMP_ARGS", raw.mysqldump_args.as_deref())?;
    let pg_bin_dir = raw.pg_bin_dir.as_ref().map(PathBuf::from);
    let mysql_bin_dir = raw.mysql_bin_dir.as_ref().map(PathBuf::from);

    let wait_timeout = Duration::from_secs(
        raw.db_wait_timeout
            .as_deref()
            .map(|v| number::<u64>("DB_WAIT_TIMEOUT", v, "a whole number of seconds"))
            .transpose()?
            .unwrap_or(30),
    );

    let tz = match raw.tz.as_deref() {
        None => chrono_tz::UTC,
        Some(v) => v
            .trim_start_matches(':')
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                ConfigError::new(
                    "TZ",
                    format!(
                        "{v:?} is not a time zone name; use a name such as UTC or Europe/Berlin"
                    ),
                )
            })?,
    };
    let log_format = match raw.log_format.as_deref() {
        None => LogFormat::Text,
        Some(v) => one_of(
            "LOG_FORMAT",
            v,
            &[("text", LogFormat::Text), ("json", LogFormat::Json)],
        )?,
    };
    let log_level = match raw.log_level.as_deref() {
        None => "info".to_string(),
        Some(v) => one_of(
            "LOG_LEVEL",
            v,
            &[
                ("error", "error"),
                ("warn", "warn"),
                ("info", "info"),
                ("debug", "debug"),
                ("trace", "trace"),
            ],
        )?
        .to_string(),
    };

    let tls = tls::validate(&raw)?;
    let service = service::validate(&raw)?;
    let (encryption, keys) = encryption::validate(&raw)?;
    let destinations = s3::validate(&raw.s3, raw.backup_local.as_deref())?;
    let budget = memory::budget(
        raw.backup_memory_limit.as_deref(),
        raw.backup_threads.as_deref(),
        destinations.remotes.len(),
    )?;

    Ok(Config {
        engine,
        engine_reason,
        host,
        port: port.unwrap_or(engine.default_port()),
        user,
        password: raw.password.map(Secret),
        databases,
        container,
        backup_dir,
        retention,
        prefix,
        compression,
        compression_level,
        pg_dump_args,
        pg_dumpall_args,
        pg_format,
        pg_bin_dir,
        mysqldump_args,
        mysql_bin_dir,
        db_path,
        backup_cmd: raw.backup_cmd.clone(),
        restore_cmd: raw.restore_cmd.clone(),
        backup_kind,
        backup_user: raw.backup_user.clone(),
        wait_timeout,
        tls,
        tz,
        log_format,
        log_level,
        service,
        encryption,
        keys,
        destinations,
        budget,
    })
}

/// The engine from `DB_TYPE`, or detected: `DB_PATH` means SQLite, `BACKUP_CMD` the command engine, then the
/// port. With nothing to go on, PostgreSQL (the reason says so); `from_env` probes the server before that.
fn engine(raw: &raw::Raw, port: Option<u16>) -> Result<(EngineKind, String), ConfigError> {
    if let Some(v) = raw.db_type.as_deref() {
        let kind = match v.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "pg" => EngineKind::Postgres,
            "mysql" | "mariadb" => EngineKind::Mysql,
            "redis" | "valkey" => EngineKind::Redis,
            "sqlite" | "sqlite3" => EngineKind::Sqlite,
            "command" | "cmd" => EngineKind::Command,
            _ => {
                return Err(ConfigError::new(
                    "DB_TYPE",
                    format!(
                        "{v:?} is not a database engine; use one of postgres (postgresql, pg), mysql \
                         (mariadb), redis, sqlite, command"
                    ),
                ));
            }
        };
        return Ok((kind, "DB_TYPE".into()));
    }
    if raw.db_path.is_some() {
        return Ok((EngineKind::Sqlite, "detected: DB_PATH is set".into()));
    }
    if raw.backup_cmd.is_some() {
        return Ok((EngineKind::Command, "detected: BACKUP_CMD is set".into()));
    }
    match port {
        None => Ok((
            EngineKind::Postgres,
            "assumed: DB_TYPE, DB_PORT, DB_PATH and BACKUP_CMD are unset".into(),
        )),
        Some(5432) => Ok((EngineKind::Postgres, "detected: port 5432".into())),
        Some(3306) => Ok((EngineKind::Mysql, "detected: port 3306".into())),
        Some(6379) => Ok((EngineKind::Redis, "detected: port 6379".into())),
        Some(p) => Err(ConfigError::new(
            "DB_TYPE",
            format!("is not set and port {p} does not say which engine to use; set DB_TYPE"),
        )),
    }
}

fn databases(value: Option<&str>) -> Result<Databases, ConfigError> {
    let value = value.ok_or_else(|| {
        ConfigError::new(
            "DB_NAME",
            "is required: the database to back up, a comma-separated list, or all",
        )
    })?;
    if value.eq_ignore_ascii_case("all") {
        return Ok(Databases::All);
    }
    let names: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(ConfigError::new(
            "DB_NAME",
            format!("{value:?} has an empty name; use one name, a comma-separated list, or all"),
        ));
    }
    Ok(match names.len() {
        1 => Databases::One(names.into_iter().next().unwrap_or_default()),
        _ => Databases::List(names),
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
