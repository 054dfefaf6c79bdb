//! Restore drills: a backup proven by restoring it into a scratch target and checking what arrived against
//! what the dump held, then removing the scratch target (also when the drill fails).
//!
//! - [`counter`] reads per-table row counts from a dump stream while it is backed up; [`manifest`] keeps them
//!   beside the backup, with the outcome of its last drill.
//! - [`target`] restores into a scratch target per engine and reads back what it holds (a custom-format
//!   archive's rows are counted in the archive at drill time); [`check`] compares.
//! - A drill holds the run lock in `BACKUP_DIR`, so nothing deletes the backup it drills and the scratch
//!   databases a killed drill left can be dropped at the start of the next.
//!
//! `db-backup test-restore [latest|FILE]` runs [`run`]; with `BACKUP_TEST_RESTORE=true` the service drills each
//! new backup after a scheduled run.

pub mod check;
mod counter;
mod manifest;
mod target;

pub use check::compare;
pub use counter::RowCounter;
pub use manifest::{DrillRecord, Manifest};

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;

use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::jobs::series::{self, Found};
use crate::jobs::verify::{check_digest, expected_checksum};
use crate::pipeline::read_through;
use crate::storage::{RunLock, ScratchDir, Storage};

/// The outcome of one backup's drill.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The backup, as `list` names it among destinations.
    pub file: String,
    pub passed: bool,
    /// Not drilled at all (server-wide data), so nothing was recorded; `passed` is true.
    pub skipped: bool,
    /// What was checked (passed) or what was wrong (failed).
    pub summary: String,
}

/// Drills what `spec` names (`latest`: the newest complete backup of each series; or a file); each outcome is
/// recorded in the backup's manifest. Fails only when no drill could start (nothing to drill, a bad setting).
pub fn run(cfg: &Config, spec: &str, cancel: &Cancel) -> Result<Vec<Outcome>> {
    let _lock = lock(cfg)?;
    let chosen = series::resolve(cfg, spec, None, cancel)?;
    let mut out = Vec::new();
    for (dir, found) in chosen {
        out.push(drill_one(cfg, dir, &found, cancel)?);
        if cancel.is_cancelled() {
            return Err(Error::Cancelled("the drill was stopped by a signal".into()));
        }
    }
    Ok(out)
}

/// Drills the backup `file_name` of `dir` (the service, after a backup).
pub fn run_file(
    cfg: &Config,
    dir: Arc<dyn Storage>,
    file_name: &str,
    cancel: &Cancel,
) -> Result<Outcome> {
    let _lock = lock(cfg)?;
    let found = series::backups(cfg, &dir.list()?)
        .into_iter()
        .find(|f| f.file_name == file_name)
        .ok_or_else(|| Error::file(dir.location(file_name), "is gone: it cannot be drilled"))?;
    drill_one(cfg, dir, &found, cancel)
}

/// Takes the run lock in `BACKUP_DIR` for the whole drill, as a backup and a prune do: no prune or retention
/// deletes the backup being drilled, and no other drill of this directory runs at the same time (which is what
/// lets a drill drop every scratch database a killed one left, see [`target`]). A held lock fails at once
/// with the same "another backup is running" error as `backup-db`.
fn lock(cfg: &Config) -> Result<RunLock> {
    let scratch = ScratchDir::of(cfg);
    scratch.check()?;
    scratch.lock()
}

/// Drills one backup and records the outcome beside it.
fn drill_one(
    cfg: &Config,
    dir: Arc<dyn Storage>,
    found: &Found,
    cancel: &Cancel,
) -> Result<Outcome> {
    let label = dir.label(&found.file_name);
    let database = crate::jobs::restore::target_database(cfg, found, None);
    if cfg.conn.kind.has_databases() && database.is_none() {
        return Ok(Outcome {
            file: label,
            passed: true,
            skipped: true,
            summary: "server-wide data (roles, users) is not drilled on its own: it is restored onto a scratch \
                      server by hand, and its roles are what a database's drill needs there"
                .into(),
        });
    }
    tracing::info!(file = %label, "restore drill started");
    let started = std::time::Instant::now();
    // A bad setting or a stop is not the backup's failure: it is not recorded against it.
    let (passed, summary) = match drill(cfg, dir.as_ref(), found, cancel) {
        Ok(summary) => (true, summary),
        Err(e @ (Error::Config(_) | Error::Usage(_) | Error::Cancelled(_))) => return Err(e),
        Err(e) => (false, e.to_string()),
    };
    let duration_ms = started.elapsed().as_millis() as u64;
    if passed {
        tracing::info!(file = %label, duration_ms, summary = %summary, "restore drill passed");
    } else {
        tracing::error!(file = %label, duration_ms, reason = %summary, "restore drill failed");
    }
    let record = DrillRecord {
        at: Utc::now(),
        passed,
        summary: summary.clone(),
    };
    let mut manifest = Manifest::read(dir.as_ref(), &found.file_name)
        .ok()
        .flatten()
        .unwrap_or_else(|| Manifest::new(None));
    manifest.drill = Some(record);
    if let Err(e) = manifest.write(dir.as_ref(), &found.file_name) {
        tracing::warn!(file = %label, error = %e, "the drill's outcome could not be recorded beside the backup");
    }
    Ok(Outcome {
        file: label,
        passed,
        skipped: false,
        summary,
    })
}

/// Checks the checksum, restores into a scratch target, compares; the summary of what was checked.
fn drill(cfg: &Config, dir: &dyn Storage, found: &Found, cancel: &Cancel) -> Result<String> {
    crate::jobs::restore::check_kind(cfg, dir, found)?;
    let (source, _spool) = match dir.local_path(&found.file_name) {
        Some(path) => (path, None),
        None => {
            let spool = crate::jobs::restore::spool(cfg, dir, found)?;
            (spool.to_path_buf(), Some(spool))
        }
    };
    let keys = found.name.encrypted.then_some(&cfg.pipeline.keys);
    let location = dir.location(&found.file_name);
    if found.has_checksum {
        let expected = expected_checksum(dir, found)?;
        let file = std::fs::File::open(&source).map_err(|e| Error::io(&source, e))?;
        let (actual, _) = read_through(std::io::BufReader::with_capacity(1 << 20, file), keys)
            .map_err(|e| Error::file(&location, e.to_string()))?;
        check_digest(dir, found, &expected, &actual)?;
    }
    let manifest = Manifest::read(dir, &found.file_name)?;
    let compression = found.name.compression;
    let path: PathBuf = source.clone();
    let open = crate::jobs::restore::opener(cfg, &path, compression, keys);
    let database = crate::jobs::restore::target_database(cfg, found, None);
    let rows = manifest.as_ref().and_then(|m| m.rows.as_ref());
    let mut summary =
        target::restore_and_check(cfg, found, database.as_deref(), rows, &open, cancel).map_err(
            |e| match e {
                Error::Other(m) => Error::file(&location, m),
                other => other,
            },
        )?;
    if !found.has_checksum {
        summary.push_str(
            "; no checksum file, so the bytes were not compared with the backup's SHA-256",
        );
    }
    Ok(summary)
}
