//! The destinations part: where backups go and how long they stay there (`BACKUP_DIR`, `BACKUP_LOCAL`, the
//! S3 groups, the rclone remotes, and the retention: `BACKUP_RETENTION_DAYS`, `DB_BACKUP_MAX_N`, `BACKUP_KEEP_*`, see `retention`).

use std::path::PathBuf;

use super::raw::Raw;
use super::values::boolean;
use super::{RcloneSettings, S3Settings};
use super::{rclone, retention, s3};
use crate::error::ConfigError;
use crate::retention::Policy;

/// Where backups go.
#[derive(Debug, Clone)]
pub struct Destinations {
    /// `BACKUP_DIR`: the local copies (unless `local` is false), the lock and a restore's download.
    pub backup_dir: PathBuf,
    /// How many backups each series keeps, and for how long.
    pub retention: Policy,
    /// Keep a copy in `BACKUP_DIR` (`BACKUP_LOCAL`, default true).
    pub local: bool,
    pub remotes: Vec<S3Settings>,
    /// The destinations reached through rclone (`RCLONE_REMOTE`, `RCLONE_2_REMOTE`...).
    pub rclone: Vec<RcloneSettings>,
}

/// Validates the local directory, the retention and the S3 destinations.
pub(super) fn validate(raw: &Raw) -> Result<Destinations, ConfigError> {
    let backup_dir = PathBuf::from(
        raw.backup_dir
            .clone()
            .or(raw.db_backup_dir.clone())
            .unwrap_or_else(|| "/backups".to_string()),
    );
    if !backup_dir.is_absolute() {
        let var = if raw.backup_dir.is_some() {
            "BACKUP_DIR"
        } else {
            "DB_BACKUP_DIR"
        };
        return Err(ConfigError::new(
            var,
            "must be an absolute path such as /backups",
        ));
    }
    let retention = retention::validate(raw)?;
    let remotes = s3::validate(&raw.s3)?;
    let rclone = rclone::validate(&raw.rclone)?;
    let local = local_or_remote(
        raw.backup_local.as_deref(),
        !remotes.is_empty() || !rclone.is_empty(),
    )?;
    Ok(Destinations {
        backup_dir,
        retention,
        local,
        remotes,
        rclone,
    })
}

/// `BACKUP_LOCAL`: whether to keep a local copy; refused off when no remote would take the backup.
#[cfg(test)]
pub(super) fn local(value: Option<&str>, remotes: &[S3Settings]) -> Result<bool, ConfigError> {
    local_or_remote(value, !remotes.is_empty())
}

/// `BACKUP_LOCAL`, when `remote` tells whether any off-site destination (S3 or rclone) is configured.
fn local_or_remote(value: Option<&str>, remote: bool) -> Result<bool, ConfigError> {
    let local = match value {
        None => true,
        Some(v) => boolean("BACKUP_LOCAL", v)?,
    };
    if !local && !remote {
        return Err(ConfigError::new(
            "BACKUP_LOCAL",
            "is false but no S3 or rclone destination is configured (S3_BACKUP_BUCKET, RCLONE_REMOTE): backups \
             would go nowhere",
        ));
    }
    Ok(local)
}

/// The lines `config` prints of the off-site copies; the keys are never shown.
pub(super) fn describe_copies(d: &Destinations) -> Vec<(&'static str, String)> {
    let mut out = vec![("BACKUP_LOCAL", d.local.to_string())];
    for r in &d.remotes {
        let credentials = match &r.source {
            Some(source) => format!("credentials={}", source.describe()),
            None => "access_key=[redacted] secret_key=[redacted]".to_string(),
        };
        let mut line = format!(
            "{}: {}/{}/{} region={} addressing={} part_size={} {credentials}",
            r.name, r.endpoint, r.bucket, r.prefix, r.region, r.addressing, r.part_size
        );
        if r.session_token.is_some() {
            line.push_str(" session_token=[redacted]");
        }
        if let Some(ca) = &r.ca_file {
            line.push_str(&format!(" ca_file={}", ca.display()));
        }
        out.push(("S3", line));
    }
    for r in &d.rclone {
        let config = r.config_file.as_deref().unwrap_or("rclone's default");
        out.push((
            "RCLONE",
            format!("{}: {} (config file: {config})", r.name, r.remote),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::from_pairs;

    #[test]
    fn an_rclone_remote_alone_may_take_the_backups() {
        let d = validate(&from_pairs(&[
            ("BACKUP_LOCAL", "false"),
            ("RCLONE_REMOTE", "box:backups"),
        ]))
        .unwrap();
        assert!(!d.local);
        assert_eq!(d.rclone.len(), 1);
        assert!(
            describe_copies(&d)
                .iter()
                .any(|(k, v)| *k == "RCLONE" && v.contains("box:backups"))
        );
        let err = validate(&from_pairs(&[("BACKUP_LOCAL", "false")])).unwrap_err();
        assert!(err.message.contains("RCLONE_REMOTE"), "{err}");
    }
}
