//! `verify`: re-read backups and check the checksum, the whole decompression and the completeness marker.

use std::sync::atomic::AtomicBool;

use super::Checker;
use super::series::{self, Found};
use crate::config::Config;
use crate::engine;
use crate::error::{Error, Result};
use crate::pipeline;
use crate::storage::{LocalDir, parse_checksum};

/// Verifies the backups `spec` names (`latest`, `all`, a name or a path); the result per file.
pub fn run(cfg: &Config, spec: &str) -> Result<Vec<(String, Result<()>)>> {
    let chosen: Vec<(LocalDir, Found)> = if spec == "all" {
        let dir = LocalDir::new(&cfg.backup_dir);
        let found = series::backups(cfg, &dir.list()?);
        if found.is_empty() {
            return Err(Error::file(&cfg.backup_dir, "holds no backups to verify"));
        }
        found.into_iter().map(|f| (dir.clone(), f)).collect()
    } else {
        series::resolve(cfg, spec)?
    };
    let never = AtomicBool::new(false);
    Ok(chosen
        .into_iter()
        .map(|(dir, found)| {
            let result = verify_one(cfg, &dir, &found, &never);
            (found.file_name, result)
        })
        .collect())
}

/// The SHA-256 recorded beside a backup; an error when it is missing or unreadable.
pub fn expected_checksum(dir: &LocalDir, found: &Found) -> Result<String> {
    let checksum_name = found.name.checksum_file_name();
    if !found.has_checksum {
        return Err(Error::file(
            dir.file_path(&checksum_name),
            "is missing, so the backup cannot be trusted: it may be incomplete (use --no-verify to restore it \
             anyway, at your own risk)",
        ));
    }
    let content = dir.read_small(&checksum_name)?;
    parse_checksum(&content, &found.file_name).ok_or_else(|| {
        Error::file(
            dir.file_path(&checksum_name),
            format!(
                "is not a checksum line for {} in the format of sha256sum",
                found.file_name
            ),
        )
    })
}

/// Checks that the stored bytes hash to `expected`.
pub fn check_digest(dir: &LocalDir, found: &Found, expected: &str, actual: &str) -> Result<()> {
    if actual == expected {
        return Ok(());
    }
    Err(Error::file(
        dir.file_path(&found.file_name),
        format!(
            "is damaged: its SHA-256 is {actual} but {} records {expected}; use another backup",
            found.name.checksum_file_name()
        ),
    ))
}

fn verify_one(cfg: &Config, dir: &LocalDir, found: &Found, cancel: &AtomicBool) -> Result<()> {
    let expected = expected_checksum(dir, found)?;
    let completeness = engine::file_completeness(cfg, &found.name.kind).ok_or_else(|| {
            Error::file(
                dir.file_path(&found.file_name),
                format!(
                    "is a .{} backup, which the configured engine cannot check; set DB_TYPE to the engine that made it",
                    found.name.kind
                ),
            )
        })?;
    let mut checker = Checker::start(completeness)?;
    let file = dir.open(&found.file_name)?;
    let measured = pipeline::load(
        file,
        std::io::sink(),
        found.name.compression,
        &mut |chunk| checker.feed(chunk),
        cancel,
    )
    .map_err(|e| {
        Error::file(
            dir.file_path(&found.file_name),
            format!("cannot be read or decompressed: {e}"),
        )
    })?;
    check_digest(dir, found, &expected, &measured.sha256)?;
    checker.finish(&found.file_name)
}
