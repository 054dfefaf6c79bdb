//! `verify`: re-read backups and check the checksum, the whole decompression and the completeness marker.

use super::series::{self, Found};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::engine::{self, Checker};
use crate::error::{Error, Result};
use crate::pipeline;
use crate::storage::{Storage, parse_checksum};
use std::sync::Arc;

/// What `verify` found: the result per file (remote ones as `<destination>:<name>`), and how many backups of
/// other series `all` left alone.
pub struct Report {
    pub results: Vec<(String, Result<()>)>,
    pub skipped: usize,
}

/// Verifies the backups `spec` names (`latest`, `all`, a name or a path) in every destination, or in the one
/// `from` names. `all` means every backup of this configuration's series: a shared directory also holds other
/// sidecars' backups, of engines this configuration cannot check; those are counted, not verified. `cancel`
/// stops the reading.
pub fn run(cfg: &Config, spec: &str, from: Option<&str>, cancel: &Cancel) -> Result<Report> {
    let mut skipped = 0;
    let chosen: Vec<(Arc<dyn Storage>, Found)> = if spec == "all" {
        let mut chosen = Vec::new();
        for dest in series::sources(cfg, from, cancel)? {
            let (ours, others): (Vec<Found>, Vec<Found>) = series::backups(cfg, &dest.list()?)
                .into_iter()
                .partition(|f| series::is_ours(cfg, &f.name.series));
            skipped += others.len();
            chosen.extend(ours.into_iter().map(|f| (Arc::clone(&dest), f)));
        }
        if chosen.is_empty() {
            let others = match skipped {
                0 => String::new(),
                n => format!(
                    "; {n} backup(s) of other series are there, to be verified with the configuration \
                     that made them"
                ),
            };
            return Err(Error::file(
                &cfg.destinations.backup_dir,
                format!(
                    "holds no backups of series {} to verify (nor does any other destination){others}",
                    cfg.naming.container
                ),
            ));
        }
        chosen
    } else {
        series::resolve(cfg, spec, from, cancel)?
    };
    let results = chosen
        .into_iter()
        .map(|(dir, found)| {
            let result = verify_one(cfg, dir.as_ref(), &found, cancel);
            (dir.label(&found.file_name), result)
        })
        .collect();
    Ok(Report { results, skipped })
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
        found.name.encrypted.then_some(&cfg.pipeline.keys),
        &cfg.budget,
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
