//! PostgreSQL's own settings: the dump format (`PG_DUMP_FORMAT`), the tools' extra options (`PG_DUMP_ARGS`,
//! `PG_DUMPALL_ARGS`) and where the client tools are (`PG_BIN_DIR`).

use std::path::PathBuf;

use serde::Deserialize;

use super::args::{refused_pg_dump_arg, refused_pg_dumpall_arg};
use crate::config::values::{dump_args, one_of};
use crate::config::{EngineConfig, Env};
use crate::error::ConfigError;

/// The variables read here.
pub const VARIABLES: &[&str] = &["PG_DUMP_FORMAT", "PG_DUMP_ARGS", "PG_DUMPALL_ARGS", "PG_BIN_DIR"];

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

/// The settings type the registry (`engines!`) keeps for this engine.
pub type Settings = PgSettings;

/// What the PostgreSQL engine is given.
pub type PgConfig = EngineConfig<PgSettings>;

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

/// The variables as the environment gives them.
#[derive(Deserialize)]
struct Raw {
    pg_dump_format: Option<String>,
    pg_dump_args: Option<String>,
    pg_dumpall_args: Option<String>,
    pg_bin_dir: Option<String>,
}

/// Checks the settings (whether or not PostgreSQL is the chosen engine, `_chosen`).
pub fn validate(env: &Env, _chosen: bool) -> Result<PgSettings, ConfigError> {
    let raw: Raw = env.read()?;
    let format = match raw.pg_dump_format.as_deref() {
        None => PgFormat::Plain,
        Some(v) => one_of(
            "PG_DUMP_FORMAT",
            v,
            &[("plain", PgFormat::Plain), ("custom", PgFormat::Custom)],
        )?,
    };
    Ok(PgSettings {
        format,
        dump_args: dump_args("PG_DUMP_ARGS", raw.pg_dump_args.as_deref(), refused_pg_dump_arg)?,
        dumpall_args: dump_args(
            "PG_DUMPALL_ARGS",
            raw.pg_dumpall_args.as_deref(),
            refused_pg_dumpall_arg,
        )?,
        bin_dir: raw.pg_bin_dir.map(PathBuf::from),
    })
}

/// The lines `config` prints.
pub fn describe(pg: &PgSettings) -> Vec<(&'static str, String)> {
    vec![
        ("PG_DUMP_FORMAT", format!("{:?}", pg.format).to_lowercase()),
        ("PG_DUMP_ARGS", pg.dump_args.join(" ")),
        ("PG_DUMPALL_ARGS", pg.dumpall_args.join(" ")),
        (
            "PG_BIN_DIR",
            pg.bin_dir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(search /usr/lib/postgresql/*/bin, then PATH)".to_string()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg_dump(value: &str) -> Result<Vec<String>, ConfigError> {
        dump_args("PG_DUMP_ARGS", Some(value), refused_pg_dump_arg)
    }

    #[test]
    fn pg_dump_args_keep_their_own_list() {
        assert!(pg_dump("--no-owner -t people").is_ok());
        assert!(pg_dump("--file=x").is_err());
        // Each variable has its own list: `--host` is refused only in MYSQLDUMP_ARGS.
        assert!(pg_dump("--host=x").is_ok());
        let err = pg_dump("'unclosed").unwrap_err();
        assert_eq!(err.variable, "PG_DUMP_ARGS");
    }
}
