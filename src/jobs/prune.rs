//! `prune`: apply the retention policy to this configuration's series and delete (or, dry, report) the rest.

use chrono::Utc;

use super::series;
use crate::config::Config;
use crate::error::Result;
use crate::naming;
use crate::retention::{self, Action, Candidate, Decision};
use crate::storage::{self, LocalDir, RunLock, Storage};

/// The `prune` command over every destination: takes the run lock, so it never races a backup. Each decision
/// comes with the destination it is about.
pub fn run(cfg: &Config, dry_run: bool) -> Result<Vec<(String, Decision)>> {
    let dir = LocalDir::new(&cfg.destinations.backup_dir);
    let _lock = if dry_run {
        None
    } else {
        dir.check_writable()?;
        Some(RunLock::try_acquire(dir.path())?)
    };
    if !dry_run {
        series::sweep(cfg, &dir)?;
    }
    let mut out = Vec::new();
    for dest in storage::destinations(cfg) {
        if !dry_run && dest.as_local().is_none() {
            series::sweep_remote(cfg, dest.as_ref())?;
        }
        let name = dest.name().to_string();
        out.extend(
            apply(cfg, dest.as_ref(), None, dry_run)?
                .into_iter()
                .map(|d| (name.clone(), d)),
        );
    }
    Ok(out)
}

/// Decides and (unless `dry_run`) deletes. `only` limits pruning to these series (after a backup); otherwise
/// every series of this configuration is considered.
pub fn apply(
    cfg: &Config,
    dir: &dyn Storage,
    only: Option<&[String]>,
    dry_run: bool,
) -> Result<Vec<Decision>> {
    let entries = dir.list()?;
    let candidates: Vec<Candidate> = series::backups(cfg, &entries)
        .into_iter()
        .filter(|f| series::is_ours(cfg, &f.name.series))
        .filter(|f| only.is_none_or(|s| s.contains(&f.name.series)))
        .map(|f| Candidate {
            file_name: f.file_name,
            series: f.name.series,
            taken_at: f.taken_at,
            complete: f.has_checksum,
        })
        .collect();
    let decisions = retention::plan(&candidates, cfg.destinations.retention, Utc::now());
    for d in &decisions {
        match (d.action, dry_run) {
            (Action::Keep, _) => {
                tracing::debug!(destination = dir.name(), file = %d.file_name, reason = %d.reason, "keep")
            }
            (Action::Delete, true) => {
                tracing::info!(destination = dir.name(), file = %d.file_name, reason = %d.reason, "would delete (dry run)")
            }
            (Action::Delete, false) => {
                dir.delete(&d.file_name)?;
                dir.delete(&naming::checksum_name_of(&d.file_name))?;
                tracing::info!(destination = dir.name(), file = %d.file_name, reason = %d.reason, "deleted by retention");
            }
        }
    }
    if !dry_run && decisions.iter().any(|d| d.action == Action::Delete) {
        dir.sync()?;
    }
    Ok(decisions)
}
