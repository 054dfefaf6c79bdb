//! Where backups are kept: the local directory, S3-compatible buckets and whatever rclone reaches, behind one
//! narrow [`Storage`] trait.
//! A backup becomes visible under its final name only once it is complete. Callers never ask which kind a
//! destination is: what differs is a method ([`Storage::label`], [`Storage::local_path`], [`Storage::sweep`]);
//! `BACKUP_DIR` as the working area is [`ScratchDir`]'s, and a dry run is a wrapper ([`DryRun`]).

pub mod atomic;
mod dry_run;
mod fanout;
mod latest_link;
mod local;
mod lock;
pub mod rclone;
pub mod s3;
mod scratch;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

pub use dry_run::DryRun;
pub use fanout::Tee;
pub use local::{Entry, LocalDir};
pub use lock::{LOCK_FILE, RunLock};
pub use scratch::{PROBE_PREFIX, SPOOL_PREFIX, ScratchDir};

use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::naming;

/// A place that holds backups: listed, read, written and deleted by name.
pub trait Storage: Send + Sync {
    /// `local`, `s3`, `s3_2`...: what `list` shows and `restore --from` takes.
    fn name(&self) -> &str;
    /// Where it is, for people.
    fn describe(&self) -> String;
    /// Where a file is, for messages.
    fn location(&self, name: &str) -> PathBuf;
    /// Fails with a message saying what to fix when the destination cannot be used.
    fn check(&self) -> Result<()>;
    /// Every file, sorted by name.
    fn list(&self) -> Result<Vec<Entry>>;
    fn get(&self, name: &str) -> Result<Box<dyn Read + Send>>;
    /// A new file, visible under `name` only after [`Upload::commit`].
    fn put(&self, name: &str) -> Result<Box<dyn Upload>>;
    /// Deleting a file that is not there succeeds.
    fn delete(&self, name: &str) -> Result<()>;

    /// A small text file (a checksum).
    fn read_small(&self, name: &str) -> Result<String> {
        let mut text = String::new();
        self.get(name)?
            .take(1 << 20)
            .read_to_string(&mut text)
            .map_err(|e| Error::io(self.location(name), e))?;
        Ok(text)
    }

    /// Writes a small file (a manifest) whole, replacing any file of that name; it appears complete or not at
    /// all.
    fn write_small(&self, name: &str, content: &[u8]) -> Result<()>;

    /// Makes deletions durable (the local directory's entry).
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Removes unfinished uploads whose file `ours` says belongs to this configuration; returns how many.
    fn sweep_uploads(&self, _ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        Ok(0)
    }

    /// Removes what crashed runs left here: unfinished uploads and checksums whose backup never arrived, of the
    /// backups `ours` names only; returns how many.
    fn sweep(&self, ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        let ours = |name: &str| ours(naming::side_file_owner(name).unwrap_or(name));
        let mut removed = self.sweep_uploads(&ours)?;
        let entries = self.list()?;
        for entry in &entries {
            if let Some(data) = naming::side_file_owner(&entry.name)
                && ours(data)
                && !entries.iter().any(|x| x.name == data)
            {
                tracing::info!(destination = self.name(), file = %entry.name, "removing a checksum or manifest whose backup is not there");
                self.delete(&entry.name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// How a file here is named to people among several destinations: `<destination>:<name>`.
    fn label(&self, name: &str) -> String {
        format!("{}:{name}", self.name())
    }

    /// The file's path on this machine's disk, when this storage keeps it there (so it need not be
    /// downloaded to be read twice).
    fn local_path(&self, _name: &str) -> Option<PathBuf> {
        None
    }

    /// Points the latest link of the series `stem` (`<prefix><series>`) at the committed backup `file_name`,
    /// atomically, under the name `link` where names matter (the local directory), replacing any other link of
    /// the series. See `jobs::latest`.
    fn set_latest(&self, _stem: &str, _link: &str, _file_name: &str) -> Result<()> {
        Ok(())
    }

    /// The latest link of the series `stem` here, as (its name, the backup it names); None when there is none.
    fn get_latest(&self, _stem: &str) -> Result<Option<(String, String)>> {
        Ok(None)
    }

    /// Removes the latest link of the series `stem` (succeeds when there is none).
    fn remove_latest(&self, _stem: &str) -> Result<()> {
        Ok(())
    }

    /// Whether deletions are only reported, not made (a [`DryRun`]).
    fn is_dry_run(&self) -> bool {
        false
    }
}

/// A backup being written to one destination. Dropped without [`Upload::commit`], it leaves nothing visible.
pub trait Upload: Write + Send {
    /// Makes the backup visible under its name: the checksum file first, then the backup itself, checked to
    /// hold `size` bytes.
    fn commit(self: Box<Self>, checksum_name: &str, checksum: &str, size: u64) -> Result<()>;
    /// Gives up and removes what was written.
    fn abort(self: Box<Self>);
}

/// The configured destinations, the local directory first (unless `BACKUP_LOCAL=false`).
pub fn destinations(cfg: &Config) -> Vec<Arc<dyn Storage>> {
    destinations_under(cfg, &Cancel::new())
}

/// The configured destinations, those that run tools (rclone) under `cancel`, so that a stop kills them.
pub fn destinations_under(cfg: &Config, cancel: &Cancel) -> Vec<Arc<dyn Storage>> {
    let mut out: Vec<Arc<dyn Storage>> = Vec::new();
    if cfg.destinations.local {
        out.push(Arc::new(LocalDir::new(&cfg.destinations.backup_dir)));
    }
    for remote in &cfg.destinations.remotes {
        out.push(Arc::new(s3::S3Store::new(remote.clone(), &cfg.budget)));
    }
    for remote in &cfg.destinations.rclone {
        out.push(Arc::new(rclone::RcloneStore::new(remote.clone(), cancel)));
    }
    out
}

/// The suffix of a temporary file that holds a backup being written.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// The content of a `<file>.sha256` file, in the format that `sha256sum -c` reads.
pub fn checksum_line(sha256_hex: &str, file_name: &str) -> String {
    format!("{sha256_hex}  {file_name}\n")
}

/// The hex digest from a `.sha256` file's content, if it is well formed and names `file_name`.
pub fn parse_checksum(content: &str, file_name: &str) -> Option<String> {
    let line = content.lines().next()?;
    let (digest, name) = line.split_once(' ')?;
    let name = name.trim_start_matches([' ', '*']);
    let valid = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit());
    (valid && name == file_name).then(|| digest.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_round_trip() {
        let digest = "a".repeat(64);
        let line = checksum_line(&digest, "x.sql.gz");
        assert_eq!(parse_checksum(&line, "x.sql.gz"), Some(digest));
        assert_eq!(parse_checksum(&line, "y.sql.gz"), None);
        assert_eq!(parse_checksum("zz  x.sql.gz\n", "x.sql.gz"), None);
    }
}
