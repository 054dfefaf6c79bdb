//! Which backups in a directory belong to this configuration: parsing names, grouping by series, finding the
//! newest, telling the sweeps which leftovers are ours.

use chrono::{DateTime, Utc};

use crate::cancel::Cancel;
use crate::config::{Config, Databases, exclude};
use crate::error::Result;
use crate::naming::BackupName;
use std::sync::Arc;

use crate::storage::{self, Entry, LocalDir, Storage};

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
    match &cfg.naming.databases {
        Databases::One(_) | Databases::Server => series == cfg.naming.container,
        Databases::List(names) => names.iter().any(|n| cfg.series_for(n) == series),
        Databases::All => series
            .strip_prefix(&cfg.naming.container)
            .is_some_and(|rest| rest.starts_with('-')),
    }
}

/// Every backup of this prefix in `entries`, newest first (any series).
pub fn backups(cfg: &Config, entries: &[Entry]) -> Vec<Found> {
    let mut found: Vec<Found> = entries
        .iter()
        .filter_map(|e| {
            let name = BackupName::parse(&e.name, &cfg.naming.prefix)?;
            let checksum = name.checksum_file_name();
            Some(Found {
                taken_at: name.taken_at(cfg.naming.tz),
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

/// Whether `file_name` is a backup of this configuration: for the sweeps, which remove only leftovers of ours.
pub fn ours(cfg: &Config) -> impl Fn(&str) -> bool + '_ {
    |file_name| {
        BackupName::parse(file_name, &cfg.naming.prefix).is_some_and(|n| is_ours(cfg, &n.series))
    }
}

/// The destinations a command looks in: all of them (the local directory first), or the one `--from` names;
/// `cancel` reaches the tools they run (rclone).
pub fn sources(cfg: &Config, from: Option<&str>, cancel: &Cancel) -> Result<Vec<Arc<dyn Storage>>> {
    let all = storage::destinations_under(cfg, cancel);
    let Some(from) = from else {
        return Ok(all);
    };
    let names: Vec<String> = all.iter().map(|d| d.name().to_string()).collect();
    match all.into_iter().find(|d| d.name() == from) {
        Some(d) => Ok(vec![d]),
        None if from == "local" => Ok(vec![Arc::new(LocalDir::new(&cfg.destinations.backup_dir))]),
        None => Err(crate::error::Error::Usage(format!(
            "--from {from}: no such destination; the configured ones are {}",
            names.join(", ")
        ))),
    }
}

/// The backups a command argument names: `latest` (the newest checksummed backup of each configured
/// series, from any destination, the local one first when equal), or a file name in a destination, or a path to
/// a backup file anywhere. `from` limits the search to one destination.
pub fn resolve(
    cfg: &Config,
    spec: &str,
    from: Option<&str>,
    cancel: &Cancel,
) -> Result<Vec<(Arc<dyn Storage>, Found)>> {
    use crate::error::Error;
    if spec == "latest" {
        let mut chosen: Vec<(Arc<dyn Storage>, Found)> = Vec::new();
        let mut unreachable = Vec::new();
        for dest in sources(cfg, from, cancel)? {
            let entries = match dest.list() {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(destination = dest.name(), error = %e, "cannot list this destination");
                    unreachable.push(e.to_string());
                    continue;
                }
            };
            for f in backups(cfg, &entries)
                .into_iter()
                .filter(|f| is_ours(cfg, &f.name.series) && f.has_checksum)
                .filter(|f| !exclude::is_excluded_series(&cfg.naming, &f.name.series))
            {
                match chosen
                    .iter_mut()
                    .find(|(_, c)| c.name.series == f.name.series)
                {
                    // Strictly newer only: on a tie the destination listed first (local) wins.
                    Some(slot) if f.taken_at > slot.1.taken_at => *slot = (Arc::clone(&dest), f),
                    Some(_) => {}
                    None => chosen.push((Arc::clone(&dest), f)),
                }
            }
        }
        if chosen.is_empty() {
            let place = match from {
                Some(f) => format!("destination {f}"),
                None => "any destination".to_string(),
            };
            let mut message = format!(
                "{place} holds no complete backup of series {}{}; run `list` to see what is there",
                cfg.naming.container,
                if matches!(cfg.naming.databases, Databases::One(_) | Databases::Server) {
                    ""
                } else {
                    "-*"
                }
            );
            if !unreachable.is_empty() {
                message.push_str(&format!(" (not reachable: {})", unreachable.join("; ")));
            }
            return Err(Error::file(&cfg.destinations.backup_dir, message));
        }
        chosen.sort_by(|a, b| a.1.name.series.cmp(&b.1.name.series));
        return Ok(chosen);
    }
    if !spec.contains('/') {
        for dest in sources(cfg, from, cancel)? {
            if let Some(found) = find_or_follow(cfg, dest.as_ref(), spec)? {
                return Ok(vec![(dest, found)]);
            }
        }
        return Err(Error::file(
            LocalDir::new(&cfg.destinations.backup_dir).file_path(spec),
            "does not exist in any destination; run `list` to see the backups, or give `latest`",
        ));
    }
    let path = std::path::Path::new(spec);
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let name = path.file_name().and_then(|n| n.to_str());
    let (dir, file_name) = match (parent, name) {
        (Some(parent), Some(name)) => (LocalDir::new(parent), name.to_string()),
        _ => return Err(Error::file(path, "is not a path to a backup file")),
    };
    match find_or_follow(cfg, &dir, &file_name)? {
        Some(found) => Ok(vec![(Arc::new(dir), found)]),
        None => Err(Error::file(
            dir.file_path(&file_name),
            "does not exist; run `list` to see the backups, or give `latest`",
        )),
    }
}

/// The backup `name` in `dest`, or the one it names when it is a latest link there.
/// (A link's name is never a backup's: it has no time. On S3 the pointer is an object under that name.)
fn find_or_follow(cfg: &Config, dest: &dyn Storage, name: &str) -> Result<Option<Found>> {
    match super::latest::follow(dest, name)? {
        Some(target) => find_in(cfg, dest, &target),
        None => find_in(cfg, dest, name),
    }
}

/// The backup `file_name` in `dest`, if it is there.
fn find_in(cfg: &Config, dest: &dyn Storage, file_name: &str) -> Result<Option<Found>> {
    use crate::error::Error;
    let entries = dest.list()?;
    let Some(entry) = entries.iter().find(|e| e.name == file_name) else {
        return Ok(None);
    };
    let name = BackupName::parse(file_name, &cfg.naming.prefix)
        .or_else(|| BackupName::parse(file_name, ""))
        .ok_or_else(|| {
            Error::file(
                dest.location(file_name),
                "is not a backup file name of db-backup (<prefix><series>-<YYYY-MM-DD>T<HH-MM-SS>.<ext>[.gz|.zst])",
            )
        })?;
    let checksum = name.checksum_file_name();
    Ok(Some(Found {
        taken_at: name.taken_at(cfg.naming.tz),
        has_checksum: entries.iter().any(|e| e.name == checksum),
        file_name: file_name.to_string(),
        size: entry.size,
        name,
    }))
}
