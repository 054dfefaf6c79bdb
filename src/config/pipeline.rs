//! The pipeline part: how a dump is compressed and encrypted on its way to the destinations, and what
//! decrypts a backup for `restore` and `verify` (`BACKUP_COMPRESSION`, `BACKUP_COMPRESSION_LEVEL`, `BACKUP_ENCRYPTION_*`).

use super::encryption;
use super::raw::Raw;
use super::values::{number, one_of};
use crate::error::ConfigError;
use crate::pipeline::{Compression, Encryption, Keys};

/// How backups are compressed and encrypted.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub compression: Compression,
    pub compression_level: i32,
    /// How new backups are encrypted (`None`: not encrypted).
    pub encryption: Option<Encryption>,
    /// What decrypts encrypted backups for `restore` and `verify`.
    pub keys: Keys,
}

/// Validates the compression and encryption settings.
pub(super) fn validate(raw: &Raw) -> Result<Pipeline, ConfigError> {
    let compression = match raw.backup_compression.as_deref() {
        None => Compression::Gzip,
        Some(v) => one_of(
            "BACKUP_COMPRESSION",
            v,
            &[
                ("gzip", Compression::Gzip),
                ("gz", Compression::Gzip),
                ("zstd", Compression::Zstd),
                ("none", Compression::None),
            ],
        )?,
    };
    let compression_level = match raw.backup_compression_level.as_deref() {
        None => compression.default_level(),
        Some(v) => {
            let (lo, hi) = compression.level_range();
            let expected = format!("a whole number from {lo} to {hi} for {compression}");
            let level: i32 = number("BACKUP_COMPRESSION_LEVEL", v, &expected)?;
            if level < lo || level > hi {
                return Err(ConfigError::new(
                    "BACKUP_COMPRESSION_LEVEL",
                    format!("{level} is out of range: must be {expected}"),
                ));
            }
            level
        }
    };
    let (encryption, keys) = encryption::validate(raw)?;
    Ok(Pipeline {
        compression,
        compression_level,
        encryption,
        keys,
    })
}
