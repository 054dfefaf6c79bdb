//! The settings of restore drills: `BACKUP_TEST_RESTORE` (the service drills each new backup) and the scratch
//! target a drill restores into (`TEST_RESTORE_HOST`, `_PORT`, `_USER`, `_PASSWORD(_FILE)`, `TEST_RESTORE_CMD`).

use super::Secret;
use super::raw::Raw;
use super::values::{boolean, number};
use crate::error::ConfigError;

/// Where a drill restores, and whether the service drills each new backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrillSettings {
    /// `BACKUP_TEST_RESTORE`: after each scheduled backup, drill the new backups.
    pub after_backup: bool,
    /// `TEST_RESTORE_HOST`: a scratch server; unset, PostgreSQL and MySQL use a scratch database on the source.
    pub host: Option<String>,
    /// `TEST_RESTORE_PORT`; unset, the source's port (or the engine's standard port with a host).
    pub port: Option<u16>,
    /// `TEST_RESTORE_USER`; unset, the source's user.
    pub user: Option<String>,
    /// `TEST_RESTORE_PASSWORD` or `TEST_RESTORE_PASSWORD_FILE`; unset, the source's password when the user
    /// is the source's user.
    pub password: Option<Secret>,
    /// `TEST_RESTORE_CMD`: the command engine's drill, fed the dump on stdin.
    pub cmd: Option<String>,
}

/// Validates the drill settings.
pub(super) fn validate(raw: &Raw) -> Result<DrillSettings, ConfigError> {
    let after_backup = match raw.backup_test_restore.as_deref() {
        None => false,
        Some(v) => boolean("BACKUP_TEST_RESTORE", v)?,
    };
    let port = match raw.test_restore_port.as_deref() {
        None => None,
        Some(v) => {
            let port: u16 = number("TEST_RESTORE_PORT", v, "a port number from 1 to 65535")?;
            if port == 0 {
                return Err(ConfigError::new(
                    "TEST_RESTORE_PORT",
                    "must be a port number from 1 to 65535",
                ));
            }
            Some(port)
        }
    };
    Ok(DrillSettings {
        after_backup,
        host: raw.test_restore_host.clone(),
        port,
        user: raw.test_restore_user.clone(),
        password: raw.test_restore_password.clone().map(Secret),
        cmd: raw.test_restore_cmd.clone(),
    })
}

impl DrillSettings {
    /// The settings for `config` output, the password redacted.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let unset = || "(unset)".to_string();
        vec![
            ("BACKUP_TEST_RESTORE", self.after_backup.to_string()),
            ("TEST_RESTORE_HOST", self.host.clone().unwrap_or_else(unset)),
            (
                "TEST_RESTORE_PORT",
                self.port.map(|p| p.to_string()).unwrap_or_else(unset),
            ),
            ("TEST_RESTORE_USER", self.user.clone().unwrap_or_else(unset)),
            (
                "TEST_RESTORE_PASSWORD",
                match self.password {
                    Some(_) => "[redacted]".to_string(),
                    None => "(none)".to_string(),
                },
            ),
            ("TEST_RESTORE_CMD", self.cmd.clone().unwrap_or_else(unset)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::raw::from_pairs;
    use super::*;

    #[test]
    fn off_by_default_and_read_when_set() {
        let d = validate(&from_pairs(&[("DB_TYPE", "postgres")])).unwrap();
        assert_eq!(d, DrillSettings::default());
        let d = validate(&from_pairs(&[
            ("DB_TYPE", "postgres"),
            ("BACKUP_TEST_RESTORE", "true"),
            ("TEST_RESTORE_HOST", "scratch"),
            ("TEST_RESTORE_PORT", "5433"),
            ("TEST_RESTORE_PASSWORD", "pw"),
        ]))
        .unwrap();
        assert!(d.after_backup);
        assert_eq!(d.host.as_deref(), Some("scratch"));
        assert_eq!(d.port, Some(5433));
        assert_eq!(d.password.as_ref().map(|p| p.expose()), Some("pw"));
        let e = validate(&from_pairs(&[("TEST_RESTORE_PORT", "x")])).unwrap_err();
        assert!(e.to_string().contains("TEST_RESTORE_PORT"));
    }
}
