//! The completeness check of a SQLite database file as a stream: the magic string, and a length equal to the
//! page size times the page count that the header records.

use crate::engine::StreamCheck;

/// The first 16 bytes of every SQLite database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Checks that a stream is a whole SQLite database file: the magic string, and a length equal to the page
/// size times the page count that the header records.
#[derive(Debug, Default)]
pub struct ImageCheck {
    header: Vec<u8>,
    len: u64,
}

/// The bytes of the header the check reads (up to the "version-valid-for" number at offset 92).
const HEADER_LEN: usize = 100;

impl StreamCheck for ImageCheck {
    fn feed(&mut self, chunk: &[u8]) {
        if self.header.len() < HEADER_LEN {
            let take = (HEADER_LEN - self.header.len()).min(chunk.len());
            self.header.extend_from_slice(&chunk[..take]);
        }
        self.len += chunk.len() as u64;
    }

    fn finish(self: Box<Self>) -> std::result::Result<(), String> {
        let h = &self.header;
        if h.len() < HEADER_LEN || &h[..16] != MAGIC {
            return Err("it is not a SQLite database file (no \"SQLite format 3\" header)".into());
        }
        let page_size = match u16::from_be_bytes([h[16], h[17]]) {
            1 => 65536,
            n => u64::from(n),
        };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!(
                "its header records an impossible page size ({page_size})"
            ));
        }
        let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let pages = u64::from(be32(28));
        // The page count in the header is valid when the change counter matches "version-valid-for"; every
        // file the backup API writes has it.
        let expected = if pages > 0 && be32(24) == be32(92) {
            pages * page_size
        } else {
            self.len.div_ceil(page_size).max(1) * page_size
        };
        if self.len != expected {
            return Err(format!(
                "it is {} bytes long but its header says {expected} ({} pages of {page_size} bytes); the \
                 file was cut short or has extra bytes",
                self.len,
                expected / page_size
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rusqlite::Connection;

    pub(in crate::engine::sqlite) fn check(bytes: &[u8], chunk: usize) -> std::result::Result<(), String> {
        let mut c = Box::new(ImageCheck::default());
        for part in bytes.chunks(chunk.max(1)) {
            c.feed(part);
        }
        c.finish()
    }

    fn sample_db() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(5000)), (randomblob(9000));",
        )
        .unwrap();
        drop(conn);
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn a_whole_database_file_passes_in_any_chunking() {
        let db = sample_db();
        assert!(db.len() > 4096 * 3);
        for chunk in [1, 7, 100, 4096, 1 << 20] {
            assert_eq!(check(&db, chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn cut_padded_and_foreign_files_fail() {
        let db = sample_db();
        let cut = check(&db[..db.len() - 4096], 1000).unwrap_err();
        assert!(cut.contains("cut short"), "{cut}");
        let mut padded = db.clone();
        padded.extend_from_slice(&[0u8; 10]);
        assert!(check(&padded, 1000).is_err());
        assert!(check(b"", 10).is_err());
        assert!(check(&db[..50], 10).is_err());
        let foreign =
            check(b"-- PostgreSQL database dump\n".repeat(10).as_slice(), 64).unwrap_err();
        assert!(foreign.contains("not a SQLite"), "{foreign}");
    }

}
