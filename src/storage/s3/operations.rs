//! The bucket operations a destination uses, each one retried request: check, list, head, get, put, delete,
//! and the steps of a multipart upload (start, part, complete, abort, list the unfinished).

use std::io::Read;

use super::client::{Client, Unsupported};
use super::xml;
use crate::error::Result;

/// An object in a listing.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub size: u64,
    pub last_modified: Option<String>,
}

/// A multipart upload that was started and neither completed nor aborted.
#[derive(Debug, Clone)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
}

impl Client {
    /// Checks that the bucket answers and that the keys may list it.
    pub fn check(&self) -> Result<()> {
        let prefix = self.settings.prefix.clone();
        self.call(
            "listing the bucket",
            "GET",
            None,
            &[("list-type", "2"), ("max-keys", "1"), ("prefix", &prefix)],
            b"",
            false,
        )
        .map(|_| ())
    }

    /// The objects directly under `prefix` (not in sub-folders: the delimiter is `/`).
    pub fn list(&self, prefix: &str) -> Result<Vec<Object>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("list-type", "2"), ("prefix", prefix), ("delimiter", "/")];
            if let Some(t) = &token {
                query.push(("continuation-token", t.as_str()));
            }
            let (reply, _) = self.call("listing the bucket", "GET", None, &query, b"", false)?;
            for block in xml::blocks(&reply.body, "Contents") {
                let Some(key) = xml::value(block, "Key") else {
                    continue;
                };
                let size = xml::value(block, "Size")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                out.push(Object {
                    key,
                    size,
                    last_modified: xml::value(block, "LastModified"),
                });
            }
            let truncated = xml::value(&reply.body, "IsTruncated").as_deref() == Some("true");
            token = xml::value(&reply.body, "NextContinuationToken").filter(|t| !t.is_empty());
            if !truncated || token.is_none() {
                return Ok(out);
            }
        }
    }

    /// The sub-folders directly under `prefix` (`CommonPrefixes`), ending in `/`.
    pub fn folders(&self, prefix: &str) -> Result<Vec<String>> {
        let query = [("list-type", "2"), ("prefix", prefix), ("delimiter", "/")];
        let (reply, _) = self.call("listing the bucket", "GET", None, &query, b"", false)?;
        Ok(xml::blocks(&reply.body, "CommonPrefixes")
            .into_iter()
            .filter_map(|b| xml::value(b, "Prefix"))
            .collect())
    }

    pub fn put(&self, key: &str, body: &[u8]) -> Result<()> {
        self.call(
            &format!("uploading {key}"),
            "PUT",
            Some(key),
            &[],
            body,
            false,
        )
        .map(|_| ())
    }

    /// The object's size, `None` when it does not exist.
    pub fn head(&self, key: &str) -> Result<Option<u64>> {
        let (reply, _) = self.call(
            &format!("checking {key}"),
            "HEAD",
            Some(key),
            &[],
            b"",
            false,
        )?;
        if reply.status == 404 {
            return Ok(None);
        }
        Ok(reply
            .headers
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()))
    }

    /// A stream of the object's bytes. Only starting the download is retried.
    pub fn get(&self, key: &str) -> Result<Box<dyn Read + Send>> {
        let (reply, body) = self.call(
            &format!("downloading {key}"),
            "GET",
            Some(key),
            &[],
            b"",
            true,
        )?;
        match body {
            Some(body) => Ok(Box::new(body.into_reader())),
            None => Err(self.error(format!("downloading {key}: HTTP {}", reply.status))),
        }
    }

    pub fn delete(&self, key: &str) -> Result<()> {
        self.call(
            &format!("deleting {key}"),
            "DELETE",
            Some(key),
            &[],
            b"",
            false,
        )
        .map(|_| ())
    }

    pub fn create_multipart(&self, key: &str) -> Result<String> {
        let op = format!("starting the upload of {key}");
        let (reply, _) = self.call(&op, "POST", Some(key), &[("uploads", "")], b"", false)?;
        xml::value(&reply.body, "UploadId")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| self.error(format!("{op}: the answer holds no UploadId")))
    }

    /// Uploads part `number`; returns its ETag.
    pub fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        body: &[u8],
    ) -> Result<String> {
        let n = number.to_string();
        let op = format!("uploading part {number} of {key}");
        let (reply, _) = self.call(
            &op,
            "PUT",
            Some(key),
            &[("partNumber", &n), ("uploadId", upload_id)],
            body,
            false,
        )?;
        reply
            .headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| self.error(format!("{op}: the answer holds no ETag")))
    }

    /// Completes an upload: the object appears under its key, whole.
    pub fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u32, String)],
    ) -> Result<()> {
        let mut body = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                xml::escape(etag)
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        self.call(
            &format!("completing the upload of {key}"),
            "POST",
            Some(key),
            &[("uploadId", upload_id)],
            body.as_bytes(),
            false,
        )
        .map(|_| ())
    }

    pub fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        self.call(
            &format!("aborting the upload of {key}"),
            "DELETE",
            Some(key),
            &[("uploadId", upload_id)],
            b"",
            false,
        )
        .map(|_| ())
    }

    /// Multipart uploads under `prefix` that were neither completed nor aborted (ListMultipartUploads), or
    /// `Err(Unsupported)` from a store that does not implement the call.
    pub fn list_multipart(
        &self,
        prefix: &str,
    ) -> Result<std::result::Result<Vec<PendingUpload>, Unsupported>> {
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut query = vec![("uploads", ""), ("prefix", prefix)];
            if let Some((k, u)) = &markers {
                query.push(("key-marker", k.as_str()));
                query.push(("upload-id-marker", u.as_str()));
            }
            let (reply, _) = match self.try_call(
                "listing unfinished uploads",
                "GET",
                None,
                &query,
                b"",
                false,
            )? {
                Ok(answer) => answer,
                Err(unsupported) => return Ok(Err(unsupported)),
            };
            for block in xml::blocks(&reply.body, "Upload") {
                if let (Some(key), Some(upload_id)) =
                    (xml::value(block, "Key"), xml::value(block, "UploadId"))
                {
                    out.push(PendingUpload { key, upload_id });
                }
            }
            let truncated = xml::value(&reply.body, "IsTruncated").as_deref() == Some("true");
            let next = (
                xml::value(&reply.body, "NextKeyMarker").unwrap_or_default(),
                xml::value(&reply.body, "NextUploadIdMarker").unwrap_or_default(),
            );
            if !truncated || next.0.is_empty() {
                return Ok(Ok(out));
            }
            markers = Some(next);
        }
    }

    /// Creates the bucket (for tests and first-time setup).
    pub fn create_bucket(&self) -> Result<()> {
        self.call("creating the bucket", "PUT", None, &[], b"", false)
            .map(|_| ())
    }
}
