//! Any storage rclone reaches as a destination (`RCLONE_REMOTE`): backups are files `<remote>/<name>` beside
//! their `.sha256`, streamed into `rclone rcat` under a temporary name and moved to their final name once
//! complete; listed with `lsjson`, read with `cat`, deleted with `deletefile`. Every call is an rclone process
//! run through [`crate::process::Tool`], so that a stop kills it.

mod run;
mod scrub;
mod upload;

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{ChildStdout, Stdio};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Deserialize;

use super::latest_link::pointer_name;
use super::{Entry, PARTIAL_SUFFIX, Storage, Upload};
use crate::cancel::Cancel;
use crate::config::RcloneSettings;
use crate::error::Result;
use crate::naming;
use crate::process::Tool;
use run::{Patience, Rclone};
use upload::RcloneUpload;

/// A destination reached through rclone.
pub struct RcloneStore {
    rclone: Arc<Rclone>,
}

/// The temporary name a file has while it is uploaded: `.<name>.partial`, as in `BACKUP_DIR`.
fn temp_name(name: &str) -> String {
    format!(".{name}{PARTIAL_SUFFIX}")
}

/// The file a temporary name stands for.
fn of_temp(name: &str) -> Option<&str> {
    name.strip_prefix('.')?.strip_suffix(PARTIAL_SUFFIX)
}

/// A file in `rclone lsjson`'s output.
#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Size", default)]
    size: i64,
    #[serde(rename = "ModTime", default)]
    mod_time: Option<String>,
    #[serde(rename = "IsDir", default)]
    is_dir: bool,
}

impl RcloneStore {
    /// The destination; its rclone calls are killed when `cancel` kills tools.
    pub fn new(settings: RcloneSettings, cancel: &Cancel) -> RcloneStore {
        RcloneStore {
            rclone: Arc::new(Rclone::new(settings, cancel.clone())),
        }
    }

    fn with(rclone: Arc<Rclone>) -> RcloneStore {
        RcloneStore { rclone }
    }

    fn path(&self, name: &str) -> String {
        self.rclone.settings.path_of(name)
    }

    /// The size of a file, `None` when it is not there (a size rclone cannot tell counts as matching).
    fn size_of(&self, name: &str, patience: Patience) -> Result<Option<u64>> {
        let what = format!("checking {name}");
        match self.rclone.run(
            &what,
            &["lsjson", "--stat", "--no-mimetype", &self.path(name)],
            patience,
        )? {
            Ok(out) => {
                let file: Listed = serde_json::from_slice(&out).map_err(|e| {
                    self.rclone.error(format!(
                        "{what}: rclone's answer is not the expected JSON: {e}"
                    ))
                })?;
                Ok(Some(u64::try_from(file.size).unwrap_or(u64::MAX)).filter(|_| !file.is_dir))
            }
            Err(f) if f.not_found() => Ok(None),
            Err(f) => Err(self.rclone.error(f.message)),
        }
    }

    /// Writes a small file (a checksum, a manifest, a latest pointer) under a temporary name and moves it to
    /// `name`.
    fn write_whole(&self, name: &str, content: &[u8]) -> Result<()> {
        use std::io::Write;
        let temp = temp_name(name);
        let what = format!("uploading {name}");
        let mut tool = self.rclone.spawn(
            &what,
            &["rcat", &self.path(&temp)],
            Stdio::piped(),
            Stdio::null(),
            Patience::Normal,
        )?;
        let wrote = tool.take_stdin().map(|mut s| s.write_all(content));
        let (status, stderr) = tool
            .wait_status()
            .map_err(|e| self.rclone.error(format!("{what}: {e}")))?;
        if !status.success() {
            let _ = self.delete_with(&temp, Patience::Quick);
            return Err(self
                .rclone
                .error(self.rclone.failure(&what, status, &stderr).message));
        }
        if let Some(Err(e)) = wrote {
            let _ = self.delete_with(&temp, Patience::Quick);
            return Err(self.rclone.error(format!("{what}: {e}")));
        }
        self.move_to(&temp, name)
    }

    /// `rclone moveto`: a rename where the backend can move, else rclone's copy and delete.
    fn move_to(&self, from: &str, to: &str) -> Result<()> {
        let what = format!("moving {from} to {to}");
        self.rclone
            .must(
                &what,
                &["moveto", &self.path(from), &self.path(to)],
                Patience::Normal,
            )
            .map(drop)
    }

    /// Deletes a file; one that is not there is deleted already.
    fn delete_with(&self, name: &str, patience: Patience) -> Result<()> {
        let what = format!("deleting {name}");
        let path = self.path(name);
        match self
            .rclone
            .run(&what, &["deletefile", "--retries", "1", &path], patience)?
        {
            Ok(_) => Ok(()),
            // rclone says "is a directory or doesn't exist" with a general status: ask which.
            Err(f) => match self.size_of(name, patience) {
                Ok(None) => Ok(()),
                _ => Err(self.rclone.error(f.message)),
            },
        }
    }
}

/// `rclone cat`'s output; at its end, rclone's exit status decides whether the read succeeded.
struct Download {
    stdout: ChildStdout,
    tool: Option<Tool>,
    rclone: Arc<Rclone>,
    what: String,
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stdout.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let Some(tool) = self.tool.take() else {
            return Ok(0);
        };
        let (status, stderr) = tool.wait_status().map_err(io::Error::other)?;
        if status.success() {
            return Ok(0);
        }
        let failure = self.rclone.failure(&self.what, status, &stderr);
        Err(io::Error::other(format!(
            "{}: {}",
            self.rclone.label(),
            failure.message
        )))
    }
}

impl Storage for RcloneStore {
    fn name(&self) -> &str {
        &self.rclone.settings.name
    }

    fn describe(&self) -> String {
        format!("rclone {}", self.rclone.settings.remote)
    }

    fn location(&self, name: &str) -> PathBuf {
        PathBuf::from(self.path(name))
    }

    /// Creates the folder where it is missing (a union needs it on its members before it writes there), which
    /// also shows that the remote is defined, reachable and writable.
    fn check(&self) -> Result<()> {
        let remote = self.rclone.settings.remote.clone();
        self.rclone
            .must("checking the remote", &["mkdir", &remote], Patience::Normal)
            .map(drop)
    }

    /// The files directly in the remote's folder (a folder not made yet holds none).
    fn list(&self) -> Result<Vec<Entry>> {
        let remote = self.rclone.settings.remote.clone();
        let what = "listing the backups";
        let out = match self.rclone.run(
            what,
            &["lsjson", "--files-only", "--no-mimetype", &remote],
            Patience::Normal,
        )? {
            Ok(out) => out,
            Err(f) if f.not_found() => return Ok(Vec::new()),
            Err(f) => return Err(self.rclone.error(f.message)),
        };
        let listed: Vec<Listed> = serde_json::from_slice(&out).map_err(|e| {
            self.rclone.error(format!(
                "{what}: rclone's answer is not the expected JSON: {e}"
            ))
        })?;
        let mut entries: Vec<Entry> = listed
            .into_iter()
            .filter(|f| !f.is_dir)
            .map(|f| Entry {
                modified: f
                    .mod_time
                    .as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(SystemTime::from),
                size: u64::try_from(f.size).unwrap_or(0),
                name: f.name,
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn get(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        let what = format!("downloading {name}");
        let mut tool = self.rclone.spawn(
            &what,
            &["cat", &self.path(name)],
            Stdio::null(),
            Stdio::piped(),
            Patience::Normal,
        )?;
        let stdout = tool.take_stdout().ok_or_else(|| {
            self.rclone
                .error(format!("{what}: rclone's output is not readable"))
        })?;
        Ok(Box::new(Download {
            stdout,
            tool: Some(tool),
            rclone: Arc::clone(&self.rclone),
            what,
        }))
    }

    fn put(&self, name: &str) -> Result<Box<dyn Upload>> {
        Ok(Box::new(RcloneUpload::start(
            Arc::clone(&self.rclone),
            name,
        )?))
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.delete_with(name, Patience::Normal)
    }

    fn write_small(&self, name: &str, content: &[u8]) -> Result<()> {
        self.write_whole(name, content)
    }

    /// A remote has no links here: the pointer is a small file `<stem>-latest` holding the backup's name, as
    /// on S3, moved into place whole.
    fn set_latest(&self, stem: &str, _link: &str, file_name: &str) -> Result<()> {
        self.write_whole(&pointer_name(stem), format!("{file_name}\n").as_bytes())
    }

    fn get_latest(&self, stem: &str) -> Result<Option<(String, String)>> {
        let name = pointer_name(stem);
        // A pointer is one short line; anything else under that name is not ours.
        match self.size_of(&name, Patience::Normal)? {
            Some(size) if size <= 1024 => {}
            _ => return Ok(None),
        }
        let text = self.read_small(&name)?;
        let target = text.trim();
        let bare = !target.is_empty() && !target.contains(['/', '\n']);
        Ok(bare.then(|| (name, target.to_string())))
    }

    fn remove_latest(&self, stem: &str) -> Result<()> {
        self.delete(&pointer_name(stem))
    }

    /// One listing: the unfinished uploads of ours (`.<name>.partial`), then the checksums whose backup never
    /// arrived.
    fn sweep(&self, ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        let ours = |name: &str| ours(naming::side_file_owner(name).unwrap_or(name));
        let entries = self.list()?;
        let mut removed = 0;
        for entry in &entries {
            let leftover = match of_temp(&entry.name) {
                Some(file) => ours(file),
                None => naming::side_file_owner(&entry.name)
                    .is_some_and(|data| ours(data) && !entries.iter().any(|x| x.name == data)),
            };
            if leftover {
                tracing::info!(destination = self.name(), file = %entry.name, "removing what an interrupted backup left");
                self.delete(&entry.name)?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_hidden_and_known_to_the_sweep() {
        assert_eq!(temp_name("pg-x.sql.gz"), ".pg-x.sql.gz.partial");
        assert_eq!(of_temp(".pg-x.sql.gz.partial"), Some("pg-x.sql.gz"));
        assert_eq!(of_temp("pg-x.sql.gz"), None);
    }
}
