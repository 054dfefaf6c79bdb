//! Writes RDB files by hand for the reader's tests, remembering where each value's bytes lie; and one file
//! with every value type, opcode and string encoding the reader knows.

use crate::engine::redis::crc64::crc64;
use crate::engine::redis::rdb::{opcodes, types};

/// Writes RDB files by hand, remembering where each value's bytes lie.
pub(super) struct W {
    pub(super) bytes: Vec<u8>,
    /// (key, type byte offset, end offset) of every key written.
    pub(super) values: Vec<(Vec<u8>, usize, usize)>,
    open: Option<(Vec<u8>, usize)>,
}

impl W {
    pub(super) fn new(version: u16) -> W {
        W {
            bytes: format!("REDIS{version:04}").into_bytes(),
            values: Vec::new(),
            open: None,
        }
    }

    pub(super) fn byte(&mut self, b: u8) -> &mut W {
        self.close();
        self.bytes.push(b);
        self
    }

    pub(super) fn raw(&mut self, b: &[u8]) -> &mut W {
        self.bytes.extend_from_slice(b);
        self
    }

    pub(super) fn len(&mut self, n: u64) -> &mut W {
        if n < 64 {
            self.bytes.push(n as u8);
        } else if n < 16384 {
            self.bytes.push(0x40 | (n >> 8) as u8);
            self.bytes.push(n as u8);
        } else if n <= u64::from(u32::MAX) {
            self.bytes.push(0x80);
            self.bytes.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            self.bytes.push(0x81);
            self.bytes.extend_from_slice(&n.to_be_bytes());
        }
        self
    }

    pub(super) fn str(&mut self, s: &[u8]) -> &mut W {
        self.len(s.len() as u64);
        self.raw(s)
    }

    /// Starts a key: the type byte and the key; the value follows.
    pub(super) fn key(&mut self, value_type: u8, key: &[u8]) -> &mut W {
        self.close();
        let at = self.bytes.len();
        self.bytes.push(value_type);
        self.str(key);
        self.open = Some((key.to_vec(), at));
        self
    }

    fn close(&mut self) {
        if let Some((key, at)) = self.open.take() {
            self.values.push((key, at, self.bytes.len()));
        }
    }

    /// The serialized value of key number `i`: the type byte and the value, without the key.
    pub(super) fn serialized(&self, i: usize) -> Vec<u8> {
        let (key, at, end) = &self.values[i];
        let key_bytes = {
            let mut w = W::new(0);
            w.bytes.clear();
            w.str(key);
            w.bytes
        };
        let mut out = vec![self.bytes[*at]];
        out.extend_from_slice(&self.bytes[at + 1 + key_bytes.len()..*end]);
        out
    }

    pub(super) fn finish(&mut self, checksum: bool) -> Vec<u8> {
        self.byte(opcodes::EOF);
        let crc = if checksum { crc64(&self.bytes) } else { 0 };
        let mut out = self.bytes.clone();
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// A module type id for a 9-character name and an encoding version, as Redis builds it.
pub(super) fn module_id(name: &str, encver: u64) -> u64 {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut id = 0u64;
    for c in name.bytes() {
        id = id << 6 | CHARS.iter().position(|&x| x == c).unwrap() as u64;
    }
    id << 10 | encver
}

fn stream_value(w: &mut W, t: u8) {
    w.len(1).str(&[0u8; 16]).str(b"listpack-bytes");
    w.len(3).len(1700000000000).len(2);
    if t >= types::STREAM_LISTPACKS_2 {
        w.len(1700000000000).len(0).len(0).len(0).len(3);
    }
    w.len(1); // one group
    w.str(b"group").len(1700000000000).len(1);
    if t >= types::STREAM_LISTPACKS_2 {
        w.len(2);
    }
    w.len(1).raw(&[7u8; 16]).raw(&[1u8; 8]).len(1); // one pending entry
    w.len(1).str(b"consumer").raw(&[2u8; 8]); // one consumer
    if t >= types::STREAM_LISTPACKS_3 {
        w.raw(&[3u8; 8]);
    }
    w.len(1).raw(&[7u8; 16]);
}

/// A file with every value type, opcode and string encoding the reader knows.
pub(super) fn everything(checksum: bool) -> (Vec<u8>, W) {
    everything_sized(checksum, true)
}

/// As [`everything`]; `big` adds a key and a value longer than the reader's buffers.
pub(super) fn everything_sized(checksum: bool, big: bool) -> (Vec<u8>, W) {
    use types::*;
    let mut w = W::new(12);
    w.byte(opcodes::AUX).str(b"redis-ver").str(b"7.4.0");
    w.byte(opcodes::AUX)
        .str(b"ctime")
        .raw(&[0xc2])
        .raw(&1_700_000_000i32.to_le_bytes());
    w.byte(opcodes::MODULE_AUX)
        .len(module_id("testmodul", 1))
        .len(2)
        .len(2);
    w.len(2).len(42).len(5).str(b"data").len(0);
    w.byte(opcodes::FUNCTION2)
        .str(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)");
    w.byte(opcodes::SELECTDB).len(0);
    w.byte(opcodes::RESIZEDB).len(10).len(1);
    w.key(STRING, b"plain").str(b"value");
    w.key(STRING, b"int-value")
        .raw(&[0xc1])
        .raw(&1234i16.to_le_bytes());
    w.byte(opcodes::EXPIRETIME_MS)
        .raw(&4_000_000_000_000i64.to_le_bytes());
    w.key(STRING, b"expiring")
        .raw(&[0xc3])
        .len(6)
        .len(9)
        .raw(&[2, b'a', b'b', b'c', 4 << 5, 2]);
    w.key(LIST, b"list").len(2).str(b"a").raw(&[0xc0, 5]);
    w.key(SET, b"set").len(2).str(b"x").str(b"y");
    w.key(ZSET, b"zset-old")
        .len(3)
        .str(b"a")
        .raw(&[3])
        .raw(b"1.5");
    w.str(b"b").raw(&[253]).str(b"c").raw(&[255]);
    w.key(HASH, b"hash").len(1).str(b"field").str(b"value");
    w.key(ZSET_2, b"zset")
        .len(1)
        .str(b"m")
        .raw(&2.5f64.to_le_bytes());
    w.byte(opcodes::IDLE).len(77);
    w.key(MODULE_2, b"module-key")
        .len(module_id("modtypeAB", 3));
    w.len(1)
        .len(5)
        .len(2)
        .len(9)
        .len(3)
        .raw(&[0; 4])
        .len(4)
        .raw(&[0; 8])
        .len(5)
        .str(b"s")
        .len(0);
    for (i, t) in [
        HASH_ZIPMAP,
        LIST_ZIPLIST,
        SET_INTSET,
        ZSET_ZIPLIST,
        HASH_ZIPLIST,
        HASH_LISTPACK,
        ZSET_LISTPACK,
        SET_LISTPACK,
        HASH_LISTPACK_EX_PRE_GA,
    ]
    .into_iter()
    .enumerate()
    {
        w.key(t, format!("blob-{i}").as_bytes())
            .str(&vec![i as u8; 100 + i]);
    }
    w.byte(opcodes::FREQ).raw(&[9]);
    w.key(LIST_QUICKLIST, b"quicklist")
        .len(2)
        .str(&[1; 300])
        .str(&[2; 20]);
    w.key(LIST_QUICKLIST_2, b"quicklist2")
        .len(2)
        .len(2)
        .str(&[1; 30])
        .len(1)
        .str(b"plain node");
    for t in [STREAM_LISTPACKS, STREAM_LISTPACKS_2, STREAM_LISTPACKS_3] {
        w.key(t, format!("stream-{t}").as_bytes());
        stream_value(&mut w, t);
    }
    w.byte(opcodes::SELECTDB).len(5);
    w.byte(opcodes::SLOT_INFO).len(1).len(2).len(0);
    w.byte(opcodes::EXPIRETIME)
        .raw(&2_000_000_000i32.to_le_bytes());
    w.key(HASH_METADATA_PRE_GA, b"hfe-pre")
        .len(1)
        .len(5)
        .str(b"f")
        .str(b"v");
    w.key(HASH_METADATA, b"hfe")
        .raw(&[0; 8])
        .len(2)
        .len(0)
        .str(b"f")
        .str(b"v");
    w.len(3).str(b"g").str(b"w");
    w.key(HASH_LISTPACK_EX, b"hfe-lp")
        .raw(&[0; 8])
        .str(b"listpack");
    if big {
        w.key(STRING, &vec![b'k'; 20_000]).str(&vec![b'v'; 300_000]);
    }
    let bytes = w.finish(checksum);
    (bytes, w)
}
