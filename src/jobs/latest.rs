//! The `<series>-latest.<ext>` link in the local backup directory: a relative symlink to the newest complete
//! backup of each series, replaced atomically (made under a temporary name, then renamed over the old one) after
//! the backup and its checksum are committed. Listings skip symlinks, so `list`, `verify`, `restore`, retention
//! and the sweep never take it for a backup.

use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Error, Result};
use crate::naming::BackupName;
use crate::storage::LocalDir;

/// The link's name: the backup's name with `latest` in place of the time, e.g. `app-latest.sql.gz`.
pub fn link_name(name: &BackupName) -> String {
    let file = name.file_name();
    let stem = format!("{}{}-", name.prefix, name.series);
    // The time is the 19 characters after `<prefix><series>-`.
    format!("{stem}latest{}", &file[stem.len() + 19..])
}

/// Points the series' link at `name`, which must be committed in `dir` already. Another link of the same
/// series with another extension (the compression or encryption changed) is removed, so that no link is left
/// pointing at a backup that retention will delete. A regular file under the link's name is left alone.
pub fn update(dir: &LocalDir, name: &BackupName) -> Result<()> {
    let link = link_name(name);
    let path = dir.file_path(&link);
    if let Ok(meta) = std::fs::symlink_metadata(&path)
        && !meta.file_type().is_symlink()
    {
        return Err(Error::file(
            &path,
            "is not a link made by db-backup, so the latest link was not written; move that file away",
        ));
    }
    // Under the run lock: no other db-backup writes this directory, so a fixed temporary name is safe, and one
    // left by a crash is replaced here.
    let temp = dir.file_path(&format!(".{link}.new"));
    match std::fs::remove_file(&temp) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&temp, e)),
    }
    std::os::unix::fs::symlink(name.file_name(), &temp).map_err(|e| Error::io(&temp, e))?;
    std::fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))?;
    remove_other_links(
        dir.path(),
        &format!("{}{}-latest.", name.prefix, name.series),
        &link,
    )?;
    dir.sync()
}

/// Removes the symlinks named `<start>*` other than `keep`.
fn remove_other_links(dir: &Path, start: &str, keep: &str) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries.flatten() {
        let Ok(file) = entry.file_name().into_string() else {
            continue;
        };
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if is_link && file.starts_with(start) && file != keep {
            let path = entry.path();
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_name_replaces_the_time() {
        let name = BackupName::parse("x_app-db-2026-01-02T03-04-05.sql.gz.age", "x_").unwrap();
        assert_eq!(link_name(&name), "x_app-db-latest.sql.gz.age");
    }
}
