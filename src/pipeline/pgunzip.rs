//! Parallel gunzip: members whose header records their size (see [`super::member`]) are read whole on the
//! calling thread and inflated by worker threads (libdeflate, CRC-32 and size checked), and handed out in
//! order; a member without the record (older backups, any other gzip) is inflated as a stream, as `gunzip`
//! does. A bounded number of members is in flight, so memory does not grow with the file.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use libdeflater::Decompressor;

use super::member::{self, MAX_MEMBER, TRAILER_LEN};

/// A member to inflate: its bytes, its plain size, where it starts in the gzip stream, and where the result goes.
struct Job {
    member: Vec<u8>,
    plain: usize,
    offset: u64,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// The input, with bytes that were read to look at a header and can be put back.
struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    /// Bytes taken from the input so far (and not put back): where the next byte is in the gzip stream.
    consumed: u64,
}

const SOURCE_BUF: usize = 64 * 1024;

impl<R: Read> Source<R> {
    /// Reads until `out` is full or the input ends; returns how many bytes it got.
    fn read_full(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut got = 0;
        while got < out.len() {
            let n = self.read(&mut out[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        Ok(got)
    }

    /// Puts `bytes` back in front of what is left to read.
    fn unread(&mut self, bytes: &[u8]) {
        let mut buf = Vec::with_capacity(SOURCE_BUF.max(bytes.len() + self.len - self.pos));
        buf.extend_from_slice(bytes);
        buf.extend_from_slice(&self.buf[self.pos..self.len]);
        self.len = buf.len();
        buf.resize(buf.capacity(), 0);
        self.buf = buf;
        self.pos = 0;
        self.consumed -= bytes.len() as u64;
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.len && out.len() >= self.buf.len() {
            let n = loop {
                match self.inner.read(out) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            self.consumed += n as u64;
            return Ok(n);
        }
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Source<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len {
            self.pos = 0;
            self.len = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.len - self.pos);
        self.pos += n;
        self.consumed += n as u64;
    }
}

enum State<R> {
    /// Between members.
    Members(Source<R>),
    /// Inside a member without a recorded size.
    Streaming(Box<flate2::bufread::GzDecoder<Source<R>>>),
    /// Only while switching between the two.
    Switching,
}

/// A gzip reader that inflates members on several threads.
pub struct ParallelGunzip<R: Read> {
    state: State<R>,
    out: Vec<u8>,
    out_pos: usize,
    jobs: Option<SyncSender<Job>>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    workers: Vec<JoinHandle<()>>,
    /// A member has been seen: the end of the input is now the end of the stream.
    started: bool,
    /// The input ended at a member's end.
    ended: bool,
    /// The next member has no recorded size; the input stands at its start.
    stream_next: bool,
}

impl<R: Read> ParallelGunzip<R> {
    /// `threads` inflating threads, `in_flight` members read ahead at most.
    pub fn new(inner: R, threads: usize, in_flight: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || work(&rx))
            })
            .collect();
        ParallelGunzip {
            state: State::Members(Source {
                inner,
                buf: vec![0; SOURCE_BUF],
                pos: 0,
                len: 0,
                consumed: 0,
            }),
            out: Vec::new(),
            out_pos: 0,
            jobs: Some(tx),
            pending: VecDeque::new(),
            max_pending: in_flight.max(1),
            workers,
            started: false,
            ended: false,
            stream_next: false,
        }
    }

    /// Reads members and hands them to the workers until enough are in flight, the input ends, or the next
    /// member must be streamed.
    fn fill(&mut self) -> io::Result<()> {
        while self.pending.len() < self.max_pending && !self.ended && !self.stream_next {
            let State::Members(source) = &mut self.state else {
                return Ok(());
            };
            let offset = source.consumed;
            let Some((member, plain)) = next_member(source, offset)? else {
                // The end of the input ends the stream once a member was seen; anything else (a member
                // without the record, bytes that are not gzip, an empty file) goes to the streaming reader,
                // which answers as `gunzip` would.
                let at_end = source.fill_buf()?.is_empty();
                if at_end && self.started {
                    self.ended = true;
                } else {
                    self.stream_next = true;
                }
                continue;
            };
            self.started = true;
            let (reply, rx) = sync_channel(1);
            let jobs = self
                .jobs
                .as_ref()
                .ok_or_else(|| io::Error::other("the gzip workers stopped"))?;
            jobs.send(Job {
                member,
                plain,
                offset,
                reply,
            })
            .map_err(|_| io::Error::other("the gzip workers stopped"))?;
            self.pending.push_back(rx);
        }
        Ok(())
    }
}

/// The next member with a recorded size, read whole, with its plain size. `None` with the input standing at
/// the start of whatever comes next: the end, a member without the record, or bytes that are not gzip.
fn next_member<R: Read>(
    source: &mut Source<R>,
    offset: u64,
) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut fixed = [0u8; 10];
    let got = source.read_full(&mut fixed)?;
    if got < fixed.len() || !member::has_extra(&fixed) {
        source.unread(&fixed[..got]);
        return Ok(None);
    }
    let mut xlen = [0u8; 2];
    let got_xlen = source.read_full(&mut xlen)?;
    let mut head = fixed.to_vec();
    head.extend_from_slice(&xlen[..got_xlen]);
    if got_xlen < 2 {
        source.unread(&head);
        return Ok(None);
    }
    let xlen = usize::from(u16::from_le_bytes(xlen));
    head.resize(12 + xlen, 0);
    let got_extra = source.read_full(&mut head[12..])?;
    head.truncate(12 + got_extra);
    let size = match member::recorded_size(&fixed, &head[12..]) {
        Some(size) if got_extra == xlen => size as usize,
        _ => {
            source.unread(&head);
            return Ok(None);
        }
    };
    if size < head.len() + TRAILER_LEN || size > MAX_MEMBER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the gzip member at byte {offset} records a size of {size} bytes, which cannot be right: the file is \
                 corrupt"
            ),
        ));
    }
    let mut whole = head;
    let have = whole.len();
    whole.resize(size, 0);
    let got = source.read_full(&mut whole[have..])?;
    if have + got < size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the file is cut short: it ends inside the gzip member at byte {offset} ({} of its {size} bytes \
                 are there)",
                have + got
            ),
        ));
    }
    let plain = u32::from_le_bytes([
        whole[size - 4],
        whole[size - 3],
        whole[size - 2],
        whole[size - 1],
    ]) as usize;
    if plain > MAX_MEMBER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the gzip member at byte {offset} claims {plain} plain bytes, more than any member holds: the \
                 file is corrupt"
            ),
        ));
    }
    Ok(Some((whole, plain)))
}

fn work(rx: &Mutex<Receiver<Job>>) {
    let mut decompressor = Decompressor::new();
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        let _ = job.reply.send(inflate(&mut decompressor, &job));
    }
}

/// Inflates one member; its CRC-32 and ISIZE, at the end its header records, must match what came out.
fn inflate(decompressor: &mut Decompressor, job: &Job) -> io::Result<Vec<u8>> {
    let damaged = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the gzip member at byte {} is corrupt: its data does not inflate to what its CRC-32 and size \
                 record",
                job.offset
            ),
        )
    };
    let mut out = vec![0u8; job.plain];
    let n = decompressor
        .gzip_decompress(&job.member, &mut out)
        .map_err(|_| damaged())?;
    let trailer = &job.member[job.member.len() - TRAILER_LEN..];
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    // libdeflate checks the trailer that follows the deflate data; this checks that it is the one at the end.
    if n != job.plain || libdeflater::crc32(&out) != crc {
        return Err(damaged());
    }
    Ok(out)
}

impl<R: Read> Read for ParallelGunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.out_pos < self.out.len() {
                let n = (self.out.len() - self.out_pos).min(buf.len());
                buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
                self.out_pos += n;
                return Ok(n);
            }
            if let State::Streaming(decoder) = &mut self.state {
                let n = decoder.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                // The member ended: back to reading members.
                if let State::Streaming(decoder) =
                    std::mem::replace(&mut self.state, State::Switching)
                {
                    self.state = State::Members(decoder.into_inner());
                }
                continue;
            }
            self.fill()?;
            if let Some(rx) = self.pending.pop_front() {
                self.out = rx
                    .recv()
                    .map_err(|_| io::Error::other("a gzip worker stopped"))??;
                self.out_pos = 0;
                continue;
            }
            if !self.stream_next {
                return Ok(0);
            }
            self.stream_next = false;
            self.started = true;
            let State::Members(source) = std::mem::replace(&mut self.state, State::Switching)
            else {
                return Err(io::Error::other("the gzip reader is in a bad state"));
            };
            self.state = State::Streaming(Box::new(flate2::bufread::GzDecoder::new(source)));
        }
    }
}

impl<R: Read> Drop for ParallelGunzip<R> {
    fn drop(&mut self) {
        drop(self.jobs.take());
        self.pending.clear();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
#[path = "pgunzip_tests.rs"]
mod tests;
