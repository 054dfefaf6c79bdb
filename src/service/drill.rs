//! `BACKUP_TEST_RESTORE=true`: after each successful scheduled run, every backup it made is drilled (restored
//! into a scratch target and checked, see [`crate::drill`]) before the service looks at its schedule again. The
//! outcome goes into the service state (health, metrics) and beside the backup (its manifest, for `list`); a
//! failed drill is logged with its reason and notified like a failed backup.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use super::notify::Notifier;
use super::state::{BackupFile, DrillRun, State};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::{drill, jobs, storage};

/// How long a drill has to stop after a stop signal before its tools are killed.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// Drills each of `backups`; a stop signal ends the drill in progress (it removes its scratch target).
pub async fn after_run(
    cfg: &Arc<Config>,
    backups: &[BackupFile],
    shutdown: &Cancel,
    notifier: &Notifier,
    state: &Mutex<State>,
    state_path: &Path,
) {
    for backup in backups {
        if shutdown.is_cancelled() {
            return;
        }
        let cancel = Cancel::new();
        let (job_cfg, job_cancel, file) = (cfg.clone(), cancel.clone(), backup.file.clone());
        let mut task = tokio::spawn(jobs::blocking("drill task", move || {
            drill_file(&job_cfg, &file, &job_cancel)
        }));
        let joined = tokio::select! {
            r = &mut task => r,
            _ = shutdown.cancelled() => {
                cancel.cancel();
                tokio::time::sleep(STOP_GRACE).await;
                cancel.kill_tools();
                task.await
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
