//! The hook settings: `BACKUP_PRE_CMD`, `BACKUP_POST_CMD`, `RESTORE_PRE_CMD`, `RESTORE_POST_CMD` (shell commands
//! run before and after a backup or a restore) and `HOOK_TIMEOUT`, and the `DB_BACKUP_*` names db-backup sets
//! for a hook, which a hook that runs db-backup itself may pass on.

use std::collections::HashMap;
use std::time::Duration;

use super::values::number;
use crate::error::ConfigError;

/// How long a hook may run when `HOOK_TIMEOUT` is unset.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// The longest `HOOK_TIMEOUT` accepted: a day.
const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The settings db-backup reads for hooks that start with `BACKUP_` (the others are not checked for typos).
const SETTINGS: &[&str] = &["BACKUP_PRE_CMD", "BACKUP_POST_CMD"];

/// What a hook finds in its environment (see [`crate::hooks`]); known names, so that db-backup started by a hook
/// does not refuse them as unknown settings.
pub const HOOK_ENV: &[&str] = &[
    "DB_BACKUP_COMMAND",
    "DB_BACKUP_HOOK",
    "DB_BACKUP_OUTCOME",
    "DB_BACKUP_FILES",
    "DB_BACKUP_SERIES",
    "DB_BACKUP_ERROR",
];

/// The hook settings as read from the environment.
#[derive(Debug, Default, Clone)]
pub struct RawHooks {
    backup_pre: Option<String>,
    backup_post: Option<String>,
    restore_pre: Option<String>,
    restore_post: Option<String>,
    timeout: Option<String>,
}

/// The validated hook settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hooks {
    /// `BACKUP_PRE_CMD`: runs before the dump; its failure fails the run.
    pub backup_pre: Option<String>,
    /// `BACKUP_POST_CMD`: runs after the backup, made or failed.
    pub backup_post: Option<String>,
    /// `RESTORE_PRE_CMD`: runs before the restore writes anything; its failure fails the restore.
    pub restore_pre: Option<String>,
    /// `RESTORE_POST_CMD`: runs after the restore, done or failed.
    pub restore_post: Option<String>,
    /// `HOOK_TIMEOUT`: how long one hook may run before its processes are ended.
    pub timeout: Duration,
    /// `BACKUP_USER`: the Unix user the hooks run as (the same user as the command engine's commands).
    pub user: Option<String>,
}

impl Default for Hooks {
    fn default() -> Hooks {
        Hooks {
            backup_pre: None,
            backup_post: None,
            restore_pre: None,
            restore_post: None,
            timeout: DEFAULT_TIMEOUT,
            user: None,
        }
    }
}

/// Whether `name` is a hook setting or a name db-backup sets for hooks (for the check of unknown names).
pub fn known(name: &str) -> bool {
    SETTINGS.contains(&name) || HOOK_ENV.contains(&name)
}

/// The hook settings among the set (non-empty) variables.
pub fn read(map: &HashMap<&str, &str>) -> RawHooks {
    let get = |name: &str| map.get(name).map(|v| v.to_string());
    RawHooks {
        backup_pre: get("BACKUP_PRE_CMD"),
        backup_post: get("BACKUP_POST_CMD"),
        restore_pre: get("RESTORE_PRE_CMD"),
        restore_post: get("RESTORE_POST_CMD"),
        timeout: get("HOOK_TIMEOUT"),
    }
}

/// The hooks' settings; `user` is `BACKUP_USER`, which the hooks share with the command engine.
pub fn validate(raw: &RawHooks, user: Option<&str>) -> Result<Hooks, ConfigError> {
    let timeout = match raw.timeout.as_deref() {
        None => DEFAULT_TIMEOUT,
        Some(v) => {
            let expected = format!("a whole number of seconds from 1 to {MAX_TIMEOUT_SECS}");
            let secs: u64 = number("HOOK_TIMEOUT", v, &expected)?;
            if secs == 0 || secs > MAX_TIMEOUT_SECS {
                return Err(ConfigError::new(
                    "HOOK_TIMEOUT",
                    format!("{secs} is out of range: must be {expected}"),
                ));
            }
            Duration::from_secs(secs)
        }
    };
    Ok(Hooks {
        backup_pre: raw.backup_pre.clone(),
        backup_post: raw.backup_post.clone(),
        restore_pre: raw.restore_pre.clone(),
        restore_post: raw.restore_post.clone(),
        timeout,
        user: user.map(str::to_string),
    })
}

/// The hook settings for the printed configuration.
pub fn describe(hooks: &Hooks) -> Vec<(&'static str, String)> {
    let cmd = |c: &Option<String>| c.clone().unwrap_or_default();
    vec![
        ("BACKUP_PRE_CMD", cmd(&hooks.backup_pre)),
        ("BACKUP_POST_CMD", cmd(&hooks.backup_post)),
        ("RESTORE_PRE_CMD", cmd(&hooks.restore_pre)),
        ("RESTORE_POST_CMD", cmd(&hooks.restore_post)),
        ("HOOK_TIMEOUT", hooks.timeout.as_secs().to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(pairs: &[(&str, &str)]) -> Result<Hooks, ConfigError> {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        validate(&read(&map), None)
    }

    #[test]
    fn commands_and_timeout_are_read() {
        let h = hooks(&[
            ("BACKUP_PRE_CMD", "echo pre"),
            ("RESTORE_POST_CMD", "echo post"),
            ("HOOK_TIMEOUT", "30"),
        ])
        .unwrap();
        assert_eq!(h.backup_pre.as_deref(), Some("echo pre"));
        assert_eq!(h.restore_post.as_deref(), Some("echo post"));
        assert_eq!(
            (h.backup_post.as_deref(), h.restore_pre.as_deref()),
            (None, None)
        );
        assert_eq!(h.timeout, Duration::from_secs(30));
        assert_eq!(hooks(&[]).unwrap(), Hooks::default());
    }

    #[test]
    fn a_bad_timeout_names_the_variable() {
        for bad in ["0", "-1", "5m", "86401"] {
            let err = hooks(&[("HOOK_TIMEOUT", bad)]).unwrap_err();
            assert_eq!(err.variable, "HOOK_TIMEOUT", "{bad}");
            assert!(err.message.contains("seconds"), "{err}");
        }
    }

    #[test]
    fn hook_settings_and_hook_variables_are_known() {
        assert!(known("BACKUP_POST_CMD"));
        assert!(known("DB_BACKUP_OUTCOME"));
        assert!(!known("BACKUP_POST_COMMAND"));
    }
}
