//! `prune`: apply the retention policy to this configuration's series and delete (or, dry, report) the rest.

use chrono::Utc;

use super::series;
use crate::config::Config;
use crate::error::Result;
use crate::naming;
use crate::retention::{self, Action, Candidate, Decision};
use crate::storage::{self, DryRun, ScratchDir, Storage};
use std::sync::Arc;

/// The `prune` command over every destination: takes the run lock, so it never races a backup. Each decision
/// comes with the destination it is about. A dry run takes no lock, sweeps nothing, and sees every destination
/// through [`DryRun`], which deletes nothing.
pub fn run(cfg: &Config, dry_run: bool) -> Result<Vec<(String, Decision)>> {
    let scratch = ScratchDir::of(cfg);
    let ours = series::ours(cfg);
    let _lock = if dry_run {
        None
    } else {
        scratch.check()?;
        let lock = scratch.lock()?;
        scratch.sweep(&ours)?;
        Some(lock)
    };
    let mut out = Vec::new();
    for dest in storage::destinations(cfg) {
        let dest: Arc<dyn Storage> = if dry_run {
            Arc::new(DryRun(dest))
        } else {
            dest.sweep(&ours)?;
            dest
        };
        let name = dest.name().to_string();
        out.extend(
            apply(cfg, dest.as_ref(), None)?
                .into_iter()
                .map(|d| (name.clone(), d)),
        );
    }
    Ok(out)
}

/// Decides and deletes (a [`DryRun`] only reports). `only` limits pruning to these series (after a backup);
/// otherwise every series of this configuration is considered.
pub fn apply(cfg: &Config, dir: &dyn Storage, only: Option<&[String]>) -> Result<Vec<Decision>> {
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
    let decisions = retention::plan(
        &candidates,
        cfg.destinations.retention,
        cfg.naming.tz,
        Utc::now(),
    );
    for d in &decisions {
        if d.action == Action::Keep {
            tracing::debug!(destination = dir.name(), file = %d.file_name, reason = %d.reason, "keep");
            continue;
        }
        dir.delete(&d.file_name)?;
        for side in naming::side_files_of(&d.file_name) {
            dir.delete(&side)?;
        }
        if dir.is_dry_run() {
            tracing::info!(destination = dir.name(), file = %d.file_name, reason = %d.reason, "would delete (dry run)");
        } else {
            tracing::info!(destination = dir.name(), file = %d.file_name, reason = %d.reason, "deleted by retention");
        }
    }
    if decisions.iter().any(|d| d.action == Action::Delete) {
        dir.sync()?;
        super::latest::after_prune(cfg, dir, &candidates, &decisions)?;
    }
    Ok(decisions)
}
