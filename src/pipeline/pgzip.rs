//! Parallel gzip: the stream is cut into blocks that worker threads compress at the same time (with
//! libdeflate), each block a complete gzip member, written back in order. Concatenated members are one
//! standard gzip file (RFC 1952): `gunzip`, `gzip -t` and every zlib reader accept it. Each member records
//! its own size in its header (see [`super::member`]), so that restores can inflate members in parallel too.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use libdeflater::{CompressionLvl, Compressor};

use super::member;

/// Input bytes per gzip member. Large enough that the restarted window costs nothing measurable in size,
/// small enough that memory stays a few MiB.
pub(super) const BLOCK: usize = 1024 * 1024;

/// A block to compress, the buffer to compress it into (reused) and where to send the member.
type Job = (Vec<u8>, Vec<u8>, SyncSender<io::Result<Member>>);
/// A member: the first `len` bytes of `buf`. The buffer keeps the length of the largest member it can hold
/// and is reused, so only the pages a member fills are ever touched (a member is a third of its block, often).
type Member = (Vec<u8>, usize);

/// A gzip encoder that compresses on several threads and writes to `W` in order.
pub struct ParallelGzip<W: Write> {
    inner: Option<W>,
    block: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    pending: VecDeque<Receiver<io::Result<Member>>>,
    max_pending: usize,
    /// Blocks the workers compressed (given back at once) and buffers of members written, for the next
    /// blocks: the same few buffers go round, so memory stays what is in flight and the allocator is not
    /// asked for a MiB per block.
    spare_blocks: Receiver<Vec<u8>>,
    spare_members: Vec<Vec<u8>>,
    workers: Vec<JoinHandle<()>>,
}

impl<W: Write> ParallelGzip<W> {
    /// `level` is libdeflate's (1 to 12); `threads` compressing threads, `in_flight` blocks at most between
    /// the caller and the output (each 1 MiB of input and its member).
    pub fn new(inner: W, level: i32, threads: usize, in_flight: usize) -> io::Result<Self> {
        let level = level.clamp(1, 12);
        let lvl = CompressionLvl::new(level)
            .map_err(|e| io::Error::other(format!("gzip level: {e:?}")))?;
        let threads = threads.max(1);
        let (tx, rx) = sync_channel::<Job>(threads);
        let rx = Arc::new(Mutex::new(rx));
        let (spare_tx, spare_blocks) = channel();
        let workers = (0..threads)
            .map(|_| {
                let (rx, spare) = (Arc::clone(&rx), spare_tx.clone());
                std::thread::spawn(move || work(&rx, &spare, lvl, level))
            })
            .collect();
        Ok(ParallelGzip {
            inner: Some(inner),
            block: Vec::with_capacity(BLOCK),
            jobs: Some(tx),
            pending: VecDeque::new(),
            max_pending: in_flight.max(1),
            spare_blocks,
            spare_members: Vec::new(),
            workers,
        })
    }

    /// Compresses what is left, writes every member and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.block.is_empty() || self.pending.is_empty() {
            // An empty stream still becomes one (empty) gzip member, so the file is valid gzip.
            self.submit()?;
        }
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("the gzip stream is already finished"))
    }

    fn submit(&mut self) -> io::Result<()> {
        while self.pending.len() >= self.max_pending {
            self.write_oldest()?;
        }
        let next = self
            .spare_blocks
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
        let block = std::mem::replace(&mut self.block, next);
        let out = self.spare_members.pop().unwrap_or_default();
        let (tx, rx) = sync_channel(1);
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("the gzip workers stopped"))?;
        jobs.send((block, out, tx))
            .map_err(|_| io::Error::other("the gzip workers stopped"))?;
        self.pending.push_back(rx);
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(rx) = self.pending.pop_front() else {
            return Ok(());
        };
        let (member, len) = rx
            .recv()
            .map_err(|_| io::Error::other("a gzip worker stopped"))??;
        match self.inner.as_mut() {
            Some(inner) => inner.write_all(&member[..len])?,
            None => return Err(io::Error::other("the gzip stream is already finished")),
        }
        self.spare_members.push(member);
        Ok(())
    }
}

fn work(rx: &Mutex<Receiver<Job>>, spare: &Sender<Vec<u8>>, lvl: CompressionLvl, level: i32) {
    let mut compressor = Compressor::new(lvl);
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok((mut input, out, reply)) = job else {
            return;
        };
        let member = compress_member(&mut compressor, &input, out, level);
        input.clear();
        // The block goes back before its member, so the writer finds it when it submits the next one.
        let _ = spare.send(input);
        let _ = reply.send(member);
    }
}

/// One gzip member holding `input`, its size recorded in its header, written into `out` (reused when it is
/// large enough: a new buffer is zeroed by the allocator without touching its pages).
fn compress_member(
    compressor: &mut Compressor,
    input: &[u8],
    mut out: Vec<u8>,
    level: i32,
) -> io::Result<Member> {
    let bound = compressor.deflate_compress_bound(input.len());
    let need = member::HEADER_LEN + bound + member::TRAILER_LEN;
    if out.len() < need {
        out = vec![0u8; need];
    }
    let n = compressor
        .deflate_compress(
            input,
            &mut out[member::HEADER_LEN..member::HEADER_LEN + bound],
        )
        .map_err(|e| io::Error::other(format!("gzip compression failed: {e:?}")))?;
    let total = member::HEADER_LEN + n + member::TRAILER_LEN;
    let size =
        u32::try_from(total).map_err(|_| io::Error::other("a gzip member is larger than 4 GiB"))?;
    out[..member::HEADER_LEN].copy_from_slice(&member::header(size, level));
    let at = member::HEADER_LEN + n;
    out[at..at + 4].copy_from_slice(&libdeflater::crc32(input).to_le_bytes());
    // ISIZE is the input's size modulo 2^32 (RFC 1952).
    out[at + 4..at + 8].copy_from_slice(&(input.len() as u32).to_le_bytes());
    Ok((out, total))
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK - self.block.len();
        let n = room.min(buf.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Members are written as they complete; a partial block is kept until it is full or the stream ends.
        Ok(())
    }
}

impl<W: Write> Drop for ParallelGzip<W> {
    fn drop(&mut self) {
        drop(self.jobs.take());
        self.pending.clear();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn round_trips_in_order_across_many_blocks() {
        let data: Vec<u8> = (0..5 * BLOCK + 12345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut gz = ParallelGzip::new(Vec::new(), 4, 3, 6).unwrap();
        for piece in data.chunks(100_000) {
            gz.write_all(piece).unwrap();
        }
        let out = gz.finish().unwrap();
        assert_eq!(gunzip(&out), data);
    }

    #[test]
    fn reused_buffers_hold_members_of_every_size() {
        // Incompressible blocks between compressible ones: a small member follows a large one in the same
        // buffer, and one block and one member buffer go round.
        let mut data = Vec::new();
        for i in 0..6u32 {
            if i % 2 == 0 {
                data.extend((0..BLOCK as u32).map(|j| (j.wrapping_mul(2_654_435_761) >> 13) as u8));
            } else {
                data.extend(std::iter::repeat_n(b'a' + i as u8, BLOCK));
            }
        }
        data.extend_from_slice(b"tail");
        let mut gz = ParallelGzip::new(Vec::new(), 4, 1, 1).unwrap();
        gz.write_all(&data).unwrap();
        assert_eq!(gunzip(&gz.finish().unwrap()), data);
    }

    #[test]
    fn empty_input_is_valid_gzip() {
        let out = ParallelGzip::new(Vec::new(), 4, 2, 4)
            .unwrap()
            .finish()
            .unwrap();
        assert!(out.starts_with(&[0x1f, 0x8b]));
        assert!(gunzip(&out).is_empty());
    }
}
