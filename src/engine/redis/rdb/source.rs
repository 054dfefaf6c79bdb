//! The byte source under the RDB reader: buffered, counting, checksumming, and keeping a value's bytes when
//! asked.

use std::io::{self, BufRead, BufReader, Read};

use super::format::MAX_DECODED;
use super::{ErrorKind, RdbError, Result};
use crate::engine::redis::crc64::Crc64;

/// The byte source: buffered, counting, checksumming, and optionally capturing what passes.
pub struct Src<R: Read> {
    inner: BufReader<R>,
    pub crc: Crc64,
    pub offset: u64,
    capture: Option<Vec<u8>>,
}

impl<R: Read> Src<R> {
    pub fn new(inner: R) -> Src<R> {
        Src {
            inner: BufReader::with_capacity(256 * 1024, inner),
            crc: Crc64::new(),
            offset: 0,
            capture: None,
        }
    }

    pub fn error(&self, kind: ErrorKind, message: impl Into<String>) -> RdbError {
        RdbError {
            kind,
            offset: self.offset,
            message: message.into(),
        }
    }

    pub fn io_error(&self, e: io::Error) -> RdbError {
        self.error(ErrorKind::Io, format!("reading it failed: {e}"))
    }

    pub fn truncated(&self) -> RdbError {
        self.error(
            ErrorKind::Truncated,
            "it ends in the middle of the data: the file is cut short",
        )
    }

    /// How many bytes are buffered, refilling when empty; 0 at the end of the stream.
    pub fn available(&mut self) -> Result<usize> {
        loop {
            match self.inner.fill_buf() {
                Ok(buf) => return Ok(buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            }
        }
    }

    /// Passes `n` buffered bytes (already in the buffer) on to the checksum and the capture.
    pub fn pass(&mut self, n: usize, out: Option<&mut Vec<u8>>) {
        let buf = self.inner.buffer();
        let chunk = &buf[..n.min(buf.len())];
        self.crc.update(chunk);
        if let Some(capture) = self.capture.as_mut() {
            capture.extend_from_slice(chunk);
        }
        if let Some(out) = out {
            out.extend_from_slice(chunk);
        }
        let n = chunk.len();
        self.inner.consume(n);
        self.offset += n as u64;
    }

    /// Reads `n` bytes, appending them to `out` when given.
    pub fn read_n(&mut self, mut n: u64, mut out: Option<&mut Vec<u8>>) -> Result<()> {
        while n > 0 {
            let have = self.available()?;
            if have == 0 {
                return Err(self.truncated());
            }
            let take = (have as u64).min(n) as usize;
            self.pass(take, out.as_deref_mut());
            n -= take as u64;
        }
        Ok(())
    }

    pub fn fill(&mut self, out: &mut [u8]) -> Result<()> {
        let mut got = Vec::with_capacity(out.len());
        self.read_n(out.len() as u64, Some(&mut got))?;
        out.copy_from_slice(&got);
        Ok(())
    }

    pub fn byte(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    pub fn skip(&mut self, n: u64) -> Result<()> {
        self.read_n(n, None)
    }

    /// Reads `n` bytes into memory; the buffer grows as the bytes really arrive, whatever `n` claims.
    pub fn take(&mut self, n: u64) -> Result<Vec<u8>> {
        if n > MAX_DECODED {
            return Err(self.error(ErrorKind::Malformed, "a key or field longer than 512 MiB"));
        }
        let mut out = Vec::with_capacity(n.min(64 * 1024) as usize);
        self.read_n(n, Some(&mut out))?;
        Ok(out)
    }

    pub fn at_eof(&mut self) -> Result<bool> {
        Ok(self.available()? == 0)
    }

    /// Starts keeping what passes (when `keep`), beginning with `first`, a byte already read.
    pub fn start_capture(&mut self, first: u8, keep: bool) {
        self.capture = keep.then(|| vec![first]);
    }

    pub fn end_capture(&mut self) -> Vec<u8> {
        self.capture.take().unwrap_or_default()
    }

    /// Reads to the end, checksumming everything but the last 8 bytes; returns the byte before them and the
    /// trailer they hold.
    pub fn drain_holding_trailer(&mut self) -> Result<(Option<u8>, u64)> {
        self.capture = None;
        let mut held: Vec<u8> = Vec::with_capacity(8);
        let mut last = None;
        loop {
            let n = self.available()?;
            if n == 0 {
                break;
            }
            let chunk = self.inner.buffer()[..n].to_vec();
            let release = (held.len() + chunk.len()).saturating_sub(8);
            let from_held = release.min(held.len());
            let from_chunk = release - from_held;
            self.crc.update(&held[..from_held]);
            self.crc.update(&chunk[..from_chunk]);
            if from_chunk > 0 {
                last = Some(chunk[from_chunk - 1]);
            } else if from_held > 0 {
                last = Some(held[from_held - 1]);
            }
            let mut next = held[from_held..].to_vec();
            next.extend_from_slice(&chunk[from_chunk..]);
            held = next;
            self.inner.consume(chunk.len());
            self.offset += chunk.len() as u64;
        }
        let trailer: [u8; 8] = held.as_slice().try_into().map_err(|_| self.truncated())?;
        Ok((last, u64::from_le_bytes(trailer)))
    }
}
