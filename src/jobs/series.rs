//! Which backups in a directory belong to this configuration: parsing names, grouping by series, finding the
//! newest, sweeping leftovers of crashed runs.

use chrono::{DateTime, Utc};

use crate::config::{Config, Databases};
use crate::error::Result;
use crate::naming::BackupName;
use crate::storage::{Entry, LocalDir, PARTIAL_SUFFIX};

/// A backup file found in a directory.
#[derive(Debug, Clone)]
pub struct Found {
    pub name: BackupName,
    pub file_name: String,
    pub size: u64,
    pub taken_at: DateTime<Utc>,
    /// Its `.sha256` file exists.
    pub has_checksum: bool,
}

/// Whether `series` belongs to this configuration. With `DB_NAME=all` the database list is only known to the
/// server, so every `<container>-*` series counts.
pub fn is_ours(cfg: &Config, series: &str) -> bool {
    match &cfg.databases {
        Databases::One(_) | Databases::Server => series == cfg.container,
        Databases::List(names) => names.iter().any(|n| cfg.series_for(n) == series),
        Databases::All => series
            .strip_prefix(&cfg.container)
            .is_some_and(|rest| rest.starts_with('-')),
    }
}

/// Every backup of this prefix in `entries`, newest first (any series).
pub fn backups(cfg: &Config, entries: &[Entry]) -> Vec<Found> {
    let mut found: Vec<Found> = entries
        .iter()
        .filter_map(|e| {
            let name = BackupName::parse(&e.name, &cfg.prefix)?;
            let checksum = name.checksum_file_name();
            Some(Found {
                taken_at: name.taken_at(cfg.tz),
                has_checksum: entries.iter().any(|x| x.name == checksum),
                file_name: e.name.clone(),
                size: e.size,
                name,
            })
        })
        .collect();
    found.sort_by(|a, b| {
        b.taken_at
            .cmp(&a.taken_at)
            .then_with(|| b.file_name.cmp(&a.file_name))
    });
    found
}

/// Removes what crashed runs of this configuration left behind: temporary files and checksum files whose
/// backup never got its final name. Must only run while the run lock is held.
pub fn sweep(cfg: &Config, dir: &LocalDir) -> Result<usize> {
    let entries = dir.list()?;
    let mut removed = 0;
    for entry in &entries {
        let leftover = if let Some(inner) = entry
            .name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(PARTIAL_SUFFIX))
        {
            let inner = inner.strip_suffix(".sha256").unwrap_or(inner);
            BackupName::parse(inner, &cfg.prefix).is_some_and(|n| is_ours(cfg, &n.series))
        } else if let Some(data) = entry.name.strip_suffix(".sha256") {
            BackupName::parse(data, &cfg.prefix).is_some_and(|n| is_ours(cfg, &n.series))
                && !entries.iter().any(|x| x.name == data)
        } else {
            false
        };
        if leftover {
            tracing::info!(file = %entry.name, "removing a leftover of an interrupted backup");
            dir.delete(&entry.name)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The backups a command argument names: `latest` (the newest checksummed backup of each configured
/// series), or a file name in the backup directory, or a path to a backup file anywhere.
pub fn resolve(cfg: &Config, spec: &str) -> Result<Vec<(LocalDir, Found)>> {
    use crate::error::Error;
    if spec == "latest" {
        let dir = LocalDir::new(&cfg.backup_dir);
        let all = backups(cfg, &dir.list()?);
        let mut chosen: Vec<Found> = Vec::new();
        for f in all
            .into_iter()
            .filter(|f| is_ours(cfg, &f.name.series) && f.has_checksum)
        {
            if !chosen.iter().any(|c| c.name.series == f.name.series) {
                chosen.push(f);
            }
        }
        if chosen.is_empty() {
            return Err(Error::file(
                &cfg.backup_dir,
                format!(
                    "holds no complete backup of series {}{}; run `list` to see what is there",
                    cfg.container,
                    if matches!(cfg.databases, Databases::One(_) | Databases::Server) {
                        ""
                    } else {
                        "-*"
                    }
                ),
            ));
        }
        chosen.sort_by(|a, b| a.name.series.cmp(&b.name.series));
        return Ok(chosen.into_iter().map(|f| (dir.clone(), f)).collect());
    }
    let path = std::path::Path::new(spec);
    let (dir, file_name) = if spec.contains('/') {
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
        let name = path.file_name().and_then(|n| n.to_str());
        match (parent, name) {
            (Some(parent), Some(name)) => (LocalDir::new(parent), name.to_string()),
            _ => return Err(Error::file(path, "is not a path to a backup file")),
        }
    } else {
        (LocalDir::new(&cfg.backup_dir), spec.to_string())
    };
    let entries = dir.list()?;
    let Some(entry) = entries.iter().find(|e| e.name == file_name) else {
        return Err(Error::file(
            dir.file_path(&file_name),
            "does not exist; run `list` to see the backups, or give `latest`",
        ));
    };
    let name = BackupName::parse(&file_name, &cfg.prefix)
        .or_else(|| BackupName::parse(&file_name, ""))
        .ok_or_else(|| {
            Error::file(
                dir.file_path(&file_name),
                "is not a backup file name of db-backup (<prefix><series>-<YYYY-MM-DD>T<HH-MM-SS>.<ext>[.gz|.zst])",
            )
        })?;
    let checksum = name.checksum_file_name();
    let found = Found {
        taken_at: name.taken_at(cfg.tz),
        has_checksum: entries.iter().any(|e| e.name == checksum),
        file_name: file_name.clone(),
        size: entry.size,
        name,
    };
    Ok(vec![(dir, found)])
}
