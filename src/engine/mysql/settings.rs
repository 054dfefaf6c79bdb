//! MySQL's and MariaDB's own settings: the dump tool's extra options (`MYSQLDUMP_ARGS`) and where the client
//! tools are (`MYSQL_BIN_DIR`).

use std::path::PathBuf;

use serde::Deserialize;

use super::args::refused_mysqldump_arg;
use crate::config::values::dump_args;
use crate::config::{EngineConfig, Env};
use crate::error::ConfigError;

/// The variables read here.
pub const VARIABLES: &[&str] = &["MYSQLDUMP_ARGS", "MYSQL_BIN_DIR"];

/// MySQL's and MariaDB's dump tools.
#[derive(Debug, Clone)]
pub struct MysqlSettings {
    /// Extra `mariadb-dump`/`mysqldump` options (`MYSQLDUMP_ARGS`).
    pub dump_args: Vec<String>,
    /// A directory holding `mariadb-dump`/`mysqldump` and `mariadb`/`mysql`, instead of searching `PATH`.
    pub bin_dir: Option<PathBuf>,
}

/// The settings type the registry (`engines!`) keeps for this engine.
pub type Settings = MysqlSettings;

/// What the MySQL engine is given.
pub type MysqlConfig = EngineConfig<MysqlSettings>;

/// The variables as the environment gives them.
#[derive(Deserialize)]
struct Raw {
    mysqldump_args: Option<String>,
    mysql_bin_dir: Option<String>,
}

/// Checks the settings (whether or not MySQL is the chosen engine, `_chosen`).
pub fn validate(env: &Env, _chosen: bool) -> Result<MysqlSettings, ConfigError> {
    let raw: Raw = env.read()?;
    Ok(MysqlSettings {
        dump_args: dump_args(
            "MYSQLDUMP_ARGS",
            raw.mysqldump_args.as_deref(),
            refused_mysqldump_arg,
        )?,
        bin_dir: raw.mysql_bin_dir.map(PathBuf::from),
    })
}

/// The lines `config` prints.
pub fn describe(my: &MysqlSettings) -> Vec<(&'static str, String)> {
    vec![
        ("MYSQLDUMP_ARGS", my.dump_args.join(" ")),
        (
            "MYSQL_BIN_DIR",
            my.bin_dir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(search PATH)".to_string()),
        ),
    ]
}
