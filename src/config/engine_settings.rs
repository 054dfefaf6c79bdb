//! The per-engine part: what only one engine reads (`PG_DUMP_*`, `PG_BIN_DIR`, `MYSQLDUMP_ARGS`, `MYSQL_BIN_DIR`,
//! `DB_PATH`, `BACKUP_CMD`, `RESTORE_CMD`, `BACKUP_NAME`, `BACKUP_USER`). Every one of these variables is checked
//! whichever the engine, so that a bad value never waits for a change of engine to surface; only the chosen
//! engine's are kept.

use std::path::PathBuf;

use super::raw::Raw;
use super::values::{dump_args, one_of};
use super::{EngineKind, PgFormat};
use crate::error::ConfigError;
use crate::naming;

/// The settings of the chosen engine.
#[derive(Debug, Clone)]
pub enum EngineSettings {
    Postgres(PgSettings),
    Mysql(MysqlSettings),
    Redis,
    Sqlite(SqliteSettings),
    Command(CommandSettings),
}

/// PostgreSQL's dump tools.
#[derive(Debug, Clone)]
pub struct PgSettings {
    pub format: PgFormat,
    /// Extra `pg_dump` options (`PG_DUMP_ARGS`).
    pub dump_args: Vec<String>,
    /// Extra `pg_dumpall --globals-only` options (`PG_DUMPALL_ARGS`), e.g. `--no-role-passwords`.
    pub dumpall_args: Vec<String>,
    /// A directory holding the PostgreSQL client tools (`PG_BIN_DIR`).
    pub bin_dir: Option<PathBuf>,
}

/// MySQL's and MariaDB's dump tools.
#[derive(Debug, Clone)]
pub struct MysqlSettings {
    /// Extra `mariadb-dump`/`mysqldump` options (`MYSQLDUMP_ARGS`).
    pub dump_args: Vec<String>,
    /// A directory holding `mariadb-dump`/`mysqldump` and `mariadb`/`mysql`, instead of searching `PATH`.
    pub bin_dir: Option<PathBuf>,
}

/// The SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// The database file (`DB_PATH`).
    pub path: PathBuf,
}

/// The command engine's commands.
#[derive(Debug, Clone)]
pub struct CommandSettings {
    /// The dump command (`BACKUP_CMD`), run with `sh -c`.
    pub backup_cmd: String,
    /// The restore command (`RESTORE_CMD`), fed the dump on stdin.
    pub restore_cmd: Option<String>,
    /// The file name extension of the dumps (`BACKUP_NAME`).
    pub kind: String,
    /// The Unix user the commands run as (`BACKUP_USER`).
    pub user: Option<String>,
}

impl EngineSettings {
    pub fn kind(&self) -> EngineKind {
        match self {
            EngineSettings::Postgres(_) => EngineKind::Postgres,
            EngineSettings::Mysql(_) => EngineKind::Mysql,
            EngineSettings::Redis => EngineKind::Redis,
            EngineSettings::Sqlite(_) => EngineKind::Sqlite,
            EngineSettings::Command(_) => EngineKind::Command,
        }
    }

    /// The lines `config` prints: the chosen engine's settings.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let dir = |d: &Option<PathBuf>, unset: &str| {
            d.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| unset.to_string())
        };
        match self {
            EngineSettings::Postgres(pg) => vec![
                ("PG_DUMP_FORMAT", format!("{:?}", pg.format).to_lowercase()),
                ("PG_DUMP_ARGS", pg.dump_args.join(" ")),
                ("PG_DUMPALL_ARGS", pg.dumpall_args.join(" ")),
                (
                    "PG_BIN_DIR",
                    dir(&pg.bin_dir, "(search /usr/lib/postgresql/*/bin, then PATH)"),
                ),
            ],
            EngineSettings::Mysql(my) => vec![
                ("MYSQLDUMP_ARGS", my.dump_args.join(" ")),
                ("MYSQL_BIN_DIR", dir(&my.bin_dir, "(search PATH)")),
            ],
            EngineSettings::Redis => Vec::new(),
            EngineSettings::Sqlite(s) => vec![("DB_PATH", s.path.display().to_string())],
            EngineSettings::Command(c) => vec![
                ("BACKUP_CMD", c.backup_cmd.clone()),
                ("RESTORE_CMD", c.restore_cmd.clone().unwrap_or_default()),
                ("BACKUP_NAME", c.kind.clone()),
                ("BACKUP_USER", c.user.clone().unwrap_or_default()),
            ],
        }
    }
}

/// Validates every engine's settings and keeps those of `kind`.
pub(super) fn validate(raw: &Raw, kind: EngineKind) -> Result<EngineSettings, ConfigError> {
    let db_path = raw.db_path.as_ref().map(PathBuf::from);
    if kind == EngineKind::Sqlite && db_path.is_none() {
        return Err(ConfigError::new(
            "DB_PATH",
            "is required for DB_TYPE=sqlite: the path of the SQLite database file",
        ));
    }
    let backup_cmd = raw.backup_cmd.clone();
    if kind == EngineKind::Command && backup_cmd.is_none() {
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
    let pg_format = match raw.pg_dump_format.as_deref() {
        None => PgFormat::Plain,
        Some(v) => one_of(
            "PG_DUMP_FORMAT",
            v,
            &[("plain", PgFormat::Plain), ("custom", PgFormat::Custom)],
        )?,
    };
    let pg_dump_args = dump_args("PG_DUMP_ARGS", raw.pg_dump_args.as_deref())?;
    let pg_dumpall_args = dump_args("PG_DUMPALL_ARGS", raw.pg_dumpall_args.as_deref())?;
    let mysqldump_args = dump_args("MYSQLDUMP_ARGS", raw.mysqldump_args.as_deref())?;
    Ok(match kind {
        EngineKind::Postgres => EngineSettings::Postgres(PgSettings {
            format: pg_format,
            dump_args: pg_dump_args,
            dumpall_args: pg_dumpall_args,
            bin_dir: raw.pg_bin_dir.as_ref().map(PathBuf::from),
        }),
        EngineKind::Mysql => EngineSettings::Mysql(MysqlSettings {
            dump_args: mysqldump_args,
            bin_dir: raw.mysql_bin_dir.as_ref().map(PathBuf::from),
        }),
        EngineKind::Redis => EngineSettings::Redis,
        EngineKind::Sqlite => EngineSettings::Sqlite(SqliteSettings {
            path: db_path.unwrap_or_default(),
        }),
        EngineKind::Command => EngineSettings::Command(CommandSettings {
            backup_cmd: backup_cmd.unwrap_or_default(),
            restore_cmd: raw.restore_cmd.clone(),
            kind: backup_kind,
            user: raw.backup_user.clone(),
        }),
    })
}
