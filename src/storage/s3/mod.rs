//! An S3-compatible bucket as a destination: backups are objects `<S3_PREFIX>/<name>` beside their `.sha256`,
//! written by multipart upload and visible only once complete. A small client of our own (signed HTTP over
//! `ureq`) rather than a general object-storage library: see the README's "Off-site copies (S3)" for why.

mod client;
mod credentials;
mod operations;
mod sign;
mod trust;
mod upload;
mod xml;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

pub use client::{Client, Unsupported};
pub use operations::{Object, PendingUpload};
use upload::S3Upload;

use super::latest_link::pointer_name;
use super::{Entry, Storage, Upload};
use crate::config::S3Settings;
use crate::error::Result;
use crate::pipeline::Budget;

pub struct S3Store {
    client: Arc<Client>,
    /// The part size and the parts uploading at once, as the memory budget allows.
    parts: (usize, usize),
}

impl S3Store {
    /// The destination `settings`, its uploads' parts sized from `budget`.
    pub fn new(settings: S3Settings, budget: &Budget) -> S3Store {
        let parts = budget.s3_parts(settings.part_size);
        S3Store {
            client: Arc::new(Client::new(settings)),
            parts,
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.client.settings.prefix)
    }
}

impl Storage for S3Store {
    fn name(&self) -> &str {
        &self.client.settings.name
    }

    fn describe(&self) -> String {
        let s = &self.client.settings;
        format!("s3://{}/{} at {}", s.bucket, s.prefix, s.endpoint)
    }

    fn location(&self, name: &str) -> PathBuf {
        let s = &self.client.settings;
        PathBuf::from(format!("s3://{}/{}{name}", s.bucket, s.prefix))
    }

    fn check(&self) -> Result<()> {
        self.client.check()
    }

    /// The objects directly under the prefix (a prefix `backups/` never lists `backups-old/`, nor `backups/x/`).
    fn list(&self) -> Result<Vec<Entry>> {
        let prefix = &self.client.settings.prefix;
        let mut out: Vec<Entry> = self
            .client
            .list(prefix)?
            .into_iter()
            .filter_map(|o| {
                let name = o.key.strip_prefix(prefix.as_str())?;
                (!name.is_empty() && !name.contains('/')).then(|| Entry {
                    name: name.to_string(),
                    size: o.size,
                    modified: None,
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn get(&self, name: &str) -> Result<Box<dyn Read + Send>> {
        self.client.get(&self.key(name))
    }

    fn put(&self, name: &str) -> Result<Box<dyn Upload>> {
        Ok(Box::new(S3Upload::new(
            Arc::clone(&self.client),
            self.key(name),
            self.parts,
        )))
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.client.delete(&self.key(name))
    }

    /// S3 has no links: the pointer is a small object `<stem>-latest` holding the backup's name (one line),
    /// written in one PUT, which S3 makes visible atomically.
    fn set_latest(&self, stem: &str, _link: &str, file_name: &str) -> Result<()> {
        let key = self.key(&pointer_name(stem));
        self.client.put(&key, format!("{file_name}\n").as_bytes())
    }

    fn get_latest(&self, stem: &str) -> Result<Option<(String, String)>> {
        let name = pointer_name(stem);
        let key = self.key(&name);
        // A pointer is one short line; anything else under that name is not ours.
        match self.client.head(&key)? {
            Some(size) if size <= 1024 => {}
            _ => return Ok(None),
        }
        let mut text = String::new();
        self.client
            .get(&key)?
            .take(1024)
            .read_to_string(&mut text)
            .map_err(|e| crate::error::Error::io(self.location(&name), e))?;
        let target = text.trim();
        let bare = !target.is_empty() && !target.contains(['/', '\n']);
        Ok(bare.then(|| (name, target.to_string())))
    }

    fn remove_latest(&self, stem: &str) -> Result<()> {
        self.client.delete(&self.key(&pointer_name(stem)))
    }

    fn write_small(&self, name: &str, content: &[u8]) -> Result<()> {
        self.client.put(&self.key(name), content)
    }

    /// Housekeeping: a store that lacks ListMultipartUploads (HTTP 501), or refuses or fails it, stays usable; a
    /// warning names the call and the lifecycle rule that removes unfinished uploads instead.
    fn sweep_uploads(&self, ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        let prefix = &self.client.settings.prefix;
        let uploads = match self.client.list_multipart(prefix) {
            Ok(Ok(uploads)) => uploads,
            Ok(Err(unsupported)) => {
                tracing::warn!(
                    destination = %self.name(), call = "ListMultipartUploads", store_said = %unsupported.detail,
                    "{}", housekeeping_advice("the store does not implement ListMultipartUploads")
                );
                return Ok(0);
            }
            Err(e) => {
                tracing::warn!(
                    destination = %self.name(), call = "ListMultipartUploads", error = %e,
                    "{}", housekeeping_advice("listing unfinished uploads failed")
                );
                return Ok(0);
            }
        };
        let mut removed = 0;
        for upload in uploads {
            let Some(name) = upload.key.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if name.contains('/') || !ours(name) {
                continue;
            }
            tracing::info!(destination = %self.name(), key = %upload.key, "aborting an unfinished upload of an interrupted backup");
            match self.client.abort_multipart(&upload.key, &upload.upload_id) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(
                    destination = %self.name(), call = "AbortMultipartUpload", key = %upload.key, error = %e,
                    "{}", housekeeping_advice("an unfinished upload could not be aborted")
                ),
            }
        }
        Ok(removed)
    }
}

/// What a warning about the stale-upload sweep says: the destination stays in use, and the bucket's lifecycle rule
/// `AbortIncompleteMultipartUpload` removes what interrupted backups left.
fn housekeeping_advice(what: &str) -> String {
    format!(
        "{what}: the destination stays in use, but unfinished uploads that interrupted backups leave are not \
         removed by db-backup and keep taking space; give the bucket a lifecycle rule with \
         AbortIncompleteMultipartUpload (e.g. DaysAfterInitiation 1), which removes them"
    )
}
