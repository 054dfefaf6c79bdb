//! `BACKUP_DIR` as the working area of every run, and the one owner of everything in it that is not a finished
//! backup: the run lock, the service's state file, restore downloads and archives written out for `pg_restore
//! -j` (spool, with a check of the free space), the writability probe, and the
//! sweep of what killed runs left there (temporary files, orphan checksums, probes, old downloads, SQLite
//! copies no process holds).

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lock::RunLock;
use super::{LocalDir, PARTIAL_SUFFIX};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::naming;

/// The name of the empty file that checks `BACKUP_DIR` is writable, before the process id.
pub const PROBE_PREFIX: &str = ".db-backup-probe-";

/// The prefix of a remote backup being downloaded into `BACKUP_DIR` for a restore.
pub const SPOOL_PREFIX: &str = ".db-backup-spool-";

/// How old a download must be before the sweep takes it for a killed restore's.
const SPOOL_MAX_AGE: Duration = Duration::from_secs(86_400);

/// `BACKUP_DIR`, the scratch area.
#[derive(Debug, Clone)]
pub struct ScratchDir {
    dir: PathBuf,
}

impl ScratchDir {
    pub fn new(dir: impl Into<PathBuf>) -> ScratchDir {
        ScratchDir { dir: dir.into() }
    }

    /// This configuration's `BACKUP_DIR`.
    pub fn of(cfg: &Config) -> ScratchDir {
        ScratchDir::new(&cfg.destinations.backup_dir)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Checks that the directory exists and that this process can write into it.
    pub fn check(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.dir).map_err(|e| {
            Error::file(
                &self.dir,
                format!(
                    "the backup directory cannot be used: {e}; create it or mount a volume there"
                ),
            )
        })?;
        if !meta.is_dir() {
            return Err(Error::file(&self.dir, "is not a directory"));
        }
        let probe = self
            .dir
            .join(format!("{PROBE_PREFIX}{}", std::process::id()));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&probe)
        {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                Ok(())
            }
            Err(e) => {
                let uid = nix::unistd::geteuid();
                Err(Error::file(
                    &self.dir,
                    format!(
                        "is not writable by this process (uid {uid}): {e}; give uid {uid} write access, \
                         e.g. chown {uid} on the host directory"
                    ),
                ))
            }
        }
    }

    /// Takes the run lock (one backup, prune or restore drill at a time in this directory), or fails at once
    /// when another run holds it.
    pub fn lock(&self) -> Result<RunLock> {
        RunLock::try_acquire(&self.dir)
    }

    /// The service's state file for this configuration: `.db-backup-state-<prefix><container>.json`, one per
    /// instance sharing the directory.
    pub fn state_file(&self, cfg: &Config) -> PathBuf {
        self.dir.join(format!(
            ".db-backup-state-{}{}.json",
            cfg.naming.prefix, cfg.naming.container
        ))
    }

    /// A new hidden file for a remote backup downloaded before a restore; removed when dropped, and by the
    /// sweep a day after a killed restore left it.
    pub fn spool(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix(SPOOL_PREFIX)
            .tempfile_in(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))
    }

    /// The bytes this process may still write in the directory.
    pub fn free_space(&self) -> Result<u64> {
        let stat = nix::sys::statvfs::statvfs(&self.dir)
            .map_err(|e| Error::io(&self.dir, std::io::Error::from(e)))?;
        Ok(stat.blocks_available().saturating_mul(stat.fragment_size()))
    }

    /// A spool (see [`ScratchDir::spool`]) for `what`, which needs at least `needed` bytes: refused, naming
    /// `BACKUP_DIR` and both sizes, when fewer are free. `hint` says what else the user can do.
    pub fn spool_with_room(
        &self,
        what: &str,
        needed: u64,
        hint: &str,
    ) -> Result<tempfile::NamedTempFile> {
        let free = self.free_space()?;
        if free < needed {
            return Err(self.no_room(
                what,
                &format!("at least {needed} bytes, {free} are free"),
                hint,
            ));
        }
        self.spool()
    }

    /// The error for a spool that does not fit: `sizes` says how much was needed and free.
    pub fn no_room(&self, what: &str, sizes: &str, hint: &str) -> Error {
        Error::file(
            &self.dir,
            format!(
                "BACKUP_DIR has no room for {what} ({sizes}); free space there or give it a larger volume, \
                 or {hint}"
            ),
        )
    }

    /// Removes what crashed runs left behind: temporary files and checksum files whose backup never got its
    /// final name (of the backups `ours` names), probes of dead processes, day-old downloads and SQLite copies
    /// no process holds. Must only run while [`ScratchDir::lock`] is held; returns how many files went.
    pub fn sweep(&self, ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        let dir = LocalDir::new(&self.dir);
        let entries = dir.list()?;
        let mut removed = 0;
        for entry in &entries {
            let leftover = if let Some(inner) = entry
                .name
                .strip_prefix('.')
                .and_then(|n| n.strip_suffix(PARTIAL_SUFFIX))
            {
                ours(naming::side_file_owner(inner).unwrap_or(inner))
            } else if let Some(data) = naming::side_file_owner(&entry.name) {
                ours(data) && !entries.iter().any(|x| x.name == data)
            } else if let Some(pid) = entry.name.strip_prefix(PROBE_PREFIX) {
                // The writability probe of a process killed between creating and removing it (a live
                // process's probe exists for a moment only, and is its own to remove).
                pid.parse::<u32>().is_ok_and(|pid| {
                    pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
                })
            } else if entry.name.starts_with(SPOOL_PREFIX) {
                // A restore's download left by a killed process; a running restore's is younger than a day.
                entry
                    .modified
                    .and_then(|m| m.elapsed().ok())
                    .is_some_and(|age| age > SPOOL_MAX_AGE)
            } else {
                // A temporary SQLite copy that no running db-backup holds (they are locked while in use).
                crate::engine::facts::is_leftover(&self.dir, &entry.name)
            };
            if leftover {
                tracing::info!(file = %entry.name, "removing a leftover of an interrupted backup");
                dir.delete(&entry.name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_removes_leftovers_of_ours_only() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "pg-1.sql.gz",
            "pg-1.sql.gz.sha256",
            "pg-2.sql.gz.sha256",
            "other-3.sql.gz.sha256",
            ".pg-4.sql.gz.partial",
            ".pg-5.sql.gz.sha256.partial",
            ".other-6.sql.gz.partial",
            ".db-backup-probe-4194305",
            ".db-backup.lock",
        ] {
            std::fs::write(dir.path().join(name), "x").unwrap();
        }
        let scratch = ScratchDir::new(dir.path());
        let _lock = scratch.lock().unwrap();
        let ours = |name: &str| name.starts_with("pg-");
        assert_eq!(scratch.sweep(&ours).unwrap(), 4);
        let left: Vec<String> = LocalDir::new(dir.path())
            .list()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            left,
            [
                ".db-backup.lock",
                ".other-6.sql.gz.partial",
                "other-3.sql.gz.sha256",
                "pg-1.sql.gz",
                "pg-1.sql.gz.sha256"
            ]
        );
    }

    #[test]
    fn a_spool_that_cannot_fit_is_refused_naming_backup_dir() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = ScratchDir::new(dir.path());
        assert!(scratch.free_space().unwrap() > 0);
        let err = scratch
            .spool_with_room("the archive", u64::MAX, "use one job")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("BACKUP_DIR has no room for the archive"),
            "{err}"
        );
        assert!(err.contains("use one job"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        scratch.spool_with_room("the archive", 1, "").unwrap();
    }

    #[test]
    fn a_spooled_download_goes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = ScratchDir::new(dir.path()).spool().unwrap();
        let name = spool
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with(SPOOL_PREFIX), "{name}");
        drop(spool);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
