//! `backup-db`: dump every configured database through the pipeline into the backup directory, commit each
//! backup only when it is complete, then apply retention.

use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};

use super::{latest, prune, series};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::drill;
use crate::engine::{self, Checker, DumpTarget, Engine};
use crate::error::{Error, Kind, Result};
use crate::hooks;
use crate::naming::BackupName;
use crate::pipeline;
use crate::storage::{self, LocalDir, ScratchDir, Storage, Tee, checksum_line};
use std::sync::Arc;

/// One committed backup.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file_name: String,
    pub series: String,
    pub stored_bytes: u64,
    pub plain_bytes: u64,
    pub duration: Duration,
    /// Where the backup was committed (`local`, `s3`, ...).
    pub destinations: Vec<String>,
}

/// Runs one backup of everything configured, between `BACKUP_PRE_CMD` and `BACKUP_POST_CMD`. Pruning follows only
/// when every target succeeded. `cancel` stops it: the dump is stopped, its temporary file removed.
pub fn run(cfg: &Config, cancel: &Cancel) -> Result<Vec<Outcome>> {
    engine::check_settings(cfg)?;
    let scratch = ScratchDir::of(cfg);
    scratch.check()?;
    let _lock = scratch.lock()?;
    let work = || dump_all(cfg, &scratch, cancel);
    hooks::around(cfg, hooks::Job::Backup, cancel, vec![], work, |o| {
        hooks::made_by_backup(o)
    })
}

/// Dumps every target and applies retention, under the run lock and between the hooks.
fn dump_all(cfg: &Config, scratch: &ScratchDir, cancel: &Cancel) -> Result<Vec<Outcome>> {
    scratch.sweep(&series::ours(cfg))?;
    let dir = LocalDir::new(scratch.path());
    let Destinations {
        usable: dests,
        left_out,
    } = usable_destinations(cfg, cancel)?;

    tracing::info!(engine = cfg.conn.kind.name(), reason = %cfg.conn.reason, "engine chosen");
    let engine = engine::connect(cfg, None, cancel)?;
    let targets = engine.targets()?;

    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for target in targets {
        match backup_one(cfg, engine.as_ref(), &dir, &dests, &target, cancel) {
            Ok(outcome) => {
                tracing::info!(
                    engine = engine.name(),
                    target = %engine.target_label(&target),
                    file = %outcome.file_name,
                    size = outcome.stored_bytes,
                    destinations = %outcome.destinations.join(","),
                    dump_size = outcome.plain_bytes,
                    duration_ms = outcome.duration.as_millis() as u64,
                    "backup complete"
                );
                outcomes.push(outcome);
            }
            Err(e) => {
                tracing::error!(engine = engine.name(), target = %engine.target_label(&target), error = %e, "backup failed");
                failures.push((engine.target_label(&target), e));
            }
        }
        if cancel.is_cancelled() {
            break;
        }
    }
    if let Some((target, first)) = failures.into_iter().next() {
        tracing::warn!("retention skipped because a backup failed");
        return Err(match first {
            Error::Config(_) | Error::Usage(_) => first,
            other => Error::Target {
                target,
                cause: Box::new(other),
            },
        });
    }
    if cancel.is_cancelled() {
        return Err(Error::Cancelled(
            "the backup was stopped by a signal".into(),
        ));
    }
    if !left_out.is_empty() {
        tracing::warn!("retention skipped because a destination could not be used");
        let said: Vec<String> = left_out.iter().map(|(d, e)| format!("{d}: {e}")).collect();
        let made: Vec<&str> = outcomes.iter().map(|o| o.file_name.as_str()).collect();
        let kept: Vec<&str> = dests.iter().map(|d| d.name()).collect();
        return Err(Error::Partial(format!(
            "{}; the backup went to the other destinations ({}): {}",
            said.join("; "),
            kept.join(", "),
            made.join(", ")
        )));
    }
    let series: Vec<String> = outcomes.iter().map(|o| o.series.clone()).collect();
    for dest in &dests {
        prune::apply(cfg, dest.as_ref(), Some(&series))?;
    }
    Ok(outcomes)
}

/// Where this run writes, and the destinations left out with the reason for each.
struct Destinations {
    usable: Vec<Arc<dyn Storage>>,
    left_out: Vec<(String, Error)>,
}

/// The destinations this run writes to, and those left out because they cannot be reached or refuse us (after
/// the store's own retries). A backup in the others is better than none: the run goes on and fails at the end.
/// When every destination is left out, the first one's error ends the run before the dump. (The local directory
/// was checked and swept as the scratch area; it is checked again here, which costs one probe file.)
fn usable_destinations(cfg: &Config, cancel: &Cancel) -> Result<Destinations> {
    let mut usable = Vec::new();
    let mut left_out = Vec::new();
    let ours = series::ours(cfg);
    for dest in storage::destinations_under(cfg, cancel) {
        match dest.check().and_then(|()| dest.sweep(&ours).map(drop)) {
            Ok(()) => usable.push(dest),
            Err(e) => {
                tracing::error!(destination = dest.name(), error = %e, "this destination cannot be used; the backup goes to the others");
                left_out.push((dest.name().to_string(), e));
            }
        }
    }
    if usable.is_empty() && !left_out.is_empty() {
        return Err(left_out.swap_remove(0).1);
    }
    Ok(Destinations { usable, left_out })
}

/// Dumps one target into every destination at once (a temporary file, multipart uploads), checks it, and
/// commits each copy with its checksum. One destination failing fails the backup; the copies that succeeded stay.
fn backup_one(
    cfg: &Config,
    engine: &dyn Engine,
    dir: &LocalDir,
    dests: &[Arc<dyn Storage>],
    target: &DumpTarget,
    cancel: &Cancel,
) -> Result<Outcome> {
    let started = Instant::now();
    let name = fresh_name(cfg, dir, target);
    let file_name = name.file_name();
    let label = engine.target_label(target);
    tracing::info!(target = %label, file = %file_name, "backup started");

    let mut tee = Tee::new();
    for dest in dests {
        tee.add(dest.name(), dest.put(&file_name));
    }
    let mut checker = Checker::start(engine.completeness(target), cancel)?;
    let mut rows =
        drill::RowCounter::for_dump(engine.name(), &target.kind, target.database.is_none());
    let mut dump = engine.dump(target)?;

    let streamed = pipeline::store(
        &mut dump,
        &mut tee,
        cfg.pipeline.compression,
        cfg.pipeline.compression_level,
        cfg.pipeline.encryption.as_ref(),
        &cfg.budget,
        &mut |chunk| {
            if let Some(rows) = rows.as_mut() {
                rows.feed(chunk);
            }
            checker.feed(chunk)
        },
        cancel,
    );
    let measured = match streamed {
        Ok((_, measured)) => measured,
        Err(e) => {
            let said = dump.abort();
            let mut message = format!("writing the backup failed: {e}");
            if !said.is_empty() {
                message.push_str(&format!(" (the dump said: {said})"));
            }
            // The cause's kind: a stop, or what every destination failed with (a full local disk).
            let kind = if cancel.is_cancelled() {
                Kind::Cancelled
            } else {
                tee.failure_kind().unwrap_or(Kind::Other)
            };
            return Err(Error::Write {
                path: dir.file_path(&file_name),
                kind,
                message,
            });
        }
    };
    dump.finish()?;
    checker.finish(&label)?;
    if measured.plain_bytes == 0 {
        return Err(Error::Incomplete {
            database: label,
            message: "the dump is empty".into(),
        });
    }
    // The manifest goes before the commit, so a committed backup has one; one left by a failed commit is swept.
    // A dump whose rows cannot be read as it streams gets none (a drill of it says so).
    let manifest = rows.map(|r| drill::Manifest::new(Some(r.finish())));
    // Only where the backup is still being written: a destination already dropped would only cost retries.
    for dest in dests
        .iter()
        .filter(|d| manifest.is_some() && tee.is_live(d.name()))
    {
        let Some(manifest) = &manifest else { break };
        if let Err(e) = manifest.write(dest.as_ref(), &file_name) {
            tracing::warn!(destination = dest.name(), file = %file_name, error = %e, "the manifest could not be written; a restore drill of this backup gets the weaker check");
        }
    }
    let line = checksum_line(&measured.sha256, &file_name);
    let (done, failed) = tee.commit(&name.checksum_file_name(), &line, measured.stored_bytes);
    if !failed.is_empty() {
        for (dest, error) in &failed {
            tracing::error!(destination = %dest, file = %file_name, error = %error, "this copy failed");
        }
        let said: Vec<String> = failed.iter().map(|(d, e)| format!("{d}: {e}")).collect();
        let kept = if done.is_empty() {
            "no copy was made".to_string()
        } else {
            format!("the copies in {} are complete and stay", done.join(", "))
        };
        let message = format!(
            "{file_name} could not be stored in every destination ({}); {kept}",
            said.join("; ")
        );
        // When no copy was made and every destination failed the same way, the error keeps that kind.
        let kind = Error::common_kind(failed.iter().map(|(_, e)| e));
        return Err(match kind {
            _ if !done.is_empty() => Error::Partial(message),
            Some(kind) if kind != Kind::Other => Error::Write {
                path: dir.file_path(&file_name),
                kind,
                message,
            },
            _ => Error::Other(message),
        });
    }
    // Committed everywhere: only now does each destination's latest link move to it.
    for dest in dests {
        latest::point(dest.as_ref(), &name);
    }
    Ok(Outcome {
        file_name,
        series: target.series.clone(),
        stored_bytes: measured.stored_bytes,
        plain_bytes: measured.plain_bytes,
        duration: started.elapsed(),
        destinations: done,
    })
}

/// A name for a new backup that no existing file has (two runs within one second get different names).
fn fresh_name(cfg: &Config, dir: &LocalDir, target: &DumpTarget) -> BackupName {
    let mut time = Utc::now()
        .with_timezone(&cfg.naming.tz)
        .naive_local()
        .trunc_subsecs(0);
    loop {
        let name = BackupName {
            prefix: cfg.naming.prefix.clone(),
            series: target.series.clone(),
            time,
            kind: target.kind.clone(),
            compression: cfg.pipeline.compression,
            encrypted: cfg.pipeline.encryption.is_some(),
        };
        if !dir.exists(&name.file_name()) && !dir.exists(&name.checksum_file_name()) {
            return name;
        }
        time += chrono::Duration::seconds(1);
    }
}
