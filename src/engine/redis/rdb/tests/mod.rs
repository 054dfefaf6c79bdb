//! Unit tests of the RDB reader: hand-built files with every value type and opcode, damage of every kind, and
//! arbitrary bytes (the reader must refuse them, never panic).

mod writer;

use proptest::prelude::*;

use super::*;
use crate::engine::StreamCheck;
use crate::engine::redis::check::{RdbCheck, check};

use writer::{W, everything, everything_sized, module_id};

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
