//! CRC-64 as Redis computes it (Jones polynomial, reflected; CRC-64/REDIS in the catalogue): the trailer of an
//! RDB file and of every DUMP payload.

use crc::{CRC_64_REDIS, Crc, Digest, Table};

/// Slice-by-16 tables: the whole RDB goes through this, so speed matters.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// A running CRC-64.
#[derive(Clone)]
pub struct Crc64(Digest<'static, u64, Table<16>>);

impl Crc64 {
    pub fn new() -> Crc64 {
        Crc64(CRC64.digest())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of everything seen so far.
    pub fn value(&self) -> u64 {
        self.0.clone().finalize()
    }
}

impl Default for Crc64 {
    fn default() -> Self {
        Crc64::new()
    }
}

/// The CRC-64 of `bytes`.
pub fn crc64(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_of_redis_crc64() {
        // The test vector in Redis's own crc64.c.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(b""), 0);
    }

    #[test]
    fn running_equals_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut running = Crc64::new();
        for chunk in data.chunks(333) {
            running.update(chunk);
        }
        assert_eq!(running.value(), crc64(&data));
        // value() does not consume: more bytes may follow.
        running.update(b"x");
        let mut all = data.clone();
        all.push(b'x');
        assert_eq!(running.value(), crc64(&all));
    }
}
