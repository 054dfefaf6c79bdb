//! `verify`: re-read backups and check the checksum, the whole decompression and the completeness marker.

use super::Checker;
use super::series::{self, Found};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::engine;
use crate::error::{Error, Result};
use crate::pipeline;
use crate::storage::{Storage, parse_checksum};
use std::sync::Arc;

/// Verifies the backups `spec` names (`latest`, `all`, a name or a path) in every destination, or in the one
/// `from` names; the result per file (remote ones as `<destination>:<name>`). `cancel` stops the reading.
pub fn run(
    cfg: &Config,
    spec: &str,
    from: Option<&str>,
    cancel: &Cancel,
) -> Result<Vec<(String, Result<()>)>> {
    let chosen: Vec<(Arc<dyn Storage>, Found)> = if spec == "all" {
        let mut chosen = Vec::new();
        for dest in series::sources(cfg, from)? {
            let found = series::backups(cfg, &dest.list()?);
            chosen.extend(found.into_iter().map(|f| (Arc::clone(&dest), f)));
        }
        if chosen.is_empty() {
            return Err(Error::file(
                &cfg.backup_dir,
                "holds no backups to verify (nor does any other destination)",
            ));
        }
        chosen
    } else {
        series::resolve(cfg, spec, from)?
    };
    Ok(chosen
        .into_iter()
        .map(|(dir, found)| {
            let result = verify_one(cfg, dir.as_ref(), &found, cancel);
            let label = match dir.as_local() {
                Some(_) => found.file_name,
                None => format!("{}:{}", dir.name(), found.file_name),
            };
            (label, result)
        })
        .collect())
}

/// The SHA-256 recorded beside a backup; an error when it is missing or unreadable.
pub fn expected_checksum(dir: &dyn Storage, found: &Found) -> Result<String> {
    let checksum_name = found.name.checksum_file_name();
    if !found.has_checksum {
        return Err(Error::file(
            dir.location(&checksum_name),
            "is missing, so the backup cannot be trusted: it may be incomplete (use --no-verify to restore it \
             anyway, at your own risk)",
        ));
    }
    let content = dir.read_small(&checksum_name)?;
    parse_checksum(&content, &found.file_name).ok_or_else(|| {
        Error::file(
            dir.location(&checksum_name),
            format!(
                "is not a checksum line for {} in the format of sha256sum",
                found.file_name
            ),
        )
    })
}

/// Checks that the stored bytes hash to `expected`.
pub fn check_digest(dir: &dyn Storage, found: &Found, expected: &str, actual: &str) -> Result<()> {
    if actual == expected {
        return Ok(());
    }
    Err(Error::file(
        dir.location(&found.file_name),
        format!(
            "is damaged: its SHA-256 is {actual} but {} records {expected}; use another backup",
            found.name.checksum_file_name()
        ),
    ))
}

fn verify_one(cfg: &Config, dir: &dyn Storage, found: &Found, cancel: &Cancel) -> Result<()> {
    let expected = expected_checksum(dir, found)?;
    let completeness = engine::file_completeness(cfg, &found.name.kind).ok_or_else(|| {
            Error::file(
                dir.location(&found.file_name),
                format!(
                    "is a .{} backup, which the configured engine cannot check; set DB_TYPE to the engine that made it",
                    found.name.kind
                ),
            )
        })?;
    let mut checker = Checker::start(completeness, cancel)?;
    let file = dir.get(&found.file_name)?;
    let measured = pipeline::load(
        file,
        std::io::sink(),
        found.name.compression,
        found.name.encrypted.then_some(&cfg.keys),
        &mut |chunk| checker.feed(chunk),
        cancel,
    )
    .map_err(|e| {
        Error::file(
            dir.location(&found.file_name),
            format!("cannot be read, decrypted or decompressed: {e}"),
        )
    })?;
    check_digest(dir, found, &expected, &measured.sha256)?;
    checker.finish(&found.file_name)
}
