//! Read-ahead for restores: a second thread reads (and so decompresses and decrypts) the next chunks of a
//! backup while this one hands the last chunk to the database's client, so the client never waits for them.

use crate::cancel::Cancel;
use std::io::{self, Read};
use std::sync::mpsc;

use super::cancelled;

/// The size of one chunk.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight: read ahead, being handed on, or free (1 MiB in all).
const CHUNKS: usize = 4;

/// Reads `input` to its end on a second thread and calls `sink` with every chunk, in order, on this one.
/// Stops with an error when `cancel` is set, when reading fails, or when `sink` fails.
pub fn pump(
    input: &mut (dyn Read + Send),
    cancel: &Cancel,
    sink: &mut dyn FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    // Chunks go to the reader empty and come back full; an empty read is the end.
    let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(CHUNKS);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..CHUNKS {
        // The receiver is alive here: sending cannot fail.
        let _ = free_tx.send(vec![0u8; CHUNK]);
    }
    std::thread::scope(move |scope| {
        scope.spawn(move || {
            // Either channel closing means the consumer stopped: so does the reader.
            while let Ok(mut chunk) = free_rx.recv() {
                let read = loop {
                    match input.read(&mut chunk) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        other => break other,
                    }
                };
                let end = !matches!(read, Ok(n) if n > 0);
                if full_tx.send(read.map(|n| (chunk, n))).is_err() || end {
                    return;
                }
            }
        });
        let result = loop {
            if cancel.is_cancelled() {
                break Err(cancelled());
            }
            match full_rx.recv() {
                Ok(Ok((_, 0))) => break Ok(()),
                Ok(Ok((chunk, n))) => {
                    if let Err(e) = sink(&chunk[..n]) {
                        break Err(e);
                    }
                    let _ = free_tx.send(chunk);
                }
                Ok(Err(e)) => break Err(e),
                Err(_) => break Err(io::Error::other("the reading thread stopped")),
            }
        };
        // Unblocks the reader (its next send or receive fails), which the scope then joins.
        drop(full_rx);
        drop(free_tx);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out `data` in pieces of `step` bytes, then fails if `fail` is set.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        step: usize,
        fail: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return if self.fail {
                    Err(io::Error::other("disk on fire"))
                } else {
                    Ok(0)
                };
            }
            let n = self.step.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn pieces(len: usize, step: usize, fail: bool) -> Pieces {
        Pieces {
            data: (0..len).map(|i| (i * 7 % 251) as u8).collect(),
            at: 0,
            step,
            fail,
        }
    }

    #[test]
    fn every_byte_arrives_in_order() {
        for (len, step) in [(0, 1), (1, 1), (3 * CHUNK + 5, CHUNK), (1_000_000, 4096)] {
            let mut input = pieces(len, step, false);
            let expected = input.data.clone();
            let mut got = Vec::new();
            pump(&mut input, &Cancel::new(), &mut |c| {
                got.extend_from_slice(c);
                Ok(())
            })
            .expect("pump");
            assert_eq!(got, expected, "len {len}, step {step}");
        }
    }

    #[test]
    fn a_read_error_ends_the_pump_with_it() {
        let mut input = pieces(1_000_000, 10_000, true);
        let mut got = 0;
        let err = pump(&mut input, &Cancel::new(), &mut |c| {
            got += c.len();
            Ok(())
        })
        .expect_err("the read error");
        assert_eq!(err.to_string(), "disk on fire");
        assert_eq!(got, 1_000_000, "everything before the error was handed on");
    }

    #[test]
    fn a_sink_error_stops_the_reader() {
        let mut input = pieces(100 * CHUNK, CHUNK, false);
        let mut calls = 0;
        let err = pump(&mut input, &Cancel::new(), &mut |_| {
            calls += 1;
            if calls == 2 {
                Err(io::Error::from(io::ErrorKind::BrokenPipe))
            } else {
                Ok(())
            }
        })
        .expect_err("the sink's error");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        assert!(
            input.at <= (2 + CHUNKS + 1) * CHUNK,
            "the reader went on after the sink failed: {} bytes read",
            input.at
        );
    }

    #[test]
    fn cancel_stops_it() {
        let mut input = pieces(10 * CHUNK, CHUNK, false);
        let err = pump(
            &mut input,
            &{
                let c = Cancel::new();
                c.cancel();
                c
            },
            &mut |_| Ok(()),
        )
        .expect_err("cancelled");
        assert_eq!(err.kind(), cancelled().kind());
    }
}
