//! The one way a file is written so that it appears under its name only complete: a temporary file beside it
//! (mode 0600), flushed to disk, renamed over the final name, the directory's entry flushed. Backups, their
//! checksums, the service's state file and `restore --to-file` output all go through [`AtomicFile`].

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::PARTIAL_SUFFIX;
use crate::error::{Error, Result};

/// How the temporary file beside the final one is named and opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Temp {
    /// `.<name>.partial`, which must not exist yet: backups and their checksums in `BACKUP_DIR`, whose sweep
    /// knows the name.
    Partial,
    /// `<name>.tmp`, replacing one a crash left: a file that one process alone writes (the service's state).
    Reused,
    /// `.<name>.<random>.partial`: a file in a directory of the user's (`restore --to-file`), whose entry is
    /// flushed where the directory can be opened.
    Unique,
}

/// A file being written under a temporary name. Dropped without [`AtomicFile::commit`], it is removed.
pub struct AtomicFile {
    writer: Option<BufWriter<File>>,
    temp: PathBuf,
    final_path: PathBuf,
    how: Temp,
}

impl AtomicFile {
    /// Opens the temporary file for `final_path`.
    pub fn create(final_path: &Path, how: Temp) -> Result<AtomicFile> {
        let name = final_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::file(final_path, "is not a path to a file"))?;
        let dir = parent(final_path);
        let (file, temp) = match how {
            Temp::Partial | Temp::Reused => {
                let temp = match how {
                    Temp::Partial => dir.join(format!(".{name}{PARTIAL_SUFFIX}")),
                    _ => dir.join(format!("{name}.tmp")),
                };
                let mut options = OpenOptions::new();
                options.write(true).mode(0o600);
                if how == Temp::Partial {
                    options.create_new(true);
                } else {
                    options.create(true).truncate(true);
                }
                let file = options.open(&temp).map_err(|e| Error::io(&temp, e))?;
                (file, temp)
            }
            Temp::Unique => tempfile::Builder::new()
                .prefix(&format!(".{name}."))
                .suffix(PARTIAL_SUFFIX)
                .tempfile_in(dir)
                .and_then(|t| t.keep().map_err(|e| e.error))
                .map_err(|e| Error::io(dir, e))?,
        };
        Ok(AtomicFile {
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
            temp,
            final_path: final_path.to_path_buf(),
            how,
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.final_path
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
        let dir = parent(&self.final_path);
        match (sync_dir(dir), self.how) {
            (Err(_), Temp::Unique) => Ok(()),
            (result, _) => result,
        }
    }
}

/// Writes a small file atomically.
pub fn write(path: &Path, how: Temp, content: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path, how)?;
    file.write_all(content)
        .map_err(|e| Error::io(&file.temp, e))?;
    file.commit()
}

/// Flushes a directory's entries, so that a rename or a deletion survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

impl Write for AtomicFile {
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

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_file_appears_only_when_committed_and_private() {
        use std::os::unix::fs::PermissionsExt;
        for how in [Temp::Partial, Temp::Reused, Temp::Unique] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f.txt");
            let mut file = AtomicFile::create(&path, how).unwrap();
            file.write_all(b"hello").unwrap();
            file.flush_to_disk().unwrap();
            assert!(!path.exists(), "{how:?}: visible before the commit");
            assert_eq!(names(dir.path()).len(), 1, "{how:?}");
            file.commit().unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"hello");
            assert_eq!(names(dir.path()), vec!["f.txt"], "{how:?}");
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{how:?}");
        }
    }

    #[test]
    fn a_dropped_file_leaves_nothing() {
        for how in [Temp::Partial, Temp::Reused, Temp::Unique] {
            let dir = tempfile::tempdir().unwrap();
            let mut file = AtomicFile::create(&dir.path().join("f.txt"), how).unwrap();
            file.write_all(b"half").unwrap();
            drop(file);
            assert!(names(dir.path()).is_empty(), "{how:?}");
        }
    }

    #[test]
    fn temporary_names_are_the_ones_the_sweep_and_the_service_know() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.sql.gz");
        let partial = AtomicFile::create(&path, Temp::Partial).unwrap();
        assert_eq!(names(dir.path()), vec![".x.sql.gz.partial"]);
        assert!(AtomicFile::create(&path, Temp::Partial).is_err());
        drop(partial);
        fs::write(dir.path().join("x.sql.gz.tmp"), "left by a crash").unwrap();
        write(&path, Temp::Reused, b"new").unwrap();
        assert_eq!(names(dir.path()), vec!["x.sql.gz"]);
    }
}
