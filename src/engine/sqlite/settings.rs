//! SQLite's own setting: the database file (`DB_PATH`), required when SQLite is the engine.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{EngineConfig, Env};
use crate::error::ConfigError;

/// The variables read here.
pub const VARIABLES: &[&str] = &["DB_PATH"];

/// The SQLite database.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// The database file (`DB_PATH`).
    pub path: PathBuf,
}

/// The settings type the registry (`engines!`) keeps for this engine.
pub type Settings = SqliteSettings;

/// What the SQLite engine is given.
pub type SqliteConfig = EngineConfig<SqliteSettings>;

/// The variables as the environment gives them.
#[derive(Deserialize)]
struct Raw {
    db_path: Option<String>,
}

/// Checks the settings: `DB_PATH` is required when SQLite is the `chosen` engine.
pub fn validate(env: &Env, chosen: bool) -> Result<SqliteSettings, ConfigError> {
    let raw: Raw = env.read()?;
    if chosen && raw.db_path.is_none() {
        return Err(ConfigError::new(
            "DB_PATH",
            "is required for DB_TYPE=sqlite: the path of the SQLite database file",
        ));
    }
    Ok(SqliteSettings {
        path: raw.db_path.map(PathBuf::from).unwrap_or_default(),
    })
}

/// The lines `config` prints.
pub fn describe(s: &SqliteSettings) -> Vec<(&'static str, String)> {
    vec![("DB_PATH", s.path.display().to_string())]
}
