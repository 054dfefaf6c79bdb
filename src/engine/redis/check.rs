//! Telling a complete RDB: the stream is read through by the RDB reader (structure, end marker, CRC-64). The
//! backup and verify paths feed it chunk by chunk, so it runs on a thread of its own behind a bounded channel.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::rdb::{ErrorKind, Item, Reader};
use crate::engine::StreamCheck;

/// What a check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub version: u16,
    pub keys: u64,
    /// Whether the trailer carried a CRC-64 (it matched); false when the server had `rdbchecksum no`.
    pub checksummed: bool,
    /// Set when part of the file is newer than this reader: then only the end marker and checksum were checked.
    pub unknown: Option<String>,
}

/// Reads an RDB through and says whether it is complete and intact.
pub fn check(input: impl Read) -> Result<Summary, String> {
    let mut reader = Reader::new(input, false).map_err(|e| e.to_string())?;
    let mut summary = Summary {
        version: reader.version(),
        ..Summary::default()
    };
    loop {
        match reader.next_item() {
            Ok(Some(Item::Key(_))) => summary.keys += 1,
            Ok(Some(_)) => {}
            Ok(None) => {
                summary.checksummed = reader.end().is_some_and(|end| end.verified());
                return Ok(summary);
            }
            Err(e) if e.kind == ErrorKind::Unknown => {
                // A newer Redis: the structure cannot be followed, but the end marker and the checksum still
                // prove the file whole.
                let end = reader.drain_to_end().map_err(|e| e.to_string())?;
                if !end.verified() {
                    return Err(format!(
                        "{e}, and it carries no checksum (rdbchecksum no), so its completeness cannot be checked"
                    ));
                }
                summary.checksummed = true;
                summary.unknown = Some(e.message);
                return Ok(summary);
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The check as the backup and verify paths run it: fed chunk by chunk, a verdict at the end.
#[derive(Debug)]
pub struct RdbCheck {
    sender: Option<SyncSender<Vec<u8>>>,
    worker: Result<JoinHandle<Result<Summary, String>>, String>,
}

impl RdbCheck {
    pub fn start() -> RdbCheck {
        // A few chunks in flight keep both threads busy without holding much memory.
        let (sender, receiver) = sync_channel::<Vec<u8>>(8);
        let worker = std::thread::Builder::new()
            .name("rdb-check".into())
            .spawn(move || {
                let summary = check(ChannelReader::new(receiver))?;
                if let Some(what) = &summary.unknown {
                    tracing::warn!(
                        rdb_version = summary.version,
                        "the RDB has parts this db-backup does not know ({what}); only its end marker and \
                         CRC-64 were checked"
                    );
                }
                Ok(summary)
            })
            .map_err(|e| format!("the RDB check could not start: {e}"));
        RdbCheck {
            sender: Some(sender),
            worker,
        }
    }
}

impl StreamCheck for RdbCheck {
    fn feed(&mut self, chunk: &[u8]) {
        if let Some(sender) = &self.sender
            && sender.send(chunk.to_vec()).is_err()
        {
            // The check already stopped (it found a problem): `finish` reports it.
            self.sender = None;
        }
    }

    fn finish(mut self: Box<Self>) -> Result<(), String> {
        self.sender = None;
        let worker = std::mem::replace(&mut self.worker, Err(String::new()))?;
        let summary = worker
            .join()
            .unwrap_or_else(|_| Err("the RDB check stopped unexpectedly".into()))?;
        tracing::debug!(
            rdb_version = summary.version,
            keys = summary.keys,
            checksummed = summary.checksummed,
            "RDB checked"
        );
        Ok(())
    }
}

/// The receiving end of the channel as a byte stream; it ends when the sender is dropped.
struct ChannelReader {
    receiver: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(receiver: Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader {
            receiver,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.chunk.len() {
            match self.receiver.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
