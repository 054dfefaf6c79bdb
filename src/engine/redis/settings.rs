//! Redis has no settings of its own: the connection (`DB_HOST`, `DB_PORT`, `DB_PASSWORD`, TLS) is all it reads.

use crate::config::{EngineConfig, Env};
use crate::error::ConfigError;

/// The variables read here: none.
pub const VARIABLES: &[&str] = &[];

/// The settings type the registry (`engines!`) keeps for this engine.
pub type Settings = ();

/// What the Redis engine is given.
pub type RedisConfig = EngineConfig<()>;

/// Nothing to check.
pub fn validate(_env: &Env, _chosen: bool) -> Result<(), ConfigError> {
    Ok(())
}

/// The lines `config` prints: none.
pub fn describe(_: &()) -> Vec<(&'static str, String)> {
    Vec::new()
}
