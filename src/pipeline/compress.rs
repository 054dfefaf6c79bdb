//! Compression layers: gzip, zstd or none, as `Write` encoders and `Read` decoders.

use std::fmt;
use std::io::{self, BufReader, Read, Write};

use super::Budget;
use super::pgunzip::ParallelGunzip;
use super::pgzip::ParallelGzip;

/// How a backup's bytes are compressed; also decides the file name's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    Gzip,
    Zstd,
    None,
}

impl Compression {
    /// The suffix this compression adds to a file name, with its dot (empty for none).
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
            Compression::None => "",
        }
    }

    /// The compression level used when `BACKUP_COMPRESSION_LEVEL` is not set.
    pub fn default_level(self) -> i32 {
        match self {
            // libdeflate's level 4 makes files smaller than `gzip -6` at several times its speed.
            Compression::Gzip => 4,
            Compression::Zstd => 3,
            Compression::None => 0,
        }
    }

    /// The levels this compression accepts.
    pub fn level_range(self) -> (i32, i32) {
        match self {
            Compression::Gzip => (1, 12),
            Compression::Zstd => (1, 19),
            Compression::None => (0, 0),
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        })
    }
}

/// The size of a zstd worker's job. zstd's own default (four windows, 8 MiB at level 3) costs ~50 MiB of
/// buffers with two workers; jobs of 1 MiB keep the peak near the single-threaded one.
const ZSTD_JOB: u32 = 1 << 20;

/// A zstd encoder with one worker per core (one standard frame all the same).
fn zstd_encoder<W: Write>(
    inner: W,
    level: i32,
    threads: usize,
) -> io::Result<zstd::stream::write::Encoder<'static, W>> {
    let mut encoder = zstd::stream::write::Encoder::new(inner, level)?;
    if threads > 1 {
        encoder.multithread(u32::try_from(threads).unwrap_or(2))?;
        encoder.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB))?;
    }
    Ok(encoder)
}

/// A compressing writer in front of `W`; `finish` writes the trailer and hands `W` back.
pub enum Encoder<W: Write> {
    Gzip(ParallelGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> Encoder<W> {
    /// Threads and blocks in flight are sized from `budget`.
    pub fn new(
        inner: W,
        compression: Compression,
        level: i32,
        budget: &Budget,
    ) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => {
                let (threads, in_flight) = budget.gzip();
                Encoder::Gzip(ParallelGzip::new(inner, level, threads, in_flight)?)
            }
            Compression::Zstd => Encoder::Zstd(zstd_encoder(inner, level, budget.zstd_workers())?),
            Compression::None => Encoder::None(inner),
        })
    }

    /// Ends the compressed stream and returns the inner writer, flushed.
    pub fn finish(self) -> io::Result<W> {
        let mut inner = match self {
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Zstd(e) => e.finish()?,
            Encoder::None(w) => w,
        };
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::None(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::None(w) => w.flush(),
        }
    }
}

/// A decompressing reader over `R`. Gzip reads every member, as `gunzip` does, inflating members whose size
/// is recorded on one thread per core.
pub enum Decoder<R: Read> {
    Gzip(Box<ParallelGunzip<R>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<R>>),
    None(R),
}

impl<R: Read> Decoder<R> {
    /// Threads and members read ahead are sized from `budget`.
    pub fn new(inner: R, compression: Compression, budget: &Budget) -> io::Result<Self> {
        Ok(match compression {
            Compression::Gzip => {
                let (threads, in_flight) = budget.gunzip();
                Decoder::Gzip(Box::new(ParallelGunzip::new(inner, threads, in_flight)))
            }
            Compression::Zstd => Decoder::Zstd(zstd::stream::read::Decoder::new(inner)?),
            Compression::None => Decoder::None(inner),
        })
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
            Decoder::None(r) => r.read(buf),
        }
    }
}
