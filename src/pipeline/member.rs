//! The gzip member format of parallel gzip: every member's header records the member's own size in an extra
//! subfield, so that a reader finds where the next member starts without inflating this one (as BGZF does).
//!
//! A member is RFC 1952 gzip with FLG.FEXTRA set and one subfield in the extra field:
//!
//! ```text
//! 1f 8b 08 04 | MTIME 00 00 00 00 | XFL | OS ff | XLEN 08 00 | 'D' 'B' | LEN 04 00 | MSIZE (u32 LE)
//! deflate data | CRC-32 (u32 LE) | ISIZE (u32 LE)
//! ```
//!
//! MSIZE is the whole member's size in bytes, header to trailer. Readers that do not know the subfield
//! (`gunzip`, zlib) skip it, as RFC 1952 requires.

/// The subfield's id, SI1 and SI2 ("DB").
pub const SUBFIELD_ID: [u8; 2] = *b"DB";
/// Bytes of the header we write: the fixed 10, XLEN, and the 8-byte subfield.
pub const HEADER_LEN: usize = 10 + 2 + 8;
/// Bytes of the trailer: CRC-32 and ISIZE.
pub const TRAILER_LEN: usize = 8;
/// The largest member a reader accepts by its recorded size, compressed or plain. Writers make members of
/// 1 MiB of input; a larger record is damage, and refusing it keeps memory bounded.
pub const MAX_MEMBER: usize = 16 * 1024 * 1024;

const FEXTRA: u8 = 0x04;

/// The header of a member of `total` bytes compressed at libdeflate `level`.
pub fn header(total: u32, level: i32) -> [u8; HEADER_LEN] {
    // XFL as gzip writes it: 4 for the fastest levels, 2 for the slowest.
    let xfl = match level {
        ..=1 => 4,
        8.. => 2,
        _ => 0,
    };
    let size = total.to_le_bytes();
    [
        0x1f,
        0x8b,
        8,
        FEXTRA,
        0,
        0,
        0,
        0,
        xfl,
        0xff,
        8,
        0,
        SUBFIELD_ID[0],
        SUBFIELD_ID[1],
        4,
        0,
        size[0],
        size[1],
        size[2],
        size[3],
    ]
}

/// What the start of a member says: `Some(size)` when `head` (the fixed 10 bytes, XLEN and the extra field)
/// records the member's size; `None` when it is another gzip member, or not gzip.
pub fn recorded_size(fixed: &[u8; 10], extra: &[u8]) -> Option<u32> {
    if fixed[..3] != [0x1f, 0x8b, 8] || fixed[3] & FEXTRA == 0 {
        return None;
    }
    let mut rest = extra;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let data = rest.get(4..4 + len)?;
        if rest[..2] == SUBFIELD_ID && len == 4 {
            return Some(u32::from_le_bytes([data[0], data[1], data[2], data[3]]));
        }
        rest = &rest[4 + len..];
    }
    None
}

/// Whether the 10 bytes of a gzip header announce an extra field.
pub fn has_extra(fixed: &[u8; 10]) -> bool {
    fixed[..3] == [0x1f, 0x8b, 8] && fixed[3] & FEXTRA != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_records_its_size_and_other_subfields_are_skipped() {
        let h = header(123_456, 4);
        let fixed: [u8; 10] = h[..10].try_into().unwrap();
        assert!(has_extra(&fixed));
        assert_eq!(recorded_size(&fixed, &h[12..]), Some(123_456));
        // Another subfield first (BGZF's), then ours.
        let mut extra = vec![b'B', b'C', 2, 0, 9, 9];
        extra.extend_from_slice(&h[12..]);
        assert_eq!(recorded_size(&fixed, &extra), Some(123_456));
        // Only someone else's subfield; a subfield that runs past the field.
        assert_eq!(recorded_size(&fixed, &extra[..6]), None);
        assert_eq!(recorded_size(&fixed, &[b'D', b'B', 9, 0, 1]), None);
    }
}
