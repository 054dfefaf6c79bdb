//! The encryption settings: `BACKUP_ENCRYPTION_RECIPIENTS` or `BACKUP_ENCRYPTION_PASSPHRASE` (+ `_FILE`) for new
//! backups, `BACKUP_ENCRYPTION_IDENTITY_FILE` (and the passphrase) for reading encrypted ones.

use std::path::PathBuf;

use super::raw::Raw;
use crate::error::ConfigError;
use crate::pipeline::{Encryption, Keys, parse_recipients};

/// How new backups are encrypted (`None`: not at all) and what decrypts existing ones.
pub fn validate(raw: &Raw) -> Result<(Option<Encryption>, Keys), ConfigError> {
    let passphrase = raw
        .encryption_passphrase
        .clone()
        .map(age::secrecy::SecretString::from);
    let encryption = match (&raw.backup_encryption_recipients, &passphrase) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                "BACKUP_ENCRYPTION_RECIPIENTS",
                "set either BACKUP_ENCRYPTION_RECIPIENTS (age public keys) or BACKUP_ENCRYPTION_PASSPHRASE, not both",
            ));
        }
        (Some(list), None) => Some(Encryption::Recipients(
            parse_recipients(list)
                .map_err(|m| ConfigError::new("BACKUP_ENCRYPTION_RECIPIENTS", m))?,
        )),
        (None, Some(p)) => Some(Encryption::Passphrase(p.clone())),
        (None, None) => None,
    };
    let identity_file = raw
        .backup_encryption_identity_file
        .as_ref()
        .map(PathBuf::from);
    if let Some(path) = &identity_file
        && !path.is_absolute()
    {
        return Err(ConfigError::new(
            "BACKUP_ENCRYPTION_IDENTITY_FILE",
            "must be an absolute path to an age identity file, such as /run/secrets/age_identity",
        ));
    }
    Ok((
        encryption,
        Keys {
            identity_file,
            passphrase,
        },
    ))
}

/// The lines `config` prints; the passphrase is never shown.
pub fn describe(encryption: Option<&Encryption>, keys: &Keys) -> Vec<(&'static str, String)> {
    let recipients = match encryption {
        Some(Encryption::Recipients(list)) => list
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    let mode = match encryption {
        None => "off",
        Some(Encryption::Recipients(_)) => "age, to the recipients",
        Some(Encryption::Passphrase(_)) => "age, with the passphrase",
    };
    vec![
        ("BACKUP_ENCRYPTION", mode.to_string()),
        ("BACKUP_ENCRYPTION_RECIPIENTS", recipients),
        (
            "BACKUP_ENCRYPTION_PASSPHRASE",
            if keys.passphrase.is_some() {
                "[redacted]"
            } else {
                "(none)"
            }
            .to_string(),
        ),
        (
            "BACKUP_ENCRYPTION_IDENTITY_FILE",
            keys.identity_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ]
}
