//! The fan-out: one stream of stored bytes written to every destination at the same time. A destination that
//! fails is dropped (its upload aborted) and the others go on; the stream fails only when none is left.

use std::io::{self, Write};

use super::Upload;
use crate::error::{Error, Kind, Result};

struct Branch {
    name: String,
    upload: Option<Box<dyn Upload>>,
    error: Option<Error>,
}

/// Writes every byte to every live destination.
pub struct Tee {
    branches: Vec<Branch>,
}

impl Tee {
    pub fn new() -> Tee {
        Tee {
            branches: Vec::new(),
        }
    }

    /// Whether the destination `name` is still being written (it neither failed to start nor was dropped).
    pub fn is_live(&self, name: &str) -> bool {
        self.branches
            .iter()
            .any(|b| b.name == name && b.upload.is_some())
    }

    /// Adds a destination; `Err` records one that could not even start.
    pub fn add(&mut self, name: &str, upload: Result<Box<dyn Upload>>) {
        let (upload, error) = match upload {
            Ok(u) => (Some(u), None),
            Err(e) => {
                tracing::error!(destination = name, error = %e, "cannot write to this destination");
                (None, Some(e))
            }
        };
        self.branches.push(Branch {
            name: name.to_string(),
            upload,
            error,
        });
    }

    fn fail(branch: &mut Branch, e: io::Error) {
        tracing::error!(destination = %branch.name, error = %e, "writing to this destination failed; the others go on");
        if let Some(upload) = branch.upload.take() {
            upload.abort();
        }
        branch.error = Some(Error::Store {
            destination: branch.name.clone(),
            source: e,
        });
    }

    /// The error once no destination is left, for the stream; [`Tee::failure_kind`] tells its kind.
    fn all_failed(&self) -> io::Error {
        let said: Vec<String> = self
            .branches
            .iter()
            .filter_map(|b| b.error.as_ref().map(|e| e.to_string()))
            .collect();
        io::Error::other(format!("every destination failed: {}", said.join("; ")))
    }

    /// When every destination failed: the kind of failure they all share (the full disk of a local-only
    /// backup), so that the service does not retry what a retry cannot fix. `None` while one is live, or for
    /// mixed kinds.
    pub fn failure_kind(&self) -> Option<Kind> {
        if self.branches.iter().any(|b| b.error.is_none()) {
            return None;
        }
        Error::common_kind(self.branches.iter().filter_map(|b| b.error.as_ref()))
    }

    /// Commits every destination still live; returns the names that hold the backup and the failures.
    pub fn commit(
        self,
        checksum_name: &str,
        checksum: &str,
        size: u64,
    ) -> (Vec<String>, Vec<(String, Error)>) {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for branch in self.branches {
            match (branch.upload, branch.error) {
                (_, Some(e)) => failed.push((branch.name, e)),
                (Some(upload), None) => match upload.commit(checksum_name, checksum, size) {
                    Ok(()) => done.push(branch.name),
                    Err(e) => failed.push((branch.name, e)),
                },
                (None, None) => {}
            }
        }
        (done, failed)
    }
}

impl Default for Tee {
    fn default() -> Self {
        Tee::new()
    }
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut live = 0;
        for branch in &mut self.branches {
            let Some(upload) = branch.upload.as_mut() else {
                continue;
            };
            match upload.write_all(buf) {
                Ok(()) => live += 1,
                Err(e) => Tee::fail(branch, e),
            }
        }
        if live == 0 {
            return Err(self.all_failed());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut live = 0;
        for branch in &mut self.branches {
            let Some(upload) = branch.upload.as_mut() else {
                continue;
            };
            match upload.flush() {
                Ok(()) => live += 1,
                Err(e) => Tee::fail(branch, e),
            }
        }
        if live == 0 {
            return Err(self.all_failed());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A destination whose disk is full.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Upload for Full {
        fn commit(self: Box<Self>, _: &str, _: &str, _: u64) -> Result<()> {
            Ok(())
        }

        fn abort(self: Box<Self>) {}
    }

    #[test]
    fn a_kind_is_common_only_when_every_failure_has_it() {
        let full = || Error::io("/b", io::Error::from(io::ErrorKind::StorageFull));
        let other = || Error::Other("x".into());
        assert_eq!(
            Error::common_kind(&[full(), full()]),
            Some(Kind::StorageFull)
        );
        assert_eq!(Error::common_kind(&[full(), other()]), None);
        assert_eq!(Error::common_kind(&[other()]), Some(Kind::Other));
        assert_eq!(Error::common_kind(&[]), None);
    }

    #[test]
    fn a_cause_every_destination_shares_keeps_its_kind() {
        let mut tee = Tee::new();
        tee.add("local", Ok(Box::new(Full)));
        let err = tee.write(b"x").unwrap_err();
        assert_eq!(tee.failure_kind(), Some(Kind::StorageFull));
        assert!(err.to_string().contains("local"), "{err}");

        let mut tee = Tee::new();
        tee.add("local", Ok(Box::new(Full)));
        tee.add("s3", Err(Error::Other("unreachable".into())));
        assert!(tee.write(b"x").is_err());
        assert_eq!(tee.failure_kind(), None);
    }
}
