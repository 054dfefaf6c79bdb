//! Lengths and strings in the RDB encoding: the length prefixes, integer-encoded and LZF-compressed strings,
//! skipped or read.

use std::io::Read;

use super::format::{ENC_INT8, ENC_INT16, ENC_INT32, ENC_LZF, MAX_DECODED};
use super::{ErrorKind, Reader, Result};
use crate::engine::redis::lzf;

impl<R: Read> Reader<R> {
    /// A length; an encoded value here is malformed.
    pub(super) fn len(&mut self) -> Result<u64> {
        let (value, encoded) = self.len_or_encoding()?;
        if encoded {
            return Err(self.src.error(
                ErrorKind::Malformed,
                "an encoded string where a length belongs",
            ));
        }
        Ok(value)
    }

    /// A length, or (when the flag is set) the kind of a specially encoded string.
    fn len_or_encoding(&mut self) -> Result<(u64, bool)> {
        let first = self.src.byte()?;
        let low = u64::from(first & 0x3f);
        match first >> 6 {
            0 => Ok((low, false)),
            1 => Ok((low << 8 | u64::from(self.src.byte()?), false)),
            2 => match first {
                0x80 => {
                    let mut b = [0u8; 4];
                    self.src.fill(&mut b)?;
                    Ok((u64::from(u32::from_be_bytes(b)), false))
                }
                0x81 => {
                    let mut b = [0u8; 8];
                    self.src.fill(&mut b)?;
                    Ok((u64::from_be_bytes(b), false))
                }
                _ => Err(self.src.error(
                    ErrorKind::Malformed,
                    format!("bad length prefix {first:#04x}"),
                )),
            },
            _ => Ok((low, true)),
        }
    }

    /// Skips a string in any of its encodings.
    pub(super) fn skip_string(&mut self) -> Result<()> {
        match self.len_or_encoding()? {
            (n, false) => self.src.skip(n),
            (ENC_INT8, true) => self.src.skip(1),
            (ENC_INT16, true) => self.src.skip(2),
            (ENC_INT32, true) => self.src.skip(4),
            (ENC_LZF, true) => {
                let compressed = self.len()?;
                self.len()?;
                self.src.skip(compressed)
            }
            (other, true) => Err(self.src.error(
                ErrorKind::Malformed,
                format!("unknown string encoding {other}"),
            )),
        }
    }

    /// Reads and decodes a string (a key or an aux field).
    pub(super) fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_encoding()? {
            (n, false) => self.src.take(n),
            (ENC_INT8, true) => {
                let mut b = [0u8; 1];
                self.src.fill(&mut b)?;
                Ok(i8::from_le_bytes(b).to_string().into_bytes())
            }
            (ENC_INT16, true) => {
                let mut b = [0u8; 2];
                self.src.fill(&mut b)?;
                Ok(i16::from_le_bytes(b).to_string().into_bytes())
            }
            (ENC_INT32, true) => {
                let mut b = [0u8; 4];
                self.src.fill(&mut b)?;
                Ok(i32::from_le_bytes(b).to_string().into_bytes())
            }
            (ENC_LZF, true) => {
                let compressed_len = self.len()?;
                let plain_len = self.len()?;
                if plain_len > MAX_DECODED {
                    return Err(self.src.error(
                        ErrorKind::Malformed,
                        "a compressed string longer than 512 MiB",
                    ));
                }
                let compressed = self.src.take(compressed_len)?;
                lzf::decompress(&compressed, plain_len as usize).ok_or_else(|| {
                    self.src.error(
                        ErrorKind::Malformed,
                        "a compressed string that does not decompress",
                    )
                })
            }
            (other, true) => Err(self.src.error(
                ErrorKind::Malformed,
                format!("unknown string encoding {other}"),
            )),
        }
    }
}
