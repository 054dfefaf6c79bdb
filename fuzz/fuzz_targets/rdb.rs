//! The Redis RDB reader on arbitrary bytes: it never panics, reads the same whatever sizes the bytes arrive in,
//! and, when it keeps values, slices each one exactly (the bytes `RESTORE` is given).
//!
//! Input: a mode byte, then the file. Bit 0 of the mode: append a correct CRC-64 trailer to the file (so the
//! fuzzer also reaches the paths past the checksum); bits 1-7: the most bytes one read returns (0: no limit).
//! Entry points: `engine::redis::check` (what backup and verify run) and `engine::redis::rdb::Reader`.
#![no_main]

use std::io::{self, Read};

use crc::{CRC_64_REDIS, Crc};
use db_backup::engine::redis::check;
use db_backup::engine::redis::rdb::{ErrorKind, Item, Reader};
use libfuzzer_sys::fuzz_target;

static CRC64: Crc<u64> = Crc::<u64>::new(&CRC_64_REDIS);

/// A reader that hands out at most `max` bytes per call.
struct Chunked<'a> {
    data: &'a [u8],
    max: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.data.len()).min(self.max);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What a pass of the reader saw: each item's kind and size, and how it ended.
#[derive(Debug, PartialEq)]
struct Pass {
    items: Vec<(u8, u64)>,
    end: Result<(), (ErrorKind, u64, String)>,
}

fn read_items(input: impl Read, keep: bool) -> Pass {
    let mut items = Vec::new();
    let mut reader = match Reader::new(input, keep) {
        Ok(reader) => reader,
        Err(e) => {
            return Pass {
                items,
                end: Err((e.kind, e.offset, e.message)),
            };
        }
    };
    let end = loop {
        match reader.next_item() {
            Ok(Some(Item::Key(entry))) => {
                if keep {
                    assert_eq!(entry.serialized.len() as u64, entry.size, "{entry:?}");
                    assert_eq!(entry.serialized.first(), Some(&entry.value_type));
                } else {
                    assert!(entry.serialized.is_empty());
                }
                let _ = entry.key_label();
                items.push((entry.value_type, entry.size));
            }
            Ok(Some(Item::Function { serialized })) => {
                assert_eq!(serialized.is_empty(), !keep);
                items.push((0xf5, 0));
            }
            Ok(Some(_)) => items.push((0xff, 0)),
            Ok(None) => {
                assert!(reader.end().is_some());
                assert!(matches!(reader.next_item(), Ok(None)));
                break Ok(());
            }
            Err(e) => {
                if e.kind == ErrorKind::Unknown {
                    let _ = reader.drain_to_end();
                }
                break Err((e.kind, e.offset, e.message));
            }
        }
    };
    Pass { items, end }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let mut bytes = body.to_vec();
    if mode & 1 == 1 {
        bytes.extend_from_slice(&CRC64.checksum(body).to_le_bytes());
    }
    let max = match usize::from(mode >> 1) {
        0 => usize::MAX,
        n => n,
    };

    let whole = check(&bytes[..]);
    let chunked = check(Chunked { data: &bytes, max });
    assert_eq!(whole, chunked, "the check depends on how the bytes arrive");

    let measured = read_items(&bytes[..], false);
    let kept = read_items(Chunked { data: &bytes, max }, true);
    assert_eq!(measured, kept, "keeping values changes what is read");
    if whole.is_ok() {
        assert!(
            kept.end.is_ok() || matches!(kept.end, Err((ErrorKind::Unknown, _, _))),
            "check accepted a file the reader refuses: {:?}",
            kept.end
        );
    }
});
