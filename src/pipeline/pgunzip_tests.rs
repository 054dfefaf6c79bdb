//! Tests of the parallel gunzip: files with and without recorded sizes, mixed, damaged and cut short, and the
//! real `gzip` reading what the parallel gzip writes.

use super::*;
use crate::pipeline::pgzip::{BLOCK, ParallelGzip};
use std::io::Write;

/// Data that compresses somewhat, with an incompressible stretch, `len` bytes.
fn data(len: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_u32;
    (0..len)
        .map(|i| {
            if (i / 100_000) % 5 == 3 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            } else {
                (i * 7 % 251) as u8
            }
        })
        .collect()
}

fn ours(plain: &[u8], threads: usize) -> Vec<u8> {
    let mut gz = ParallelGzip::new(Vec::new(), 4, threads, 2 * threads).unwrap();
    gz.write_all(plain).unwrap();
    gz.finish().unwrap()
}

/// Gzip as other tools write it: one member per piece, no recorded size.
fn plain_gzip(plain: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in plain.chunks(piece.max(1)) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(chunk).unwrap();
        out.extend(e.finish().unwrap());
    }
    out
}

fn gunzip(bytes: &[u8], threads: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    ParallelGunzip::new(bytes, threads, 2 * threads).read_to_end(&mut out)?;
    Ok(out)
}

#[test]
fn round_trips_with_recorded_sizes_on_any_number_of_threads() {
    let plain = data(5 * BLOCK + 12_345);
    let stored = ours(&plain, 3);
    // Every member records its size: the first says where the second starts.
    assert_eq!(&stored[12..14], b"DB");
    let first = u32::from_le_bytes(stored[16..20].try_into().unwrap()) as usize;
    assert_eq!(&stored[first..first + 2], &[0x1f, 0x8b]);
    for threads in [1, 2, 4] {
        assert_eq!(
            gunzip(&stored, threads).unwrap(),
            plain,
            "{threads} threads"
        );
    }
    assert!(gunzip(&ours(&[], 2), 2).unwrap().is_empty());
}

#[test]
fn the_gzip_tool_reads_and_tests_the_new_files() {
    let gzip = std::process::Command::new("gzip").arg("--version").output();
    if gzip.is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "gzip is not installed (needed to check that standard tools read the backups)"
        );
        return;
    }
    let plain = data(3 * BLOCK + 777);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.gz");
    std::fs::write(&file, ours(&plain, 2)).unwrap();
    let t = std::process::Command::new("gzip")
        .arg("-t")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        t.status.success(),
        "gzip -t: {}",
        String::from_utf8_lossy(&t.stderr)
    );
    let dc = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        dc.status.success(),
        "gzip -dc: {}",
        String::from_utf8_lossy(&dc.stderr)
    );
    assert!(dc.stdout == plain, "gzip -dc gave other bytes");
}

#[test]
fn files_without_recorded_sizes_and_mixed_files_still_decode() {
    let plain = data(3 * BLOCK + 5);
    // Old backups: members without the record, and a single member of the whole file.
    assert_eq!(gunzip(&plain_gzip(&plain, BLOCK), 2).unwrap(), plain);
    assert_eq!(gunzip(&plain_gzip(&plain, plain.len()), 2).unwrap(), plain);
    // Ours, then someone else's, then ours again.
    let (a, rest) = plain.split_at(BLOCK + 3);
    let (b, c) = rest.split_at(300_000);
    let mut mixed = ours(a, 2);
    mixed.extend(plain_gzip(b, 100_000));
    mixed.extend(ours(c, 2));
    assert_eq!(gunzip(&mixed, 2).unwrap(), plain);
}

#[test]
fn odd_inputs_are_answered_as_the_streaming_reader_answers() {
    let good = ours(b"hello", 1);
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"not gzip at all");
    for input in [&b""[..], b"not gzip", &good[..5], &trailing[..]] {
        let mut expected = Vec::new();
        let want = flate2::read::MultiGzDecoder::new(input).read_to_end(&mut expected);
        let got = gunzip(input, 2);
        assert_eq!(got.is_ok(), want.is_ok(), "{input:?}: {got:?} vs {want:?}");
        if let Ok(got) = got {
            assert_eq!(got, expected);
        }
    }
}

#[test]
fn a_cut_member_fails_naming_where() {
    let stored = ours(&data(3 * BLOCK), 2);
    let first = u32::from_le_bytes(stored[16..20].try_into().unwrap()) as usize;
    let err = gunzip(&stored[..first + 1000], 2).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
    assert!(
        err.to_string().contains(&format!(
            "cut short: it ends inside the gzip member at byte {first}"
        )),
        "{err}"
    );
    // Cut inside the next member's header: no silent end either.
    assert!(gunzip(&stored[..first + 15], 2).is_err());
    assert!(gunzip(&stored[..stored.len() - 1], 2).is_err());
}

#[test]
fn a_flipped_byte_fails_naming_the_member() {
    let stored = ours(&data(3 * BLOCK), 2);
    let first = u32::from_le_bytes(stored[16..20].try_into().unwrap()) as usize;
    // In the deflate data, in the CRC-32, in ISIZE of the second member.
    let second = u32::from_le_bytes(stored[first + 16..first + 20].try_into().unwrap()) as usize;
    for at in [first + 5000, first + second - 6, first + second - 2] {
        let mut bad = stored.clone();
        bad[at] ^= 0x10;
        let err = gunzip(&bad, 2).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "byte {at}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("gzip member at byte {first}")),
            "byte {at}: {err}"
        );
    }
    // In the recorded size: the member and the next no longer line up.
    for flip in [0x01, 0x40] {
        let mut bad = stored.clone();
        bad[16] ^= flip;
        assert!(gunzip(&bad, 2).is_err(), "size flipped by {flip:#x}");
    }
}
