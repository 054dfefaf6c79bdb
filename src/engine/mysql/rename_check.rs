//! Refusing a restore under another name when the dump names its source database inside a statement.
//!
//! The client runs a dump of database `app` with the target database as the default one, so unqualified names
//! land in the target; a name written with the source database (`CREATE TRIGGER app.t ... ON app.items`, a
//! routine or event body that reads `app.items`) still points at `app`, and the statement fails or reaches the
//! wrong database part-way through the restore. The dump tool writes triggers, routines and events as they were
//! written, so such names do occur. Rewriting them would mean parsing SQL bodies (strings, comments, names that
//! merely look alike), so the restore is refused instead, during the first read and before anything runs.
//!
//! The source database is read from the dump's header (`-- Host: db    Database: app`). Rows of data
//! (`INSERT`/`REPLACE` lines) and comment lines are not looked at; any other line that holds the source name
//! followed by a dot (`` `app`. `` or `app.` after a character that cannot be part of a name) is reported.

/// How much of a long line is kept between two looks at it.
const KEEP: usize = 64 * 1024;

/// Watches the first read of a dump restored into `target`; see the module documentation.
#[derive(Debug)]
pub struct RenameCheck {
    target: String,
    source: Option<String>,
    line: Vec<u8>,
    line_no: u64,
    /// The current line is data or a comment: skipped to its end.
    skipping: bool,
    found: Option<(u64, String)>,
}

impl RenameCheck {
    pub fn new(target: &str) -> RenameCheck {
        RenameCheck {
            target: target.to_string(),
            source: None,
            line: Vec::new(),
            line_no: 1,
            skipping: false,
            found: None,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (piece, ended) = match memchr::memchr(b'\n', rest) {
                Some(at) => (&rest[..at], Some(at + 1)),
                None => (rest, None),
            };
            if !self.skipping {
                self.line.extend_from_slice(piece);
                if self.line.len() >= 9 || ended.is_some() {
                    self.classify();
                }
                if !self.skipping && self.line.len() > KEEP && ended.is_none() {
                    self.look();
                    let keep = self.needle_len().min(self.line.len());
                    self.line.drain(..self.line.len() - keep);
                }
            }
            match ended {
                Some(at) => {
                    if !self.skipping {
                        self.end_line();
                    }
                    self.line.clear();
                    self.skipping = false;
                    self.line_no += 1;
                    rest = &rest[at..];
                }
                None => break,
            }
        }
    }

    /// Why the dump cannot be restored into the target, if it cannot.
    pub fn finish(mut self) -> Option<String> {
        if !self.skipping && !self.line.is_empty() {
            self.end_line();
        }
        let source = self.source?;
        let (line_no, text) = self.found?;
        Some(format!(
            "the dump is of database {source} and line {line_no} names it in a qualified name ({text}); run \
             against database {target}, that statement would fail or change database {source} part-way \
             through the restore. Restore it under its own name (--database {source}, into an empty server \
             or after dropping {source}), or remove the database name from that trigger, view, routine or \
             event in the source and back up again",
            target = self.target,
        ))
    }

    /// Decides, once the start of a line is known, whether it is to be looked at.
    fn classify(&mut self) {
        // The header line is short and read whole at its end.
        if self.line.starts_with(b"-- Host: ") {
            return;
        }
        const SKIPPED: &[&[u8]] = &[b"INSERT ", b"REPLACE ", b"--"];
        if SKIPPED.iter().any(|p| self.line.starts_with(p)) {
            self.skipping = true;
            self.line.clear();
        }
    }

    /// A whole line (or the end of a long one) to look at.
    fn end_line(&mut self) {
        if let Some(rest) = self.line.strip_prefix(b"-- Host: ") {
            // The header comes before any statement: the first one names the source database.
            if self.source.is_none()
                && let Some(at) = find(rest, b"Database: ")
            {
                let name = String::from_utf8_lossy(&rest[at + b"Database: ".len()..]);
                let name = name.trim_end();
                if !name.is_empty() && name != self.target {
                    self.source = Some(name.to_string());
                }
            }
            return;
        }
        self.look();
    }

    fn needle_len(&self) -> usize {
        self.source.as_ref().map_or(0, |s| s.len() * 2 + 3)
    }

    /// Records the first qualified use of the source name in the kept part of the line.
    fn look(&mut self) {
        if self.found.is_some() {
            return;
        }
        let Some(source) = &self.source else { return };
        let quoted = format!("`{}`.", source.replace('`', "``"));
        let bare = format!("{source}.");
        let at = find(&self.line, quoted.as_bytes()).or_else(|| {
            let mut from = 0;
            while let Some(at) = find(&self.line[from..], bare.as_bytes()) {
                let at = from + at;
                let before = at.checked_sub(1).map(|i| self.line[i]);
                if !before.is_some_and(|b| b.is_ascii_alphanumeric() || b"_$`.".contains(&b)) {
                    return Some(at);
                }
                from = at + 1;
            }
            None
        });
        if let Some(at) = at {
            let start = at.saturating_sub(60);
            let end = (at + 60).min(self.line.len());
            let text = String::from_utf8_lossy(&self.line[start..end]);
            self.found = Some((self.line_no, format!("...{}...", text.trim())));
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n--\n\
        -- Host: localhost    Database: app\n-- ------\n";

    fn check(target: &str, dump: &str, chunk: usize) -> Option<String> {
        let mut c = RenameCheck::new(target);
        for piece in dump.as_bytes().chunks(chunk) {
            c.feed(piece);
        }
        c.finish()
    }

    #[test]
    fn a_qualified_trigger_is_refused_under_another_name_only() {
        let dump = format!(
            "{HEAD}INSERT INTO `items` VALUES (1,'app.x');\n\
             /*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER app.t BEFORE INSERT ON app.items FOR EACH ROW SET NEW.v = 1 */;;\n\
             -- Dump completed\n"
        );
        for chunk in [1, 5, 64, 100_000] {
            let why = check("copy", &dump, chunk).expect("refused");
            assert!(why.contains("line 7"), "{why}");
            assert!(why.contains("TRIGGER app.t"), "{why}");
        }
        assert_eq!(check("app", &dump, 7), None);
    }

    #[test]
    fn data_comments_and_lookalike_names_pass() {
        let dump = format!(
            "{HEAD}INSERT INTO `t` VALUES ('`app`.x');\n-- app.t is fine here\n\
             CREATE TABLE `myapp` (x int);\nSELECT myapp.x, `myapp`.y FROM t;\n-- Dump completed\n"
        );
        assert_eq!(check("copy", &dump, 3), None);
        let quoted = format!("{HEAD}CREATE VIEW v AS SELECT * FROM `app`.`t`;\n");
        assert!(check("copy", &quoted, 2).is_some());
    }
}
