//! A backup streamed into `rclone rcat` as it is made, under a temporary name (`.<name>.partial`); the commit
//! checks its size, writes the checksum the same way, and moves both to their final names (`rclone moveto`: a
//! rename where the backend can, else rclone's copy and delete).

use std::io::{self, BufWriter, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::Arc;

use super::run::{Patience, Rclone};
use super::{RcloneStore, temp_name};
use crate::error::Result;
use crate::process::Tool;

/// How much is gathered before a write to rclone's stdin.
const BUFFER: usize = 256 * 1024;

pub struct RcloneUpload {
    rclone: Arc<Rclone>,
    name: String,
    temp: String,
    tool: Option<Tool>,
    stdin: Option<BufWriter<ChildStdin>>,
}

impl RcloneUpload {
    /// Starts `rclone rcat` into the temporary name of `name`.
    pub fn start(rclone: Arc<Rclone>, name: &str) -> Result<RcloneUpload> {
        let temp = temp_name(name);
        let path = rclone.settings.path_of(&temp);
        let mut tool = rclone.spawn(
            &format!("uploading {name}"),
            &["rcat", &path],
            Stdio::piped(),
            Stdio::null(),
            Patience::Normal,
        )?;
        let stdin = tool
            .take_stdin()
            .map(|s| BufWriter::with_capacity(BUFFER, s));
        Ok(RcloneUpload {
            rclone,
            name: name.to_string(),
            temp,
            tool: Some(tool),
            stdin,
        })
    }

    /// Ends the upload: stdin closed, rclone waited for. `Err` with its words when it failed.
    fn finish_rcat(&mut self) -> std::result::Result<(), String> {
        let flushed = match self.stdin.take() {
            Some(mut stdin) => stdin.flush().map_err(|e| e.to_string()),
            None => Ok(()),
        };
        let Some(tool) = self.tool.take() else {
            return Err("the upload had already failed".to_string());
        };
        let what = format!("uploading {}", self.name);
        let (status, stderr) = tool.wait_status().map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(self.rclone.failure(&what, status, &stderr).message);
        }
        flushed.map_err(|e| format!("{what}: {e}"))
    }

    /// A failed write: rclone's own reason when it has ended (a broken pipe says nothing).
    fn write_failed(&mut self, e: io::Error) -> io::Error {
        self.close_stdin_unflushed();
        let message = match self.finish_rcat() {
            Err(said) => said,
            Ok(()) => format!("uploading {}: {e}", self.name),
        };
        io::Error::new(e.kind(), format!("{}: {message}", self.rclone.label()))
    }

    fn commit_steps(&mut self, checksum_name: &str, checksum: &str, size: u64) -> Result<()> {
        self.finish_rcat().map_err(|m| self.rclone.error(m))?;
        let store = RcloneStore::with(Arc::clone(&self.rclone));
        match store.size_of(&self.temp, Patience::Normal)? {
            Some(found) if found != size => {
                return Err(self.rclone.error(format!(
                    "uploading {}: the uploaded file holds {found} bytes, not the {size} written; it is removed",
                    self.name
                )));
            }
            None => {
                return Err(self.rclone.error(format!(
                    "uploading {}: rclone finished but the file is not there ({})",
                    self.name, self.temp
                )));
            }
            Some(_) => {}
        }
        // The checksum first: a backup under its final name always has one. A checksum left without its
        // backup by a crash is swept at the next run.
        store.write_whole(checksum_name, checksum.as_bytes())?;
        store.move_to(&self.temp, &self.name)
    }
}

impl Write for RcloneUpload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = match self.stdin.as_mut() {
            Some(stdin) => stdin.write(buf),
            None => return Err(io::Error::other("the upload has ended")),
        };
        result.map_err(|e| self.write_failed(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = match self.stdin.as_mut() {
            Some(stdin) => stdin.flush(),
            None => Ok(()),
        };
        result.map_err(|e| self.write_failed(e))
    }
}

impl super::Upload for RcloneUpload {
    fn commit(mut self: Box<Self>, checksum_name: &str, checksum: &str, size: u64) -> Result<()> {
        let result = self.commit_steps(checksum_name, checksum, size);
        if result.is_err() {
            self.abort_quietly();
        }
        result
    }

    fn abort(mut self: Box<Self>) {
        self.abort_quietly();
    }
}

impl RcloneUpload {
    /// Closes rclone's stdin without writing what is buffered (a `BufWriter` dropped would, and block on an
    /// rclone that no longer reads).
    fn close_stdin_unflushed(&mut self) {
        if let Some(stdin) = self.stdin.take() {
            drop(stdin.into_parts());
        }
    }

    /// Stops rclone and removes the temporary file, as far as the remote lets us now (the next run's sweep
    /// removes what is left).
    fn abort_quietly(&mut self) {
        if let Some(tool) = self.tool.take() {
            tool.kill();
        }
        self.close_stdin_unflushed();
        let store = RcloneStore::with(Arc::clone(&self.rclone));
        if let Err(e) = store.delete_with(&self.temp, Patience::Quick) {
            tracing::warn!(destination = %self.rclone.settings.name, file = %self.temp, error = %e,
                "the unfinished upload could not be removed now; the next backup removes it");
        }
    }
}
