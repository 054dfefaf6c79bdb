//! A streaming RDB reader. It walks an RDB file item by item (aux fields, databases, function libraries, keys)
//! and measures each value without decoding it, so that a key's serialized value can be sliced out for
//! `RESTORE` and a whole file checked (structure, end marker, CRC-64) with flat memory. It never trusts a
//! length for an allocation and never panics, whatever the bytes.

use std::fmt;
use std::io::Read;

mod format;
mod source;
mod strings;
mod values;

use format::MODULE_OPCODE_UINT;
pub use format::{module_name, opcodes, type_name, types};
use source::Src;

/// The oldest RDB version read: the first with a CRC-64 trailer (Redis 2.6).
pub const MIN_VERSION: u16 = 5;
/// The newest RDB version whose format this reader knows (Redis 7.4 and 8.0 write 12).
pub const MAX_VERSION: u16 = 12;
/// What kind of problem a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Reading the underlying stream failed.
    Io,
    /// The bytes ended before the RDB did.
    Truncated,
    /// The bytes are not a well-formed RDB.
    Malformed,
    /// The CRC-64 trailer does not match the content.
    Checksum,
    /// Well-formed as far as it goes, but newer than this reader (a version, type or opcode it does not know).
    Unknown,
}

/// Why a file could not be read, and where.
#[derive(Debug)]
pub struct RdbError {
    pub kind: ErrorKind,
    /// The byte offset in the file where the problem was found.
    pub offset: u64,
    pub message: String,
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.message, self.offset)
    }
}

impl std::error::Error for RdbError {}

type Result<T> = std::result::Result<T, RdbError>;

/// One thing in the file.
#[derive(Debug)]
pub enum Item {
    Aux {
        name: Vec<u8>,
        value: Vec<u8>,
    },
    SelectDb(u64),
    /// A function library. `serialized` is the opcode and the library's string as stored: the body of a
    /// `FUNCTION RESTORE` payload (empty unless the reader keeps values).
    Function {
        serialized: Vec<u8>,
    },
    /// Global data of a module (not a key).
    ModuleAux {
        module: String,
    },
    Key(Entry),
}

/// A key and its value.
#[derive(Debug)]
pub struct Entry {
    /// The logical database.
    pub db: u64,
    pub key: Vec<u8>,
    pub value_type: u8,
    /// Absolute expiry, Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle seconds, when the server recorded them.
    pub idle: Option<u64>,
    /// LFU frequency, when the server recorded it.
    pub freq: Option<u8>,
    /// For a module value: the module's name.
    pub module: Option<String>,
    /// How many bytes the type byte and the value take in the file.
    pub size: u64,
    /// The type byte and the value as serialized in the file: the body of a DUMP payload (empty unless the
    /// reader keeps values).
    pub serialized: Vec<u8>,
}

impl Entry {
    /// The key for messages: quoted, escaped, cut short when long.
    pub fn key_label(&self) -> String {
        key_label(&self.key)
    }
}

/// A key for messages: quoted, escaped, cut short when long.
pub fn key_label(key: &[u8]) -> String {
    let shown = &key[..key.len().min(100)];
    let mut label = format!("{:?}", String::from_utf8_lossy(shown));
    if key.len() > shown.len() {
        label.push_str(&format!(" (first 100 of {} bytes)", key.len()));
    }
    label
}

/// The end of a file that was read through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    /// The CRC-64 in the trailer; 0 when the server had `rdbchecksum no`.
    pub stored: u64,
    pub computed: u64,
}

impl End {
    /// Whether the trailer carried a checksum (and it matched: a mismatch is an error before this exists).
    pub fn verified(&self) -> bool {
        self.stored != 0
    }
}

/// Reads an RDB stream item by item.
pub struct Reader<R: Read> {
    src: Src<R>,
    version: u16,
    keep_values: bool,
    db: u64,
    end: Option<End>,
}

impl<R: Read> Reader<R> {
    /// Reads the header. `keep_values`: whether each value's bytes are kept in [`Entry::serialized`] (for a
    /// restore) or only measured (for a check).
    pub fn new(inner: R, keep_values: bool) -> Result<Reader<R>> {
        let mut src = Src::new(inner);
        let mut header = [0u8; 9];
        src.fill(&mut header)?;
        if &header[..5] != b"REDIS" {
            return Err(src.error(
                ErrorKind::Malformed,
                "it does not start with \"REDIS\": not an RDB file",
            ));
        }
        let version = std::str::from_utf8(&header[5..])
            .ok()
            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u16>().ok())
            .ok_or_else(|| src.error(ErrorKind::Malformed, "its RDB version is not a number"))?;
        if version < MIN_VERSION {
            return Err(src.error(
                ErrorKind::Malformed,
                format!("RDB version {version} is older than Redis 2.6 and has no checksum"),
            ));
        }
        Ok(Reader {
            src,
            version,
            keep_values,
            db: 0,
            end: None,
        })
    }

    /// The RDB version in the header.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The bytes read so far.
    pub fn offset(&self) -> u64 {
        self.src.offset
    }

    /// The trailer, once the end was reached.
    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// The next item; `None` at the end, after the checksum was compared and nothing followed it.
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        if self.end.is_some() {
            return Ok(None);
        }
        if self.version > MAX_VERSION {
            return Err(self.src.error(
                ErrorKind::Unknown,
                format!(
                    "RDB version {} is newer than this db-backup reads (up to {MAX_VERSION})",
                    self.version
                ),
            ));
        }
        let (mut expire_ms, mut idle, mut freq) = (None, None, None);
        loop {
            let op = self.src.byte()?;
            match op {
                opcodes::EOF => return self.finish().map(|_| None),
                opcodes::SELECTDB => {
                    self.db = self.len()?;
                    return Ok(Some(Item::SelectDb(self.db)));
                }
                opcodes::EXPIRETIME_MS => {
                    let mut b = [0u8; 8];
                    self.src.fill(&mut b)?;
                    expire_ms = Some(i64::from_le_bytes(b));
                }
                opcodes::EXPIRETIME => {
                    let mut b = [0u8; 4];
                    self.src.fill(&mut b)?;
                    expire_ms = Some(i64::from(i32::from_le_bytes(b)) * 1000);
                }
                opcodes::RESIZEDB => {
                    self.len()?;
                    self.len()?;
                }
                opcodes::AUX => {
                    let name = self.string()?;
                    let value = self.string()?;
                    return Ok(Some(Item::Aux { name, value }));
                }
                opcodes::FREQ => freq = Some(self.src.byte()?),
                opcodes::IDLE => idle = Some(self.len()?),
                opcodes::SLOT_INFO => {
                    for _ in 0..3 {
                        self.len()?;
                    }
                }
                opcodes::MODULE_AUX => {
                    let id = self.len()?;
                    if self.len()? != MODULE_OPCODE_UINT {
                        return Err(self.src.error(
                            ErrorKind::Malformed,
                            "module data with a bad \"when\" field",
                        ));
                    }
                    self.len()?;
                    self.skip_module_body()?;
                    return Ok(Some(Item::ModuleAux {
                        module: module_name(id),
                    }));
                }
                opcodes::FUNCTION_PRE_GA => {
                    return Err(self.src.error(
                        ErrorKind::Unknown,
                        "function libraries in the format of a Redis 7.0 release candidate",
                    ));
                }
                opcodes::FUNCTION2 => {
                    self.src.start_capture(op, self.keep_values);
                    self.skip_string()?;
                    let serialized = self.src.end_capture();
                    return Ok(Some(Item::Function { serialized }));
                }
                value_type => {
                    let key = self.string()?;
                    let value_start = self.src.offset;
                    let mut entry = Entry {
                        db: self.db,
                        key,
                        value_type,
                        expire_ms,
                        idle,
                        freq,
                        module: None,
                        size: 0,
                        serialized: Vec::new(),
                    };
                    self.src.start_capture(value_type, self.keep_values);
                    let skipped = self.skip_value(&mut entry);
                    entry.serialized = self.src.end_capture();
                    skipped?;
                    entry.size = self.src.offset - value_start + 1;
                    return Ok(Some(Item::Key(entry)));
                }
            }
        }
    }

    /// After the EOF opcode: the trailer, compared with what was read, and nothing after it.
    fn finish(&mut self) -> Result<()> {
        let computed = self.src.crc.value();
        let mut b = [0u8; 8];
        self.src.fill(&mut b)?;
        let stored = u64::from_le_bytes(b);
        if stored != 0 && stored != computed {
            return Err(self.src.error(
                ErrorKind::Checksum,
                format!(
                    "its CRC-64 is {computed:016x} but the trailer records {stored:016x}: the file is damaged"
                ),
            ));
        }
        if !self.src.at_eof()? {
            return Err(self
                .src
                .error(ErrorKind::Malformed, "more bytes follow the end of the RDB"));
        }
        self.end = Some(End { stored, computed });
        Ok(())
    }

    /// After an [`ErrorKind::Unknown`] error: reads the rest without understanding it, and checks that the file
    /// ends with the end opcode and a CRC-64 over everything before the trailer.
    pub fn drain_to_end(mut self) -> Result<End> {
        let (last, stored) = self.src.drain_holding_trailer()?;
        let computed = self.src.crc.value();
        if last != Some(opcodes::EOF) {
            return Err(self.src.error(
                ErrorKind::Truncated,
                "it does not end with the RDB end marker: the file is cut short",
            ));
        }
        if stored != 0 && stored != computed {
            return Err(self.src.error(
                ErrorKind::Checksum,
                format!(
                    "its CRC-64 is {computed:016x} but the trailer records {stored:016x}: the file is damaged"
                ),
            ));
        }
        Ok(End { stored, computed })
    }
}

#[cfg(test)]
mod tests;
