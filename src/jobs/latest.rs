//! The latest link of each series, so that plain tools can read the newest backup without looking up its name:
//! locally a relative symlink `<prefix><series>-latest.<ext>`, on S3 a pointer object `<prefix><series>-latest`
//! holding the backup's name. It is moved after a backup is committed everywhere, moved back or removed when
//! retention deletes what it names, and followed by `restore`/`verify` when given its name. It is never a
//! backup: listings, retention and the sweeps do not see it.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::naming::{self, BackupName};
use crate::retention::{Action, Candidate, Decision};
use crate::storage::Storage;

/// Points the series' link in `dest` at `name`, which is committed there. A failure is logged: the backup
/// itself is complete.
pub fn point(dest: &dyn Storage, name: &BackupName) {
    let (stem, link, file) = (name.stem(), name.latest_link_name(), name.file_name());
    match dest.set_latest(&stem, &link, &file) {
        Ok(()) => {
            tracing::debug!(destination = dest.name(), link = %link, file = %file, "latest link moved")
        }
        Err(e) => tracing::warn!(
            destination = dest.name(),
            link = %link,
            file = %file,
            error = %e,
            "the latest link was not moved; the backup is complete"
        ),
    }
}

/// After retention deleted `decisions`' deletions from `dest`: a link that named a deleted backup is moved to
/// the newest complete backup left of its series, or removed when none is left, so that no link dangles.
pub fn after_prune(
    cfg: &Config,
    dest: &dyn Storage,
    candidates: &[Candidate],
    decisions: &[Decision],
) -> Result<()> {
    if dest.is_dry_run() {
        return Ok(());
    }
    let deleted: BTreeSet<&str> = decisions
        .iter()
        .filter(|d| d.action == Action::Delete)
        .map(|d| d.file_name.as_str())
        .collect();
    let series: BTreeSet<&str> = candidates
        .iter()
        .filter(|c| deleted.contains(c.file_name.as_str()))
        .map(|c| c.series.as_str())
        .collect();
    for s in series {
        let stem = format!("{}{s}", cfg.naming.prefix);
        let Some((link, target)) = dest.get_latest(&stem)? else {
            continue;
        };
        if !deleted.contains(target.as_str()) {
            continue;
        }
        let newest = candidates
            .iter()
            .filter(|c| c.series == s && c.complete && !deleted.contains(c.file_name.as_str()))
            .max_by(|a, b| {
                a.taken_at
                    .cmp(&b.taken_at)
                    .then_with(|| a.file_name.cmp(&b.file_name))
            })
            .and_then(|c| BackupName::parse(&c.file_name, &cfg.naming.prefix));
        match newest {
            Some(name) => {
                let (to_link, file) = (name.latest_link_name(), name.file_name());
                dest.set_latest(&stem, &to_link, &file)?;
                tracing::info!(destination = dest.name(), link = %to_link, file = %file, "latest link moved off a deleted backup");
            }
            None => {
                dest.remove_latest(&stem)?;
                tracing::info!(destination = dest.name(), link = %link, "latest link removed with the last backup");
            }
        }
    }
    Ok(())
}

/// The backup that `spec`, when it is the name of a latest link or pointer in `dest`, stands for. `app-latest`
/// names the series' newest whatever its extension; `app-latest.sql.gz` only a `.sql.gz` backup.
pub fn follow(dest: &dyn Storage, spec: &str) -> Result<Option<String>> {
    let Some((stem, ext)) = naming::latest_link_parts(spec) else {
        return Ok(None);
    };
    let Some((link, target)) = dest.get_latest(stem)? else {
        return Ok(None);
    };
    if !ext.is_empty() && !target.ends_with(ext) {
        return Err(Error::file(
            dest.location(spec),
            format!(
                "is not there: the latest link of this series is {link}, which names {target}; give one of those"
            ),
        ));
    }
    tracing::info!(destination = dest.name(), link = %link, file = %target, "following the latest link");
    Ok(Some(target))
}
