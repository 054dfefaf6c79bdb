//! Row counts read from a dump stream as it passes through the backup pipeline: the lines between
//! `COPY ... FROM stdin;` and `\.` of a plain `pg_dump`, the row tuples of `mysqldump`'s `INSERT` statements.
//! The counts go into the backup's manifest, for a drill to compare with `count(*)` after a restore.

use std::collections::BTreeMap;

/// The longest line start kept to recognise a `COPY` or `INSERT` statement (its table name is near the start).
const HEAD_MAX: usize = 64 * 1024;

/// Counts rows per table in a plain SQL dump, chunk by chunk.
#[derive(Debug)]
pub enum RowCounter {
    Postgres(PgCopy),
    Mysql(MysqlInserts),
}

impl RowCounter {
    /// The counter for a dump of `engine` in the file kind `kind`; `None` when rows cannot be read from it
    /// (a custom-format archive, an RDB file, a command's output).
    pub fn for_dump(engine: &str, kind: &str, server_wide: bool) -> Option<RowCounter> {
        match (engine, kind, server_wide) {
            (_, _, true) => None,
            ("postgres", "sql", _) => Some(RowCounter::Postgres(PgCopy::default())),
            ("mysql", "sql", _) => Some(RowCounter::Mysql(MysqlInserts::default())),
            _ => None,
        }
    }

    /// Sees one chunk of the plain stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        match self {
            RowCounter::Postgres(c) => c.feed(chunk),
            RowCounter::Mysql(c) => c.feed(chunk),
        }
    }

    /// The rows seen per table, by the table's name as the dump writes it (PostgreSQL: `schema.table`
    /// with its quotes; MySQL: the bare name).
    pub fn finish(self) -> BTreeMap<String, u64> {
        match self {
            RowCounter::Postgres(c) => c.counts,
            RowCounter::Mysql(c) => c.counts,
        }
    }
}

/// The `COPY` blocks of a plain `pg_dump`.
#[derive(Debug, Default)]
pub struct PgCopy {
    counts: BTreeMap<String, u64>,
    /// The start of the current line (outside a `COPY` block), or of a data line (its first bytes only).
    line: Vec<u8>,
    /// The table whose rows are being read, with its count so far.
    copying: Option<(String, u64)>,
}

impl PgCopy {
    fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            self.take(&rest[..at]);
            self.end_line();
            rest = &rest[at + 1..];
        }
        self.take(rest);
    }

    fn take(&mut self, bytes: &[u8]) {
        // A data line only needs to be told from `\.`; other lines only need their start.
        let keep = if self.copying.is_some() { 3 } else { HEAD_MAX };
        let room = keep.saturating_sub(self.line.len());
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn end_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        match self.copying.take() {
            Some((table, rows)) if line == b"\\." => {
                *self.counts.entry(table).or_default() += rows;
            }
            Some((table, rows)) => self.copying = Some((table, rows + 1)),
            None => {
                if let Some(table) = copy_table(&line) {
                    self.copying = Some((table, 0));
                }
            }
        }
    }
}

/// The table of a `COPY <table> [(<columns>)] FROM stdin;` line.
fn copy_table(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("COPY ")?;
    if !text.ends_with(" FROM stdin;") {
        return None;
    }
    // The name ends at the first space outside double quotes.
    let mut quoted = false;
    let end = rest
        .char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ' ' && !quoted
        })
        .map(|(i, _)| i)?;
    Some(rest[..end].to_string())
}

/// The `INSERT` statements of `mysqldump`: each `(...)` tuple after `VALUES` is a row.
#[derive(Debug, Default)]
pub struct MysqlInserts {
    counts: BTreeMap<String, u64>,
    line: Vec<u8>,
    /// Inside an `INSERT` statement: its table and where the parser is.
    insert: Option<Insert>,
}

#[derive(Debug)]
struct Insert {
    table: String,
    /// `VALUES` was seen; before it, parentheses are a column list.
    values: bool,
    /// The last bytes outside quotes before `VALUES`, to find it.
    window: Vec<u8>,
    depth: u32,
    /// Inside a string or quoted name: its quote character.
    quote: Option<u8>,
    escaped: bool,
}

impl MysqlInserts {
    fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            match self.insert.as_mut() {
                Some(insert) => {
                    if insert.step(b, &mut self.counts) {
                        self.insert = None;
                    }
                }
                None if b == b'\n' => self.line.clear(),
                None => {
                    if self.line.len() < HEAD_MAX {
                        self.line.push(b);
                    }
                    if b == b' '
                        && let Some(table) = insert_table(&self.line)
                    {
                        self.counts.entry(table.clone()).or_default();
                        self.insert = Some(Insert {
                            table,
                            values: false,
                            window: b" ".to_vec(),
                            depth: 0,
                            quote: None,
                            escaped: false,
                        });
                        self.line.clear();
                    }
                }
            }
        }
    }
}

impl Insert {
    /// Reads one byte; true when the statement ended.
    fn step(&mut self, b: u8, counts: &mut BTreeMap<String, u64>) -> bool {
        if let Some(q) = self.quote {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' && q != b'`' {
                self.escaped = true;
            } else if b == q {
                self.quote = None;
            }
            return false;
        }
        match b {
            b'\'' | b'"' | b'`' => self.quote = Some(b),
            b'(' => {
                if self.values && self.depth == 0 {
                    *counts.entry(self.table.clone()).or_default() += 1;
                }
                self.depth += 1;
            }
            b')' => self.depth = self.depth.saturating_sub(1),
            b';' if self.depth == 0 => return true,
            _ => {}
        }
        if !self.values {
            // MariaDB's dump breaks the line after `VALUES`: any white space counts as the space.
            let b = if b.is_ascii_whitespace() { b' ' } else { b };
            self.window.push(b.to_ascii_uppercase());
            if self.window.len() > 8 {
                self.window.remove(0);
            }
            self.values = self.window.ends_with(b" VALUES ") || self.window.ends_with(b")VALUES ");
        }
        false
    }
}

/// The table of a line that starts `INSERT INTO `t` ` (or `INSERT IGNORE INTO`, `REPLACE INTO`), once the
/// name's closing backtick and the space after it have been read.
fn insert_table(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = ["INSERT INTO `", "INSERT IGNORE INTO `", "REPLACE INTO `"]
        .iter()
        .find_map(|p| text.strip_prefix(p))?;
    let name = rest.strip_suffix("` ")?;
    // A doubled backtick is one backtick of the name; a single one would end it earlier.
    let unescaped = name.replace("``", "");
    (!unescaped.contains('`')).then(|| name.replace("``", "`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(mut c: RowCounter, text: &str, step: usize) -> BTreeMap<String, u64> {
        for chunk in text.as_bytes().chunks(step) {
            c.feed(chunk);
        }
        c.finish()
    }

    #[test]
    fn pg_copy_blocks_in_any_chunking() {
        let dump = "SET x;\nCOPY public.t (a, b) FROM stdin;\n1\tx\n2\ty\n\\.\n\nCOPY public.\"My T\" (a) FROM stdin;\n\\.\nCOPY public.u FROM stdin;\n\\\\.\n\\.\n";
        for step in [1, 2, 3, 7, 1000] {
            let c = count(
                RowCounter::for_dump("postgres", "sql", false).unwrap(),
                dump,
                step,
            );
            assert_eq!(c.get("public.t"), Some(&2), "step {step}");
            assert_eq!(c.get("public.\"My T\""), Some(&0));
            assert_eq!(c.get("public.u"), Some(&1));
        }
    }

    #[test]
    fn mysql_tuples_with_quotes_and_parentheses() {
        let dump = "INSERT INTO `t` VALUES (1,'a(b'),(2,'it\\'s ) ('),(3,NULL);\nINSERT INTO `t` VALUES (4,'x');\n\
                    INSERT INTO `c``d` (`a`,`b`) VALUES (1,\"q;\");\nINSERT INTO `e` VALUES ();\nINSERT INTO `t` VALUES\n(5,'a\nb'),\n(6,'c');\n";
        for step in [1, 5, 1000] {
            let c = count(
                RowCounter::for_dump("mysql", "sql", false).unwrap(),
                dump,
                step,
            );
            assert_eq!(c.get("t"), Some(&6), "step {step}");
            assert_eq!(c.get("c`d"), Some(&1));
            assert_eq!(c.get("e"), Some(&1));
        }
    }

    #[test]
    fn no_counter_where_rows_cannot_be_read() {
        assert!(RowCounter::for_dump("postgres", "dump", false).is_none());
        assert!(RowCounter::for_dump("postgres", "sql", true).is_none());
        assert!(RowCounter::for_dump("redis", "rdb", false).is_none());
    }
}
