//! An S3-compatible bucket as a destination: backups are objects `<S3_PREFIX>/<name>` beside their `.sha256`,
//! written by multipart upload and visible only once complete. A small client of our own (signed HTTP over
//! `ureq`) rather than a general object-storage library: see the README's "Off-site copies (S3)" for why.

mod client;
mod operations;
mod sign;
mod upload;
mod xml;

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

pub use client::Client;
pub use operations::{Object, PendingUpload};
use upload::S3Upload;

use super::{Entry, Storage, Upload};
use crate::config::S3Settings;
use crate::error::Result;

pub struct S3Store {
    client: Arc<Client>,
}

impl S3Store {
    pub fn new(settings: S3Settings) -> S3Store {
        S3Store {
            client: Arc::new(Client::new(settings)),
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
        )))
    }

    fn delete(&self, name: &str) -> Result<()> {
        self.client.delete(&self.key(name))
    }

    fn write_small(&self, name: &str, content: &[u8]) -> Result<()> {
        self.client.put(&self.key(name), content)
    }

    fn sweep_uploads(&self, ours: &dyn Fn(&str) -> bool) -> Result<usize> {
        let prefix = &self.client.settings.prefix;
        let mut removed = 0;
        for upload in self.client.list_multipart(prefix)? {
            let Some(name) = upload.key.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if name.contains('/') || !ours(name) {
                continue;
            }
            tracing::info!(destination = %self.name(), key = %upload.key, "aborting an unfinished upload of an interrupted backup");
            self.client
                .abort_multipart(&upload.key, &upload.upload_id)?;
            removed += 1;
        }
        Ok(removed)
    }
}
