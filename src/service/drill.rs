//! `BACKUP_TEST_RESTORE=true`: after each successful scheduled run, every backup it made is drilled (restored
//! into a scratch target and checked, see [`crate::drill`]) before the service looks at its schedule again. The
//! outcome goes into the service state (health, metrics) and beside the backup (its manifest, for `list`); a
//! failed drill is logged with its reason and notified like a failed backup.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::notify::Notifier;
use super::state::{BackupFile, DrillRun, State};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{Error, Kind, Result};
use crate::{drill, jobs, storage};

/// How long a drill has to stop after a stop signal before its tools are killed.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Drills each of `backups`; a stop signal ends the drill in progress (it removes its scratch target). Each
/// drill takes the run lock in `BACKUP_DIR`, which the run released when its backup task ended; when another
/// process holds it (a `backup-db` or `prune` by hand), the drill waits for it up to `lock_wait`, as a
/// scheduled run does, and then counts as failed with the lock's message.
pub async fn after_run(
    cfg: &Arc<Config>,
    backups: &[BackupFile],
    lock_wait: Duration,
    shutdown: &Cancel,
    notifier: &Notifier,
    state: &Mutex<State>,
    state_path: &Path,
) {
    let lock_deadline = Instant::now() + lock_wait;
    let mut waiting = false;
    for backup in backups {
        let joined = loop {
            if shutdown.is_cancelled() {
                return;
            }
            let joined = drill_task(cfg, &backup.file, shutdown).await;
            let busy = matches!(&joined, Ok(Ok(Err(e))) if e.kind() == Kind::LockBusy);
            if !busy || Instant::now() >= lock_deadline {
                break joined;
            }
            if !waiting {
                tracing::warn!(
                    "another backup, prune or drill holds the lock in BACKUP_DIR: the drill waits for it"
                );
                waiting = true;
            }
            if !shutdown.sleep(super::run::LOCK_POLL).await {
                return;
            }
        };
        let outcome = match joined {
            Ok(Ok(Ok(outcome))) if outcome.skipped => continue,
            Ok(Ok(Ok(outcome))) => outcome,
            Ok(Ok(Err(Error::Cancelled(_)))) => return,
            Ok(Ok(Err(e))) => drill::Outcome {
                file: backup.file.clone(),
                passed: false,
                skipped: false,
                summary: e.to_string(),
            },
            Ok(Err(e)) => drill::Outcome {
                file: backup.file.clone(),
                passed: false,
                skipped: false,
                summary: e.to_string(),
            },
            Err(e) => drill::Outcome {
                file: backup.file.clone(),
                passed: false,
                skipped: false,
                summary: format!("the drill task failed: {e}"),
            },
        };
        let run = DrillRun {
            at: Utc::now(),
            file: outcome.file,
            passed: outcome.passed,
            summary: outcome.summary,
        };
        if !run.passed {
            notifier.drill_failed(&run);
        }
        super::update(state, state_path, |s| s.record_drill(run));
    }
}

type Joined = std::result::Result<Result<Result<drill::Outcome>>, tokio::task::JoinError>;

/// One drill of `file` on a blocking thread; a stop signal cancels it, and kills its tools after a grace.
async fn drill_task(cfg: &Arc<Config>, file: &str, shutdown: &Cancel) -> Joined {
    let cancel = Cancel::new();
    let (job_cfg, job_cancel, file) = (cfg.clone(), cancel.clone(), file.to_string());
    let mut task = tokio::spawn(jobs::blocking("drill task", move || {
        drill_file(&job_cfg, &file, &job_cancel)
    }));
    tokio::select! {
        r = &mut task => r,
        _ = shutdown.cancelled() => {
            cancel.cancel();
            tokio::time::sleep(STOP_GRACE).await;
            cancel.kill_tools();
            task.await
        }
    }
}

/// Drills the backup `file` from the first destination that holds it (the local directory first).
fn drill_file(cfg: &Config, file: &str, cancel: &Cancel) -> Result<drill::Outcome> {
    let mut last = None;
    for dest in storage::destinations(cfg) {
        match dest.list() {
            Ok(entries) if entries.iter().any(|e| e.name == file) => {
                return drill::run_file(cfg, dest, file, cancel);
            }
            Ok(_) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::Other(format!(
            "{file} is in no destination any more: it cannot be drilled"
        ))
    }))
}
