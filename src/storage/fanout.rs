//! The fan-out: one stream of stored bytes written to every destination at the same time. A destination that
//! fails is dropped (its upload aborted) and the others go on; the stream fails only when none is left.

use std::io::{self, Write};

use super::Upload;
use crate::error::{Error, Result};

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
        branch.error = Some(Error::Other(format!("{}: {e}", branch.name)));
    }

    fn all_failed(&self) -> io::Error {
        let said: Vec<String> = self
            .branches
            .iter()
            .filter_map(|b| b.error.as_ref().map(|e| e.to_string()))
            .collect();
        io::Error::other(format!("every destination failed: {}", said.join("; ")))
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
