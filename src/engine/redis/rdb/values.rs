//! Measuring a value without decoding it: how far each value type, a stream and module data reach in the file.

use std::io::Read;

use super::format::MODULE_OPCODE_UINT;
use super::{Entry, ErrorKind, Reader, Result, module_name, types};

impl<R: Read> Reader<R> {
    /// Skips one value of `entry.value_type`, noting a module's name.
    pub(super) fn skip_value(&mut self, entry: &mut Entry) -> Result<()> {
        use types::*;
        let t = entry.value_type;
        match t {
            STRING
            | HASH_ZIPMAP
            | LIST_ZIPLIST
            | SET_INTSET
            | ZSET_ZIPLIST
            | HASH_ZIPLIST
            | HASH_LISTPACK
            | ZSET_LISTPACK
            | SET_LISTPACK
            | HASH_LISTPACK_EX_PRE_GA => self.skip_string(),
            LIST | SET | LIST_QUICKLIST => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                }
                Ok(())
            }
            LIST_QUICKLIST_2 => {
                for _ in 0..self.len()? {
                    self.len()?; // container: plain or packed
                    self.skip_string()?;
                }
                Ok(())
            }
            ZSET => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                    // A score as text: a length byte, or 253/254/255 for NaN/+inf/-inf.
                    let n = self.src.byte()?;
                    if n < 253 {
                        self.src.skip(u64::from(n))?;
                    }
                }
                Ok(())
            }
            ZSET_2 => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                    self.src.skip(8)?;
                }
                Ok(())
            }
            HASH => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                    self.skip_string()?;
                }
                Ok(())
            }
            HASH_METADATA_PRE_GA | HASH_METADATA => {
                if t == HASH_METADATA {
                    self.src.skip(8)?; // the smallest field expiry
                }
                for _ in 0..self.len()? {
                    self.len()?; // the field's expiry
                    self.skip_string()?;
                    self.skip_string()?;
                }
                Ok(())
            }
            HASH_LISTPACK_EX => {
                self.src.skip(8)?;
                self.skip_string()
            }
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3 => self.skip_stream(t),
            MODULE_2 => {
                let id = self.len()?;
                entry.module = Some(module_name(id));
                self.skip_module_body()
            }
            MODULE_PRE_GA => {
                let id = self.len()?;
                entry.module = Some(module_name(id));
                Err(self.src.error(
                    ErrorKind::Unknown,
                    format!(
                        "key {} in db {} holds a value of module {} in the format of a Redis 4.0 release \
                         candidate (type 6), which cannot be read without the module",
                        entry.key_label(),
                        entry.db,
                        module_name(id)
                    ),
                ))
            }
            other => Err(self.src.error(
                ErrorKind::Unknown,
                format!(
                    "key {} in db {} has value type {other}, which this db-backup does not know",
                    entry.key_label(),
                    entry.db
                ),
            )),
        }
    }

    fn skip_stream(&mut self, t: u8) -> Result<()> {
        for _ in 0..self.len()? {
            self.skip_string()?; // the node key (master entry id)
            self.skip_string()?; // the listpack
        }
        self.len()?; // length
        self.len()?; // last id: ms, seq
        self.len()?;
        if t >= types::STREAM_LISTPACKS_2 {
            for _ in 0..5 {
                self.len()?; // first id, max deleted id, entries added
            }
        }
        for _ in 0..self.len()? {
            self.skip_string()?; // group name
            self.len()?; // last delivered id
            self.len()?;
            if t >= types::STREAM_LISTPACKS_2 {
                self.len()?; // entries read
            }
            for _ in 0..self.len()? {
                self.src.skip(16 + 8)?; // pending entry: raw id, delivery time
                self.len()?; // delivery count
            }
            for _ in 0..self.len()? {
                self.skip_string()?; // consumer name
                self.src.skip(8)?; // seen time
                if t >= types::STREAM_LISTPACKS_3 {
                    self.src.skip(8)?; // active time
                }
                for _ in 0..self.len()? {
                    self.src.skip(16)?; // the consumer's pending ids
                }
            }
        }
        Ok(())
    }

    /// The fields of a module value or module data, up to their EOF opcode.
    pub(super) fn skip_module_body(&mut self) -> Result<()> {
        loop {
            match self.len()? {
                0 => return Ok(()),
                1 | MODULE_OPCODE_UINT => {
                    self.len()?;
                }
                3 => self.src.skip(4)?,
                4 => self.src.skip(8)?,
                5 => self.skip_string()?,
                other => {
                    return Err(self.src.error(
                        ErrorKind::Malformed,
                        format!("module data with an unknown field opcode {other}"),
                    ));
                }
            }
        }
    }
}
