//! Moving bytes: a dump stream through compression and the hashing tap into a destination, and a stored
//! backup back out through decompression, with a tap that sees the plain bytes on their way.

use crate::cancel::Cancel;
use std::io::{self, Read, Write};

use super::encrypt::{self, EncryptWriter, Encryption, Keys};
use super::{Budget, Compression, Decoder, Encoder, HashingReader, HashingWriter};

/// The size of one read from the dump; large enough to keep the per-call overhead out of the profile.
const CHUNK: usize = 256 * 1024;

/// What a finished stream measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// SHA-256 (hex) of the stored bytes.
    pub sha256: String,
    /// Bytes of the dump before compression.
    pub plain_bytes: u64,
    /// Bytes stored after compression.
    pub stored_bytes: u64,
}

/// The error returned when a stream stops because the job was cancelled.
pub fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "cancelled by a stop signal")
}

/// Compresses (and, with `encryption`, encrypts) `input` into `output`, hashing what is stored. `tap` sees
/// every plain chunk first (for completeness checks); `budget` sizes the compressing threads and blocks. Returns
/// the output writer for the caller to commit.
// The stream's ends, its three settings, the memory budget, the tap and the stop token: each is its own.
#[allow(clippy::too_many_arguments)]
pub fn store<R: Read, W: Write>(
    mut input: R,
    output: W,
    compression: Compression,
    level: i32,
    encryption: Option<&Encryption>,
    budget: &Budget,
    tap: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    cancel: &Cancel,
) -> io::Result<(W, Measured)> {
    let sealed = EncryptWriter::new(HashingWriter::new(output), encryption)?;
    let mut encoder = Encoder::new(sealed, compression, level, budget)?;
    let mut buf = vec![0u8; CHUNK];
    let mut plain_bytes = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        tap(&buf[..n])?;
        encoder.write_all(&buf[..n])?;
        plain_bytes += n as u64;
    }
    let (output, sha256, stored_bytes) = encoder.finish()?.finish()?.finish();
    Ok((
        output,
        Measured {
            sha256,
            plain_bytes,
            stored_bytes,
        },
    ))
}

/// Reads a stored backup, decrypts it (when `decrypt` gives the keys of an encrypted one), decompresses it and
/// writes the plain bytes to `output`, hashing the stored bytes on the way. `tap` sees every plain chunk before
/// `output` does; `budget` sizes the decompressing threads.
pub fn load<R: Read + Send, W: Write>(
    input: R,
    mut output: W,
    compression: Compression,
    decrypt: Option<&Keys>,
    budget: &Budget,
    tap: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    cancel: &Cancel,
) -> io::Result<Measured> {
    let mut hashing = HashingReader::new(input);
    let mut plain_bytes = 0u64;
    {
        let mut decoder = open_plain(&mut hashing, compression, decrypt, budget)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            if cancel.is_cancelled() {
                return Err(cancelled());
            }
            let n = match decoder.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            tap(&buf[..n])?;
            output.write_all(&buf[..n])?;
            plain_bytes += n as u64;
        }
    }
    // Bytes after the end of the compressed stream would not be restored; read them so that the checksum
    // covers the whole file.
    io::copy(&mut hashing, &mut io::sink())?;
    output.flush()?;
    let (sha256, stored_bytes) = hashing.finish();
    Ok(Measured {
        sha256,
        plain_bytes,
        stored_bytes,
    })
}

/// The plain bytes of a stored backup read from `input`: decrypted with `decrypt` (an encrypted backup), then
/// decompressed (with threads sized from `budget`). A missing or wrong key fails here, before any plain byte is
/// produced.
pub fn open_plain<'a, R: Read + Send + 'a>(
    input: R,
    compression: Compression,
    decrypt: Option<&Keys>,
    budget: &Budget,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match decrypt {
        Some(keys) => Box::new(Decoder::new(
            encrypt::decrypt(input, keys)?,
            compression,
            budget,
        )?),
        None => Box::new(Decoder::new(input, compression, budget)?),
    })
}

/// Reads a stored backup through to its end: the SHA-256 and size of the stored bytes and, with `decrypt`,
/// proof that every encrypted chunk authenticates under the key (without decompressing).
pub fn read_through<R: Read + Send>(input: R, decrypt: Option<&Keys>) -> io::Result<(String, u64)> {
    let mut hashing = HashingReader::new(input);
    match decrypt {
        Some(keys) => {
            io::copy(&mut encrypt::decrypt(&mut hashing, keys)?, &mut io::sink())?;
            // Bytes after the last chunk would not decrypt; the hash still covers the whole file.
            io::copy(&mut hashing, &mut io::sink())?;
        }
        None => {
            io::copy(&mut hashing, &mut io::sink())?;
        }
    }
    Ok(hashing.finish())
}

/// Keeps the last `cap` bytes of a stream.
#[derive(Debug)]
pub struct Tail {
    buf: Vec<u8>,
    cap: usize,
}

impl Tail {
    pub fn new(cap: usize) -> Self {
        Tail {
            buf: Vec::with_capacity(2 * cap),
            cap,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= self.cap {
            self.buf.clear();
            self.buf.extend_from_slice(&chunk[chunk.len() - self.cap..]);
            return;
        }
        self.buf.extend_from_slice(chunk);
        if self.buf.len() > self.cap {
            self.buf.drain(..self.buf.len() - self.cap);
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_then_load_round_trips_for_every_compression() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let never = Cancel::new();
        for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
            let (stored, m) = store(
                &data[..],
                Vec::new(),
                compression,
                compression.default_level(),
                None,
                &Budget::default(),
                &mut |_| Ok(()),
                &never,
            )
            .unwrap();
            assert_eq!(m.plain_bytes, data.len() as u64);
            assert_eq!(m.stored_bytes, stored.len() as u64);
            let mut back = Vec::new();
            let l = load(
                &stored[..],
                &mut back,
                compression,
                None,
                &Budget::default(),
                &mut |_| Ok(()),
                &never,
            )
            .unwrap();
            assert_eq!(back, data, "{compression}");
            assert_eq!(l.sha256, m.sha256);
        }
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let mut tail = Tail::new(4);
        tail.push(b"ab");
        tail.push(b"cdef");
        assert_eq!(tail.bytes(), b"cdef");
        tail.push(b"g");
        assert_eq!(tail.bytes(), b"defg");
        tail.push(b"0123456789");
        assert_eq!(tail.bytes(), b"6789");
    }

    #[test]
    fn cancel_stops_the_stream() {
        let cancel = Cancel::new();
        cancel.cancel();
        let err = store(
            &b"x"[..],
            Vec::new(),
            Compression::None,
            0,
            None,
            &Budget::default(),
            &mut |_| Ok(()),
            &cancel,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
    }
}
