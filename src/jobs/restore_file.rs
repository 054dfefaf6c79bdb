//! `restore --to-file PATH`: write a backup's plain (decompressed) dump to a file instead of into a server, for
//! a file-based restore (a Redis `dump.rdb`, a SQL file to inspect). The file appears under its name only once
//! the checksum and the completeness check have passed, so a damaged backup never leaves a plausible file.

use std::path::Path;

use super::series::Found;
use super::verify::{check_digest, expected_checksum};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::engine::{self, Checker};
use crate::error::{Error, Result};
use crate::pipeline;
use crate::storage::Storage;
use crate::storage::atomic::{AtomicFile, Temp};
use std::sync::Arc;

/// Writes the one backup in `chosen` to `path`; returns the line to print.
pub fn run(
    cfg: &Config,
    chosen: Vec<(Arc<dyn Storage>, Found)>,
    path: &Path,
    no_verify: bool,
    cancel: &Cancel,
) -> Result<String> {
    let [(dir, found)]: [(Arc<dyn Storage>, Found); 1] = chosen.try_into().map_err(|_| {
        Error::Usage(
            "--to-file needs a single backup, but several series were chosen; name one file".into(),
        )
    })?;
    let expected = if no_verify {
        None
    } else {
        Some(expected_checksum(dir.as_ref(), &found)?)
    };
    path.file_name()
        .ok_or_else(|| Error::Usage(format!("--to-file {}: not a file name", path.display())))?;
    // Beside the destination, so that the final rename cannot cross file systems; 0600 like every backup.
    let mut out = AtomicFile::create(path, Temp::Unique)?;
    let mut checker = engine::file_completeness(cfg, &found.name.kind)
        .map(|c| Checker::start(c, cancel))
        .transpose()?;
    let source = dir.location(&found.file_name);
    let measured = pipeline::load(
        dir.get(&found.file_name)?,
        &mut out,
        found.name.compression,
        found.name.encrypted.then_some(&cfg.pipeline.keys),
        &cfg.budget,
        &mut |chunk| match checker.as_mut() {
            Some(checker) => checker.feed(chunk),
            None => Ok(()),
        },
        cancel,
    )
    .map_err(|e| Error::file(&source, format!("cannot be read or written out: {e}")))?;
    out.flush_to_disk()?;
    if let Some(expected) = expected {
        check_digest(dir.as_ref(), &found, &expected, &measured.sha256)?;
    }
    if let Some(checker) = checker {
        checker.finish(&found.file_name)?;
    }
    out.commit()?;
    tracing::info!(file = %found.file_name, to = %path.display(), bytes = measured.plain_bytes, "backup written to a file");
    Ok(format!(
        "wrote {} ({} bytes, decompressed) to {}",
        found.file_name,
        measured.plain_bytes,
        path.display()
    ))
}
