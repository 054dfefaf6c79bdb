//! The command engine's own settings: the commands (`BACKUP_CMD`, `RESTORE_CMD`), the file name extension of
//! their dumps (`BACKUP_NAME`) and the user they run as (`BACKUP_USER`, which the hooks run as too).

use serde::Deserialize;

use crate::config::{EngineConfig, Env};
use crate::error::ConfigError;
use crate::naming;

/// The variables read here.
pub const VARIABLES: &[&str] = &["BACKUP_CMD", "RESTORE_CMD", "BACKUP_NAME", "BACKUP_USER"];

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

/// The settings type the registry (`engines!`) keeps for this engine.
pub type Settings = CommandSettings;

/// What the command engine is given.
pub type CommandConfig = EngineConfig<CommandSettings>;

/// The variables as the environment gives them.
#[derive(Deserialize)]
struct Raw {
    backup_cmd: Option<String>,
    restore_cmd: Option<String>,
    backup_name: Option<String>,
    backup_user: Option<String>,
}

/// Checks the settings: `BACKUP_CMD` is required when the command engine is the `chosen` one.
pub fn validate(env: &Env, chosen: bool) -> Result<CommandSettings, ConfigError> {
    let raw: Raw = env.read()?;
    if chosen && raw.backup_cmd.is_none() {
        return Err(ConfigError::new(
            "BACKUP_CMD",
            "is required for DB_TYPE=command: a shell command that writes the dump to stdout",
        ));
    }
    let kind = raw.backup_name.unwrap_or_else(|| "dump".to_string());
    naming::check_kind(&kind).map_err(|m| ConfigError::new("BACKUP_NAME", m))?;
    Ok(CommandSettings {
        backup_cmd: raw.backup_cmd.unwrap_or_default(),
        restore_cmd: raw.restore_cmd,
        kind,
        user: raw.backup_user,
    })
}

/// The lines `config` prints.
pub fn describe(c: &CommandSettings) -> Vec<(&'static str, String)> {
    vec![
        ("BACKUP_CMD", c.backup_cmd.clone()),
        ("RESTORE_CMD", c.restore_cmd.clone().unwrap_or_default()),
        ("BACKUP_NAME", c.kind.clone()),
        ("BACKUP_USER", c.user.clone().unwrap_or_default()),
    ]
}
