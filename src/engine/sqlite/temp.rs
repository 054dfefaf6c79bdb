//! The temporary copy in the backup directory: created `0600` under a `.db-backup-sqlite-` name and `flock`ed
//! while in use, so that the sweep of the next run can tell a leftover of a crash from a copy in progress.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// The name prefix of the temporary copies in the backup directory (swept when left by a crash).
pub const TEMP_PREFIX: &str = ".db-backup-sqlite-";

/// The temporary copy in the backup directory: created `0600`, `flock`ed while it exists, removed on drop.
pub(super) struct TempCopy {
    file: tempfile::NamedTempFile,
}

impl TempCopy {
    pub(super) fn create(dir: &Path) -> Result<TempCopy> {
        let file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(".db")
            .tempfile_in(dir)
            .map_err(|e| {
                Error::file(
                    dir,
                    format!("cannot create the temporary copy of the SQLite database: {e}"),
                )
            })?;
        // Held as long as the copy's descriptor stays open, so the sweep of another process leaves it alone.
        if let Err(e) = file.as_file().try_lock() {
            return Err(Error::io(file.path(), e.into()));
        }
        Ok(TempCopy { file })
    }

    pub(super) fn path(&self) -> &Path {
        self.file.path()
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        // The copy is opened without a journal and read immutable, but a crash of SQLite itself could leave
        // one; the main file goes with the NamedTempFile.
        for suffix in ["-journal", "-wal", "-shm"] {
            let mut companion = self.path().as_os_str().to_owned();
            companion.push(suffix);
            let _ = std::fs::remove_file(companion);
        }
    }
}

/// Whether `name` in `dir` is a temporary copy (or a companion of one) that no running process holds: a
/// leftover of a crash, for the sweep.
pub fn is_leftover(dir: &Path, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let base = ["-journal", "-wal", "-shm"]
        .iter()
        .find_map(|s| rest.strip_suffix(s))
        .unwrap_or(rest);
    let Ok(file) = File::open(dir.join(format!("{TEMP_PREFIX}{base}"))) else {
        // The main file is gone: a companion alone is a leftover.
        return true;
    };
    // Taken only when no process holds the copy; released when `file` is closed.
    file.try_lock().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_told_from_copies_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let live = TempCopy::create(dir.path()).unwrap();
        let live_name = live
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(live_name.starts_with(TEMP_PREFIX));
        assert!(!is_leftover(dir.path(), &live_name));
        assert!(!is_leftover(dir.path(), &format!("{live_name}-journal")));
        std::fs::write(dir.path().join(".db-backup-sqlite-dead.db"), b"x").unwrap();
        assert!(is_leftover(dir.path(), ".db-backup-sqlite-dead.db"));
        assert!(is_leftover(dir.path(), ".db-backup-sqlite-gone.db-wal"));
        assert!(!is_leftover(dir.path(), "app-2025-01-01T00-00-00.db.gz"));
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
    }
}
