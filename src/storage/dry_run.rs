//! A dry run as a storage: [`DryRun`] wraps a destination, reads through to it, and changes nothing, so the
//! code that decides what to delete runs unchanged and cannot delete.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use super::{Entry, Storage, Upload};
use crate::error::{Error, Result};

/// A destination that lists and reads, and only pretends to delete.
pub struct DryRun(pub Arc<dyn Storage>);

impl Storage for DryRun {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn describe(&self) -> String {
        self.0.describe()
    }

    fn location(&self, name: &str) -> PathBuf {
        self.0.location(name)
    }

    fn check(&self) -> Result<()> {
        self.0.check()
    }

    fn list(&self) -> Result<Vec<Entry>> {
        self.0.list()
    }

    fn get(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        self.0.get(name)
    }

    fn put(&self, name: &str) -> Result<Box<dyn Upload>> {
        Err(Error::file(self.location(name), "a dry run writes nothing"))
    }

    fn delete(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    fn write_small(&self, name: &str, _content: &[u8]) -> Result<()> {
        Err(Error::Other(format!(
            "{}: a dry run writes nothing",
            self.location(name).display()
        )))
    }

    fn read_small(&self, name: &str) -> Result<String> {
        self.0.read_small(name)
    }

    fn sweep(&self, _ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        Ok(0)
    }

    fn get_latest(&self, stem: &str) -> Result<Option<(String, String)>> {
        self.0.get_latest(stem)
    }

    fn label(&self, name: &str) -> String {
        self.0.label(name)
    }

    fn local_path(&self, name: &str) -> Option<PathBuf> {
        self.0.local_path(name)
    }

    fn is_dry_run(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalDir;

    #[test]
    fn a_dry_run_reads_and_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.sql.gz"), "x").unwrap();
        let dry = DryRun(Arc::new(LocalDir::new(dir.path())));
        assert_eq!(dry.list().unwrap().len(), 1);
        dry.delete("a.sql.gz").unwrap();
        dry.sync().unwrap();
        assert!(dry.put("b.sql.gz").is_err());
        assert!(dir.path().join("a.sql.gz").exists());
        assert!(!dir.path().join(".b.sql.gz.partial").exists());
        assert!(dry.is_dry_run());
    }
}
