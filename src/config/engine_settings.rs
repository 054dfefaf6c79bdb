//! The per-engine part: what only one engine reads (`PG_DUMP_*`, `PG_BIN_DIR`, `MYSQLDUMP_ARGS`, `MYSQL_BIN_DIR`,
//! `DB_PATH`, `BACKUP_CMD`, `RESTORE_CMD`, `BACKUP_NAME`, `BACKUP_USER`). Every one of these variables is checked
//! whichever the engine, so that a bad value never waits for a change of engine to surface.

use std::path::PathBuf;

use super::raw::Raw;
use super::values::{dump_args, one_of};
use super::{EngineKind, PgFormat};
use crate::error::ConfigError;
use crate::naming;

/// The settings of every engine.
#[derive(Debug, Clone)]
pub(super) struct EngineSettings {
    pub pg_format: PgFormat,
    pub pg_dump_args: Vec<String>,
    pub pg_dumpall_args: Vec<String>,
    pub pg_bin_dir: Option<PathBuf>,
    pub mysqldump_args: Vec<String>,
    pub mysql_bin_dir: Option<PathBuf>,
    pub db_path: Option<PathBuf>,
    pub backup_cmd: Option<String>,
    pub restore_cmd: Option<String>,
    pub backup_kind: String,
    pub backup_user: Option<String>,
}

/// Validates every engine's settings; those that `kind` requires must be set.
pub(super) fn validate(raw: &Raw, kind: EngineKind) -> Result<EngineSettings, ConfigError> {
    let db_path = raw.db_path.as_ref().map(PathBuf::from);
    if kind == EngineKind::Sqlite && db_path.is_none() {
        return Err(ConfigError::new(
            "DB_PATH",
            "is required for DB_TYPE=sqlite: the path of the SQLite database file",
        ));
    }
    if kind == EngineKind::Command && raw.backup_cmd.is_none() {
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
    Ok(EngineSettings {
        pg_format,
        pg_dump_args: dump_args("PG_DUMP_ARGS", raw.pg_dump_args.as_deref())?,
        pg_dumpall_args: dump_args("PG_DUMPALL_ARGS", raw.pg_dumpall_args.as_deref())?,
        pg_bin_dir: raw.pg_bin_dir.as_ref().map(PathBuf::from),
        mysqldump_args: dump_args("MYSQLDUMP_ARGS", raw.mysqldump_args.as_deref())?,
        mysql_bin_dir: raw.mysql_bin_dir.as_ref().map(PathBuf::from),
        db_path,
        backup_cmd: raw.backup_cmd.clone(),
        restore_cmd: raw.restore_cmd.clone(),
        backup_kind,
        backup_user: raw.backup_user.clone(),
    })
}
