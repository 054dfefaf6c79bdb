//! Unit tests of the RDB reader: hand-built files with every value type and opcode, damage of every kind, and
//! arbitrary bytes (the reader must refuse them, never panic).

use proptest::prelude::*;

use super::*;
use crate::engine::StreamCheck;
use crate::engine::redis::check::{RdbCheck, check};
use crate::engine::redis::crc64::crc64;

/// Writes RDB files by hand, remembering where each value's bytes lie.
struct W {
    bytes: Vec<u8>,
    /// (key, type byte offset, end offset) of every key written.
    values: Vec<(Vec<u8>, usize, usize)>,
    open: Option<(Vec<u8>, usize)>,
}

impl W {
    fn new(version: u16) -> W {
        W {
            bytes: format!("REDIS{version:04}").into_bytes(),
            values: Vec::new(),
            open: None,
        }
    }

    fn byte(&mut self, b: u8) -> &mut W {
        self.close();
        self.bytes.push(b);
        self
    }

    fn raw(&mut self, b: &[u8]) -> &mut W {
        self.bytes.extend_from_slice(b);
        self
    }

    fn len(&mut self, n: u64) -> &mut W {
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

    fn str(&mut self, s: &[u8]) -> &mut W {
        self.len(s.len() as u64);
        self.raw(s)
    }

    /// Starts a key: the type byte and the key; the value follows.
    fn key(&mut self, value_type: u8, key: &[u8]) -> &mut W {
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
    fn serialized(&self, i: usize) -> Vec<u8> {
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

    fn finish(&mut self, checksum: bool) -> Vec<u8> {
        self.byte(opcodes::EOF);
        let crc = if checksum { crc64(&self.bytes) } else { 0 };
        let mut out = self.bytes.clone();
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

/// A module type id for a 9-character name and an encoding version, as Redis builds it.
fn module_id(name: &str, encver: u64) -> u64 {
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
fn everything(checksum: bool) -> (Vec<u8>, W) {
    everything_sized(checksum, true)
}

/// As [`everything`]; `big` adds a key and a value longer than the reader's buffers.
fn everything_sized(checksum: bool, big: bool) -> (Vec<u8>, W) {
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

fn read_all(bytes: &[u8], keep: bool) -> std::result::Result<Vec<Item>, RdbError> {
    let mut reader = Reader::new(bytes, keep)?;
    let mut items = Vec::new();
    while let Some(item) = reader.next_item()? {
        items.push(item);
    }
    Ok(items)
}

fn keys(items: &[Item]) -> Vec<&Entry> {
    items
        .iter()
        .filter_map(|i| match i {
            Item::Key(e) => Some(e),
            _ => None,
        })
        .collect()
}

#[test]
fn every_type_and_opcode_is_read_and_each_value_sliced_exactly() {
    let (bytes, w) = everything(true);
    let items = read_all(&bytes, true).expect("a valid file");
    let entries = keys(&items);
    assert_eq!(entries.len(), w.values.len());
    for (i, entry) in entries.iter().enumerate() {
        assert_eq!(entry.key, w.values[i].0, "key {i}");
        assert_eq!(
            entry.serialized,
            w.serialized(i),
            "value of {}",
            entry.key_label()
        );
        assert_eq!(entry.size, entry.serialized.len() as u64);
    }
    let by_key = |k: &[u8]| *entries.iter().find(|e| e.key == k).expect("key present");
    assert_eq!(by_key(b"int-value").serialized, vec![0, 0xc1, 0xd2, 0x04]);
    assert_eq!(by_key(b"expiring").expire_ms, Some(4_000_000_000_000));
    assert_eq!(by_key(b"plain").expire_ms, None);
    assert_eq!(by_key(b"module-key").module.as_deref(), Some("modtypeAB"));
    assert_eq!(by_key(b"module-key").idle, Some(77));
    assert_eq!(by_key(b"quicklist").freq, Some(9));
    assert_eq!(by_key(b"hfe-pre").db, 5);
    assert_eq!(by_key(b"hfe-pre").expire_ms, Some(2_000_000_000_000));
    assert_eq!(by_key(b"plain").db, 0);
    assert!(
        items
            .iter()
            .any(|i| matches!(i, Item::ModuleAux { module } if module == "testmodul"))
    );
    assert!(items.iter().any(|i| matches!(i, Item::SelectDb(5))));
    let function = items
        .iter()
        .find_map(|i| match i {
            Item::Function { serialized } => Some(serialized),
            _ => None,
        })
        .expect("a function");
    assert_eq!(function[0], opcodes::FUNCTION2);
    assert!(function.ends_with(b"return 1 end)"));
    assert!(items.iter().any(
        |i| matches!(i, Item::Aux { name, value } if name == b"ctime" && value == b"1700000000")
    ));
}

#[test]
fn without_keeping_values_nothing_is_held_but_everything_is_measured() {
    let (bytes, _) = everything(true);
    let items = read_all(&bytes, false).expect("a valid file");
    for entry in keys(&items) {
        assert!(entry.serialized.is_empty());
        assert!(entry.size > 1);
    }
    let summary = check(&bytes[..]).expect("complete");
    assert_eq!(summary.version, 12);
    assert_eq!(summary.keys, 27);
    assert!(summary.checksummed);
    assert!(summary.unknown.is_none());
}

#[test]
fn a_zero_checksum_means_disabled() {
    let (bytes, _) = everything(false);
    let summary = check(&bytes[..]).expect("complete");
    assert!(!summary.checksummed);
}

#[test]
fn a_wrong_checksum_is_damage() {
    let (mut bytes, _) = everything(true);
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    let err = read_all(&bytes, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Checksum);
    // A flipped byte inside a value that keeps the structure intact is found by the checksum.
    let (mut bytes, w) = everything(true);
    let (_, _, end) = w.values[0];
    bytes[end - 1] ^= 0x20;
    assert_eq!(
        read_all(&bytes, false).unwrap_err().kind,
        ErrorKind::Checksum
    );
}

#[test]
fn every_truncation_is_refused() {
    let (bytes, _) = everything_sized(true, false);
    for cut in 0..bytes.len() {
        let result = check(&bytes[..cut]);
        assert!(
            result.is_err(),
            "a file cut at {cut} of {} passed",
            bytes.len()
        );
    }
    let err = read_all(&bytes[..bytes.len() / 2], false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Truncated);
    assert!(err.to_string().contains("cut short"), "{err}");
}

#[test]
fn bytes_after_the_end_are_refused() {
    let (mut bytes, _) = everything(true);
    bytes.push(0);
    let err = read_all(&bytes, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
}

#[test]
fn not_an_rdb() {
    let err = read_all(b"hello world, this is not it", false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Malformed);
    assert!(err.to_string().contains("REDIS"));
    assert_eq!(
        read_all(b"REDIS", false).unwrap_err().kind,
        ErrorKind::Truncated
    );
    assert_eq!(
        read_all(b"REDISxxxx", false).unwrap_err().kind,
        ErrorKind::Malformed
    );
    assert_eq!(
        read_all(b"REDIS0003\xff", false).unwrap_err().kind,
        ErrorKind::Malformed
    );
}

#[test]
fn an_unknown_type_names_the_key_and_the_check_falls_back_to_the_checksum() {
    let mut w = W::new(11);
    w.byte(opcodes::SELECTDB).len(2);
    w.key(types::STRING, b"before").str(b"v");
    w.key(99, b"the-key").str(b"whatever the future holds");
    let bytes = w.finish(true);
    let err = read_all(&bytes, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unknown);
    assert!(err.message.contains("\"the-key\""), "{err}");
    assert!(err.message.contains("db 2"), "{err}");
    assert!(err.message.contains("99"), "{err}");
    let summary = check(&bytes[..]).expect("whole by its checksum");
    assert!(summary.unknown.is_some());
    // Cut short, the fallback notices.
    assert!(check(&bytes[..bytes.len() - 3]).is_err());
    // Without a checksum there is nothing to go by.
    let bytes = w.finish(false);
    assert!(check(&bytes[..]).is_err());
}

#[test]
fn a_newer_version_is_checked_by_its_checksum() {
    let mut w = W::new(13);
    w.raw(&[0xf0, 1, 2, 3]);
    let bytes = w.finish(true);
    let err = read_all(&bytes, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unknown);
    assert!(err.message.contains("version 13"));
    let summary = check(&bytes[..]).expect("whole by its checksum");
    assert_eq!(summary.version, 13);
    let mut damaged = bytes.clone();
    damaged[10] ^= 1;
    assert!(check(&damaged[..]).unwrap_err().contains("damaged"));
}

#[test]
fn a_pre_release_module_value_is_refused_naming_the_key() {
    let mut w = W::new(9);
    w.key(types::MODULE_PRE_GA, b"mod")
        .len(module_id("oldmodule", 0));
    w.raw(&[1, 2, 3]);
    let bytes = w.finish(true);
    let err = read_all(&bytes, false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unknown);
    assert!(
        err.message.contains("\"mod\"") && err.message.contains("oldmodule"),
        "{err}"
    );
}

#[test]
fn module_names_decode_as_redis_encodes_them() {
    assert_eq!(module_name(module_id("ReJSON-RL", 3)), "ReJSON-RL");
    assert_eq!(module_name(module_id("MBbloom--", 0)), "MBbloom--");
}

#[test]
fn long_keys_are_labelled_short() {
    let label = key_label(&[b'x'; 300]);
    assert!(label.len() < 150 && label.contains("300 bytes"), "{label}");
    assert_eq!(key_label(b"a\"b"), "\"a\\\"b\"");
}

#[test]
fn the_streaming_check_agrees_with_the_direct_one() {
    let (bytes, _) = everything(true);
    for chunk in [7, 4096, 100_000, bytes.len()] {
        let mut check: Box<RdbCheck> = Box::new(RdbCheck::start());
        for piece in bytes.chunks(chunk) {
            check.feed(piece);
        }
        assert!(check.finish().is_ok(), "chunks of {chunk}");
    }
    let mut check = Box::new(RdbCheck::start());
    check.feed(&bytes[..bytes.len() - 1]);
    assert!(check.finish().is_err());
    // A check that fails early keeps accepting chunks and reports at the end.
    let mut check = Box::new(RdbCheck::start());
    for _ in 0..100 {
        check.feed(b"not an RDB at all");
    }
    assert!(check.finish().unwrap_err().contains("REDIS"));
}

/// Drives a reader over arbitrary bytes; it must end with a result, never a panic or a hang.
fn read_anything(bytes: &[u8], keep: bool) {
    let Ok(mut reader) = Reader::new(bytes, keep) else {
        return;
    };
    for _ in 0..=bytes.len() {
        match reader.next_item() {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("more items than bytes");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        read_anything(&bytes, true);
        let _ = check(&bytes[..]);
    }

    #[test]
    fn random_bodies_after_a_valid_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = b"REDIS0010".to_vec();
        bytes.extend_from_slice(&body);
        read_anything(&bytes, true);
        read_anything(&bytes, false);
        let _ = check(&bytes[..]);
    }

    #[test]
    fn damage_to_a_valid_file_is_found(at in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let (mut bytes, _) = everything_sized(true, false);
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        read_anything(&bytes, true);
        prop_assert!(check(&bytes[..]).is_err(), "a change at byte {} went unnoticed", i);
    }
}
