//! One backup at a time per destination: an exclusive lock (`flock`) on a lock file, released by the kernel when the holder dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// The name of the lock file in the backup directory.
pub const LOCK_FILE: &str = ".db-backup.lock";

/// Held while a backup, prune or restore drill runs; dropping it releases the lock.
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock or fails at once when another run holds it.
    pub fn try_acquire(dir: &Path) -> Result<RunLock> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::LockBusy {
                    path,
                    message: "another backup is running in this directory (or a prune or restore drill: the \
                              lock is held); wait for it to finish"
                        .into(),
                });
            }
            Err(TryLockError::Error(err)) => return Err(Error::io(&path, err)),
        }
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_run_until_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunLock::try_acquire(dir.path()).unwrap();
        let Err(busy) = RunLock::try_acquire(dir.path()) else {
            panic!("a second run took a held lock");
        };
        assert!(
            busy.to_string().contains("another backup is running"),
            "{busy}"
        );
        drop(held);
        RunLock::try_acquire(dir.path()).unwrap();
    }
}
