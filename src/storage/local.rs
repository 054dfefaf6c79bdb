//! The local backup directory as a destination: backups written through [`AtomicFile`], listings, reads and
//! deletes.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::ScratchDir;
use super::atomic::{self, AtomicFile, Temp};
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

    /// Flushes the directory entry itself, so that a rename or a deletion survives a power cut.
    pub fn sync(&self) -> Result<()> {
        atomic::sync_dir(&self.dir)
    }
}

impl super::Upload for AtomicFile {
    fn commit(mut self: Box<Self>, checksum_name: &str, checksum: &str, _size: u64) -> Result<()> {
        self.flush_to_disk()?;
        // The checksum goes first: a backup under its final name always has one. A checksum left without its
        // backup by a crash is swept at the next run.
        let checksum_path = self.path().with_file_name(checksum_name);
        atomic::write(&checksum_path, Temp::Partial, checksum.as_bytes())?;
        AtomicFile::commit(*self)
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
        ScratchDir::new(&self.dir).check()
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
        Ok(Box::new(AtomicFile::create(
            &self.file_path(name),
            Temp::Partial,
        )?))
    }

    fn delete(&self, name: &str) -> Result<()> {
        LocalDir::delete(self, name)
    }

    fn read_small(&self, name: &str) -> Result<String> {
        LocalDir::read_small(self, name)
    }

    fn write_small(&self, name: &str, content: &[u8]) -> Result<()> {
        atomic::write(&self.file_path(name), Temp::Partial, content)
    }

    fn sync(&self) -> Result<()> {
        LocalDir::sync(self)
    }

    fn set_latest(&self, stem: &str, link: &str, file_name: &str) -> Result<()> {
        self.set_latest_link(stem, link, file_name)
    }

    fn get_latest(&self, stem: &str) -> Result<Option<(String, String)>> {
        self.latest_link(stem)
    }

    fn remove_latest(&self, stem: &str) -> Result<()> {
        self.remove_latest_links(stem)
    }

    /// `BACKUP_DIR` is swept with the rest of the scratch area, under the run lock ([`ScratchDir::sweep`]).
    fn sweep(&self, _ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        Ok(0)
    }

    /// The local directory's files go by their bare names.
    fn label(&self, name: &str) -> String {
        name.to_string()
    }

    fn local_path(&self, name: &str) -> Option<PathBuf> {
        Some(self.file_path(name))
    }
}
