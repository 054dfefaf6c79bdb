//! `backup-db`: dump every configured database through the pipeline into the backup directory, commit each
//! backup only when it is complete, then apply retention.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};

use super::{CANCEL, Checker, prune, series};
use crate::config::Config;
use crate::engine::{self, DumpTarget, Engine};
use crate::error::{Error, Result};
use crate::naming::BackupName;
use crate::pipeline;
use crate::storage::{LocalDir, RunLock, checksum_line};

/// One committed backup.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file_name: String,
    pub series: String,
    pub stored_bytes: u64,
    pub plain_bytes: u64,
    pub duration: Duration,
}

/// Runs one backup of everything configured. Pruning follows only when every target succeeded.
pub async fn run(cfg: &Config) -> Result<Vec<Outcome>> {
    let cfg = cfg.clone();
    tokio::task::spawn_blocking(move || run_blocking(&cfg))
        .await
        .map_err(|e| Error::Other(format!("the backup task failed: {e}")))?
}

fn run_blocking(cfg: &Config) -> Result<Vec<Outcome>> {
    let dir = LocalDir::new(&cfg.backup_dir);
    dir.check_writable()?;
    let _lock = RunLock::try_acquire(dir.path())?;
    series::sweep(cfg, &dir)?;

    tracing::info!(engine = cfg.engine.name(), reason = %cfg.engine_reason, "engine chosen");
    let engine = engine::connect(cfg, None)?;
    let targets = engine.targets()?;

    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for target in targets {
        match backup_one(cfg, engine.as_ref(), &dir, &target) {
            Ok(outcome) => {
                tracing::info!(
                    engine = engine.name(),
                    target = %target.label(),
                    file = %outcome.file_name,
                    size = outcome.stored_bytes,
                    dump_size = outcome.plain_bytes,
                    duration_ms = outcome.duration.as_millis() as u64,
                    "backup complete"
                );
                outcomes.push(outcome);
            }
            Err(e) => {
                tracing::error!(engine = engine.name(), target = %target.label(), error = %e, "backup failed");
                failures.push((target, e));
            }
        }
        if CANCEL.load(Ordering::Relaxed) {
            break;
        }
    }
    if let Some((target, first)) = failures.into_iter().next() {
        tracing::warn!("retention skipped because a backup failed");
        return Err(match first {
            Error::Config(_) | Error::Usage(_) => first,
            other => Error::Other(format!("backup of {} failed: {other}", target.label())),
        });
    }
    if CANCEL.load(Ordering::Relaxed) {
        return Err(Error::Other("the backup was stopped by a signal".into()));
    }
    let series: Vec<String> = outcomes.iter().map(|o| o.series.clone()).collect();
    prune::apply(cfg, &dir, Some(&series), false)?;
    Ok(outcomes)
}

/// Dumps one target into a temporary file, checks it, and commits it with its checksum.
fn backup_one(
    cfg: &Config,
    engine: &dyn Engine,
    dir: &LocalDir,
    target: &DumpTarget,
) -> Result<Outcome> {
    let started = Instant::now();
    let name = fresh_name(cfg, dir, target);
    let file_name = name.file_name();
    tracing::info!(target = %target.label(), file = %file_name, "backup started");

    let mut pending = dir.create_pending(&file_name)?;
    let mut checker = Checker::start(engine.completeness(target))?;
    let mut dump = engine.dump(target)?;

    let streamed = pipeline::store(
        &mut dump,
        &mut pending,
        cfg.compression,
        cfg.compression_level,
        &mut |chunk| checker.feed(chunk),
        &CANCEL,
    );
    let measured = match streamed {
        Ok((_, measured)) => measured,
        Err(e) => {
            let said = dump.abort();
            let path = pending.temp_path().to_path_buf();
            let mut message = format!("writing the backup failed: {e}");
            if !said.is_empty() {
                message.push_str(&format!(" (the dump said: {said})"));
            }
            return Err(Error::Io {
                path,
                source: std::io::Error::new(e.kind(), message),
            });
        }
    };
    dump.finish()?;
    checker.finish(&target.label())?;
    if measured.plain_bytes == 0 {
        return Err(Error::Incomplete {
            database: target.label(),
            message: "the dump is empty".into(),
        });
    }
    pending.flush_to_disk()?;
    // The checksum goes first: a backup under its final name always has one. A checksum left without its
    // backup by a crash is swept at the next run.
    dir.write_small(
        &name.checksum_file_name(),
        checksum_line(&measured.sha256, &file_name).as_bytes(),
    )?;
    pending.commit()?;
    Ok(Outcome {
        file_name,
        series: target.series.clone(),
        stored_bytes: measured.stored_bytes,
        plain_bytes: measured.plain_bytes,
        duration: started.elapsed(),
    })
}

/// A name for a new backup that no existing file has (two runs within one second get different names).
fn fresh_name(cfg: &Config, dir: &LocalDir, target: &DumpTarget) -> BackupName {
    let mut time = Utc::now()
        .with_timezone(&cfg.tz)
        .naive_local()
        .trunc_subsecs(0);
    loop {
        let name = BackupName {
            prefix: cfg.prefix.clone(),
            series: target.series.clone(),
            time,
            kind: target.kind.clone(),
            compression: cfg.compression,
            encrypted: false,
        };
        if !dir.exists(&name.file_name()) && !dir.exists(&name.checksum_file_name()) {
            return name;
        }
        time += chrono::Duration::seconds(1);
    }
}
