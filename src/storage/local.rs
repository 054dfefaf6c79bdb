//! The local backup directory: temporary files committed by rename, listings, reads and deletes.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{PARTIAL_SUFFIX, PROBE_PREFIX};
use crate::error::{Error, Result};

/// A file in the backup directory.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

/// The local destination directory (`BACKUP_DIR`).
#[derive(Debug, Clone)]
pub struct LocalDir {
    dir: PathBuf,
}

impl LocalDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        LocalDir { dir: dir.into() }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn file_path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Checks that the directory exists and that this process can write into it.
    pub fn check_writable(&self) -> Result<()> {
        let meta = fs::metadata(&self.dir).map_err(|e| {
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
                let _ = fs::remove_file(&probe);
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

    /// Opens a new temporary file for `final_name`, mode 0600.
    pub fn create_pending(&self, final_name: &str) -> Result<PendingFile> {
        let temp = self.dir.join(format!(".{final_name}{PARTIAL_SUFFIX}"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| Error::io(&temp, e))?;
        Ok(PendingFile {
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            temp,
            final_path: self.dir.join(final_name),
            dir: self.dir.clone(),
        })
    }

    /// Writes a small file atomically (temporary name, fsync, rename, fsync the directory).
    pub fn write_small(&self, name: &str, content: &[u8]) -> Result<()> {
        let mut pending = self.create_pending(name)?;
        pending
            .write_all(content)
            .map_err(|e| Error::io(&pending.temp, e))?;
        pending.commit()
    }

    /// The regular files of the directory, sorted by name.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for item in rd {
            let item = item.map_err(|e| Error::io(&self.dir, e))?;
            let Ok(name) = item.file_name().into_string() else {
                continue;
            };
            let Ok(meta) = item.metadata() else {
                continue;
            };
            if meta.is_file() {
                out.push(Entry {
                    name,
                    size: meta.len(),
                    modified: meta.modified().ok(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn open(&self, name: &str) -> Result<File> {
        let path = self.dir.join(name);
        File::open(&path).map_err(|e| Error::io(&path, e))
    }

    pub fn read_small(&self, name: &str) -> Result<String> {
        let path = self.dir.join(name);
        fs::read_to_string(&path).map_err(|e| Error::io(&path, e))
    }

    pub fn exists(&self, name: &str) -> bool {
        self.dir.join(name).exists()
    }

    pub fn delete(&self, name: &str) -> Result<()> {
        let path = self.dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    /// Flushes the directory entry itself, so that a rename survives a power cut.
    pub fn sync(&self) -> Result<()> {
        sync_dir(&self.dir)
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// A backup being written under a temporary name. Dropped without [`PendingFile::commit`], it is removed.
pub struct PendingFile {
    writer: Option<BufWriter<File>>,
    temp: PathBuf,
    final_path: PathBuf,
    dir: PathBuf,
}

impl PendingFile {
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Flushes the bytes to disk without renaming (so that they can be checked before the commit).
    pub fn flush_to_disk(&mut self) -> Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        writer.flush().map_err(|e| Error::io(&self.temp, e))?;
        writer
            .get_ref()
            .sync_all()
            .map_err(|e| Error::io(&self.temp, e))
    }

    /// Flushes, renames to the final name and flushes the directory.
    pub fn commit(mut self) -> Result<()> {
        self.flush_to_disk()?;
        drop(self.writer.take());
        if let Err(e) = fs::rename(&self.temp, &self.final_path) {
            let _ = fs::remove_file(&self.temp);
            return Err(Error::io(&self.final_path, e));
        }
        sync_dir(&self.dir)
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("the file is already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl super::Upload for PendingFile {
    fn commit(mut self: Box<Self>, checksum_name: &str, checksum: &str, _size: u64) -> Result<()> {
        self.flush_to_disk()?;
        let dir = LocalDir::new(&self.dir);
        // The checksum goes first: a backup under its final name always has one. A checksum left without its
        // backup by a crash is swept at the next run.
        dir.write_small(checksum_name, checksum.as_bytes())?;
        PendingFile::commit(*self)
    }

    fn abort(self: Box<Self>) {}
}

impl super::Storage for LocalDir {
    fn name(&self) -> &str {
        "local"
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn location(&self, name: &str) -> PathBuf {
        self.file_path(name)
    }

    fn check(&self) -> Result<()> {
        self.check_writable()
    }

    fn list(&self) -> Result<Vec<Entry>> {
        LocalDir::list(self)
    }

    fn get(&self, name: &str) -> Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::BufReader::with_capacity(
            1 << 20,
            self.open(name)?,
        )))
    }

    fn put(&self, name: &str) -> Result<Box<dyn super::Upload>> {
        Ok(Box::new(self.create_pending(name)?))
    }

    fn delete(&self, name: &str) -> Result<()> {
        LocalDir::delete(self, name)
    }

    fn read_small(&self, name: &str) -> Result<String> {
        LocalDir::read_small(self, name)
    }

    fn sync(&self) -> Result<()> {
        LocalDir::sync(self)
    }

    fn as_local(&self) -> Option<&LocalDir> {
        Some(self)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}
