//! Destinations reached through rclone, against real rclone backends the tests start: the local backend,
//! `rclone serve sftp`, `rclone serve webdav` and a union of the two. Round trips, retention on the remote, a
//! server killed mid-upload, a remote rclone does not know, and secrets kept out of logs, errors and argv.

mod faults;
mod retention;
mod roundtrip;
mod secrets;

use std::path::Path;

use crate::support::DbBackup;

/// db-backup with the command engine: `BACKUP_CMD` prints `source`, `RESTORE_CMD` writes `restored`; series
/// `files`, no compression (so that the stored bytes are the source's).
pub fn command_backup(dir: &Path, source: &Path, restored: &Path) -> DbBackup {
    DbBackup::bare()
        .env("BACKUP_CMD", &format!("cat '{}'", source.display()))
        .env("RESTORE_CMD", &format!("cat > '{}'", restored.display()))
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.to_str().expect("UTF-8 path"))
        .env("BACKUP_COMPRESSION", "none")
        .env("TZ", "UTC")
}

/// `n` bytes that do not repeat in any short period (so that nothing can pass by chance).
pub fn data(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
