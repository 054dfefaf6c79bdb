//! One backup at a time per destination: an `flock` on a lock file, released by the kernel when the holder dies.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// The name of the lock file in the backup directory.
pub const LOCK_FILE: &str = ".db-backup.lock";

/// Held while a backup or prune runs; dropping it releases the lock.
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
        // SAFETY: flock is called on a file descriptor that `file` owns and keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(Error::LockBusy {
                    path,
                    message: "another backup is running in this directory (the lock is held); wait for it \
                              to finish"
                        .into(),
                });
            }
            return Err(Error::io(&path, err));
        }
        Ok(RunLock { _file: file })
    }
}
