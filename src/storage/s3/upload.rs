//! A streaming upload to S3: bytes are cut into parts of `S3_PART_SIZE`, uploaded by one or two worker threads
//! while the dump goes on (memory: at most three parts; the `BACKUP_MEMORY_LIMIT` budget may make the parts
//! smaller, down to S3's 5 MiB, and the workers fewer), and the object appears only at [`Upload::commit`], when the
//! multipart upload is completed. Anything else (an error, a drop) aborts the upload. A backup smaller than one
//! part is sent with one PUT at the commit.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::client::Client;
use crate::error::{Error, Result};
use crate::storage::Upload;

/// S3 refuses uploads of more parts.
const MAX_PARTS: u32 = 10_000;

type Part = (u32, Vec<u8>);

struct Shared {
    etags: Vec<(u32, String)>,
    error: Option<Error>,
}

pub struct S3Upload {
    client: Arc<Client>,
    key: String,
    buf: Vec<u8>,
    /// The part size and the parts uploading at once, as the memory budget allows.
    part_size: usize,
    uploading: usize,
    upload_id: Option<String>,
    next_part: u32,
    bytes: u64,
    sender: Option<SyncSender<Part>>,
    /// Buffers of parts uploaded, back from the workers for the next parts: at most one filling and one per
    /// worker exist, and the allocator is not asked for a part's worth of memory each time.
    spare: Option<Receiver<Vec<u8>>>,
    workers: Vec<JoinHandle<()>>,
    shared: Arc<Mutex<Shared>>,
    finished: bool,
}

impl S3Upload {
    /// An upload of `key` in parts of `part_size` bytes, `uploading` of them at once (`Budget::s3_parts`).
    pub fn new(
        client: Arc<Client>,
        key: String,
        (part_size, uploading): (usize, usize),
    ) -> S3Upload {
        S3Upload {
            part_size,
            uploading,
            client,
            key,
            buf: Vec::with_capacity(part_size.min(1 << 20)),
            upload_id: None,
            next_part: 1,
            bytes: 0,
            sender: None,
            spare: None,
            workers: Vec::new(),
            shared: Arc::new(Mutex::new(Shared {
                etags: Vec::new(),
                error: None,
            })),
            finished: false,
        }
    }

    fn failed(&self) -> Option<String> {
        self.shared
            .lock()
            .ok()
            .and_then(|s| s.error.as_ref().map(|e| e.to_string()))
    }

    /// Hands the full buffer to the workers, starting the multipart upload at the first part.
    fn send_part(&mut self) -> Result<()> {
        if let Some(e) = self.failed() {
            return Err(Error::Other(e));
        }
        if self.next_part > MAX_PARTS {
            return Err(self.client_error(format!(
                "the backup needs more than {MAX_PARTS} parts of {} bytes; raise S3_PART_SIZE and \
                 BACKUP_MEMORY_LIMIT (half of it holds the parts of all S3 destinations)",
                self.part_size
            )));
        }
        if self.upload_id.is_none() {
            let id = self.client.create_multipart(&self.key)?;
            self.start_workers(id.clone());
            self.upload_id = Some(id);
        }
        let part = std::mem::take(&mut self.buf);
        let number = self.next_part;
        self.next_part += 1;
        let sender = self
            .sender
            .as_ref()
            .ok_or_else(|| Error::Other("the upload is closed".into()))?;
        sender.send((number, part)).map_err(|_| {
            Error::Other(
                self.failed()
                    .unwrap_or_else(|| "the upload workers stopped".into()),
            )
        })?;
        // The worker that took this part gave back its last one first: reuse it.
        self.buf = match self.spare.as_ref().and_then(|s| s.try_recv().ok()) {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(self.part_size),
        };
        Ok(())
    }

    fn client_error(&self, message: String) -> Error {
        Error::Server {
            server: self.client.label(),
            message,
        }
    }

    fn start_workers(&mut self, upload_id: String) {
        // A rendezvous channel: a part is handed over only when a worker is free, so memory stays bounded.
        let (tx, rx) = sync_channel::<Part>(0);
        let rx = Arc::new(Mutex::new(rx));
        let (spare_tx, spare_rx) = channel();
        for _ in 0..self.uploading {
            let (client, key, id, rx, shared, spare) = (
                Arc::clone(&self.client),
                self.key.clone(),
                upload_id.clone(),
                Arc::clone(&rx),
                Arc::clone(&self.shared),
                spare_tx.clone(),
            );
            self.workers.push(std::thread::spawn(move || {
                work(&client, &key, &id, &rx, &shared, &spare)
            }));
        }
        self.sender = Some(tx);
        self.spare = Some(spare_rx);
    }

    /// Waits for every part in flight; the first error, if any.
    fn drain(&mut self) -> Result<()> {
        drop(self.sender.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        match self.shared.lock().ok().and_then(|mut s| s.error.take()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn abort_now(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let _ = self.drain();
        if let Some(id) = self.upload_id.take() {
            match self.client.abort_multipart(&self.key, &id) {
                Ok(()) => {
                    tracing::info!(destination = %self.client.settings.name, key = %self.key, "unfinished upload aborted")
                }
                Err(e) => tracing::warn!(
                    destination = %self.client.settings.name, key = %self.key, error = %e,
                    "the unfinished upload could not be aborted; the next run removes it"
                ),
            }
        }
    }
}

fn work(
    client: &Client,
    key: &str,
    upload_id: &str,
    rx: &Mutex<Receiver<Part>>,
    shared: &Mutex<Shared>,
    spare: &Sender<Vec<u8>>,
) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((number, body)) = next else { return };
        if shared.lock().map(|s| s.error.is_some()).unwrap_or(true) {
            continue;
        }
        let result = client.upload_part(key, upload_id, number, &body);
        // Back to the writer before taking the next part (the writer may have stopped: then it is dropped).
        let _ = spare.send(body);
        let Ok(mut s) = shared.lock() else { return };
        match result {
            Ok(etag) => s.etags.push((number, etag)),
            Err(e) => {
                if s.error.is_none() {
                    s.error = Some(e);
                }
            }
        }
    }
}

impl Write for S3Upload {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.part_size - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        self.bytes += n as u64;
        if self.buf.len() == self.part_size {
            self.send_part()
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Upload for S3Upload {
    fn commit(mut self: Box<Self>, checksum_name: &str, checksum: &str, size: u64) -> Result<()> {
        let done = (|| -> Result<()> {
            if self.bytes != size {
                return Err(self.client_error(format!(
                    "{} bytes were uploaded but the backup has {size}",
                    self.bytes
                )));
            }
            let checksum_key = format!("{}{checksum_name}", self.client.settings.prefix);
            if self.upload_id.is_none() {
                // The checksum first, like the local copy: a backup under its final name always has one.
                self.client.put(&checksum_key, checksum.as_bytes())?;
                let body = std::mem::take(&mut self.buf);
                self.client.put(&self.key, &body)?;
            } else {
                if !self.buf.is_empty() {
                    self.send_part()?;
                }
                self.drain()?;
                let mut etags = self
                    .shared
                    .lock()
                    .map(|s| s.etags.clone())
                    .unwrap_or_default();
                etags.sort_by_key(|(n, _)| *n);
                if etags.len() as u32 != self.next_part - 1 {
                    return Err(self.client_error(format!(
                        "only {} of {} parts were uploaded",
                        etags.len(),
                        self.next_part - 1
                    )));
                }
                self.client.put(&checksum_key, checksum.as_bytes())?;
                let id = self.upload_id.clone().unwrap_or_default();
                self.client.complete_multipart(&self.key, &id, &etags)?;
                self.upload_id = None;
            }
            match self.client.head(&self.key)? {
                Some(stored) if stored == size => Ok(()),
                other => {
                    let _ = self.client.delete(&self.key);
                    let _ = self.client.delete(&checksum_key);
                    Err(self.client_error(format!(
                        "after the upload {} holds {} bytes instead of {size}; the copy was removed",
                        self.key,
                        other.map_or("no".to_string(), |n| n.to_string())
                    )))
                }
            }
        })();
        if done.is_err() {
            self.abort_now();
            let checksum_key = format!("{}{checksum_name}", self.client.settings.prefix);
            // A checksum without its backup would be swept next time anyway; removing it now keeps things tidy.
            if !matches!(self.client.head(&self.key), Ok(Some(_))) {
                let _ = self.client.delete(&checksum_key);
            }
        }
        self.finished = true;
        done
    }

    fn abort(mut self: Box<Self>) {
        self.abort_now();
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        self.abort_now();
    }
}
