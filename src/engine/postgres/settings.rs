//! PostgreSQL's own settings: the dump format (`PG_DUMP_FORMAT`), the tools' extra options (`PG_DUMP_ARGS`,
//! `PG_DUMPALL_ARGS`), where the client tools are (`PG_BIN_DIR`) and how many jobs restore a custom archive
//! (`PG_RESTORE_JOBS`).

use std::path::PathBuf;

use serde::Deserialize;

use super::args::{refused_pg_dump_arg, refused_pg_dumpall_arg};
use crate::config::values::{dump_args, number, one_of};
use crate::config::{EngineConfig, Env};
use crate::error::ConfigError;

/// The variables read here.
pub const VARIABLES: &[&str] = &[
    "PG_DUMP_FORMAT",
    "PG_DUMP_ARGS",
    "PG_DUMPALL_ARGS",
    "PG_BIN_DIR",
    "PG_RESTORE_JOBS",
];

/// The most `pg_restore` jobs `PG_RESTORE_JOBS` and `restore --jobs` accept.
pub const MAX_RESTORE_JOBS: u32 = 64;

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
    /// `pg_restore -j` for custom archives (`PG_RESTORE_JOBS`); 1 restores in one transaction from a stream.
    pub restore_jobs: u32,
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
    pg_restore_jobs: Option<String>,
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
        restore_jobs: match raw.pg_restore_jobs.as_deref() {
            None => 1,
            Some(v) => restore_jobs("PG_RESTORE_JOBS", v)?,
        },
    })
}

/// A number of `pg_restore` jobs, 1 to [`MAX_RESTORE_JOBS`]; `var` names the setting for the message.
pub fn restore_jobs(var: &str, value: &str) -> Result<u32, ConfigError> {
    let expected = format!("a number of jobs from 1 to {MAX_RESTORE_JOBS}");
    match number::<u32>(var, value, &expected)? {
        n @ 1..=MAX_RESTORE_JOBS => Ok(n),
        _ => Err(ConfigError::new(
            var,
            format!("{value:?} is not valid: must be {expected}"),
        )),
    }
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
        ("PG_RESTORE_JOBS", pg.restore_jobs.to_string()),
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

    #[test]
    fn restore_jobs_are_one_to_the_limit() {
        assert_eq!(restore_jobs("PG_RESTORE_JOBS", " 4 ").unwrap(), 4);
        for bad in ["0", "-1", "65", "two", ""] {
            let err = restore_jobs("PG_RESTORE_JOBS", bad).unwrap_err();
            assert_eq!(err.variable, "PG_RESTORE_JOBS", "{bad}");
        }
    }
}
