//! The completeness check of a MySQL/MariaDB dump stream: it must end with `-- Dump completed`, must not carry
//! the dump tool's "insufficient privileges" note, and must create every object the server listed for the
//! database before the dump (the [`Inventory`]). The dump tool leaves out, without an error, what the user may
//! not see; this check is what turns that into a failed backup.
//!
//! The stream is read line by line (only the head of each line is kept, see [`LineHeads`], so that a long `INSERT`
//! costs nothing); the lines that create objects look like this in `mariadb-dump` and `mysqldump` output:
//!
//! ```text
//! CREATE TABLE `t` (                                                       tables (`IF NOT EXISTS` too)
//! CREATE SEQUENCE `s` (                                                    MariaDB sequences (counted as tables)
//! /*!50001 VIEW `v` AS select ...                                          views (final structure)
//! CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()                        procedures and functions
//! /*!50003 CREATE*/ /*!50017 DEFINER=...*/ /*!50003 TRIGGER tr AFTER ...   triggers (name as written)
//! /*!50106 CREATE*/ /*!50117 DEFINER=...*/ /*!50106 EVENT `e` ON ...      events
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::DUMP_TRAILERS;
use super::grants::read_ident;
use super::lines::LineHeads;
use super::scope::Kind;
use crate::engine::{StreamCheck, check_trailer};

/// How the lines [`created`] and the note look at their start.
const INTERESTING: &[&[u8]] = &[
    b"CREATE ",
    b"/*!50001 VIEW ",
    b"/*!50003 CREATE*/",
    b"/*!50106 CREATE*/",
    b"-- ",
];

/// The note `mariadb-dump`/`mysqldump` writes instead of a routine it may list but not read.
const NO_PRIVILEGE_NOTE: &str = "-- insufficient privileges to ";

/// The objects the server has for one database, by kind, as [`Kind::key`]s, with the names as the server
/// spells them for the message.
#[derive(Debug, Default, Clone)]
pub struct Inventory {
    pub objects: BTreeMap<Kind, BTreeMap<String, String>>,
}

impl Inventory {
    pub fn add(&mut self, kind: Kind, name: &str) {
        self.objects
            .entry(kind)
            .or_default()
            .insert(kind.key(name), name.to_string());
    }

    /// The number of objects, for the log.
    pub fn count(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }
}

/// Watches a dump go by; see the module documentation.
#[derive(Debug)]
pub struct DumpCheck {
    expected: Inventory,
    seen: BTreeMap<Kind, BTreeSet<String>>,
    lines: LineHeads,
    no_privilege: Vec<String>,
}

impl DumpCheck {
    /// A check against `expected`; an empty inventory checks only the trailer and the notes (a stored file).
    pub fn new(expected: Inventory) -> DumpCheck {
        DumpCheck {
            expected,
            seen: BTreeMap::new(),
            lines: LineHeads::new(),
            no_privilege: Vec::new(),
        }
    }

    /// One line's head: most lines are rows of data; only the few that can create an object (or carry the
    /// note) are read.
    fn line(
        line: &[u8],
        seen: &mut BTreeMap<Kind, BTreeSet<String>>,
        no_privilege: &mut Vec<String>,
    ) {
        if !INTERESTING.iter().any(|p| line.starts_with(p)) {
            return;
        }
        let text = String::from_utf8_lossy(line);
        if let Some(what) = text.strip_prefix(NO_PRIVILEGE_NOTE) {
            no_privilege.push(what.trim_end().to_string());
            return;
        }
        if let Some((kind, name)) = created(&text) {
            seen.entry(kind).or_default().insert(kind.key(&name));
        }
    }
}

impl StreamCheck for DumpCheck {
    fn feed(&mut self, chunk: &[u8]) {
        let (seen, no_privilege) = (&mut self.seen, &mut self.no_privilege);
        self.lines
            .feed(chunk, |l| DumpCheck::line(l, seen, no_privilege));
    }

    fn finish(mut self: Box<Self>) -> std::result::Result<(), String> {
        let (seen, no_privilege) = (&mut self.seen, &mut self.no_privilege);
        self.lines
            .finish(|l| DumpCheck::line(l, seen, no_privilege));
        check_trailer(DUMP_TRAILERS, self.lines.tail())?;
        if !self.no_privilege.is_empty() {
            return Err(format!(
                "the dump tool could not read {} (\"insufficient privileges\"): the user may list these routines \
                 but not read their code; give it the grant that shows routines (see the README's Privileges)",
                self.no_privilege.join(", ")
            ));
        }
        let mut missing = Vec::new();
        for (kind, names) in &self.expected.objects {
            let seen = self.seen.get(kind);
            for (key, name) in names {
                if !seen.is_some_and(|s| s.contains(key)) {
                    missing.push(format!("{} {name}", kind.name()));
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let total = missing.len();
        let shown: Vec<String> = missing.into_iter().take(10).collect();
        Err(format!(
            "the server has {total} object(s) the dump does not create: {}{}; the dump tool left them out \
             without an error",
            shown.join(", "),
            if total > 10 { ", ..." } else { "" }
        ))
    }
}

/// A check that fails whatever the stream holds: the server could not tell what the dump must hold.
#[derive(Debug)]
pub struct Refused(pub String);

impl StreamCheck for Refused {
    fn feed(&mut self, _chunk: &[u8]) {}

    fn finish(self: Box<Self>) -> std::result::Result<(), String> {
        Err(self.0)
    }
}

/// The object a dump line creates, if it is one of the lines shown in the module documentation.
fn created(line: &str) -> Option<(Kind, String)> {
    let table = line
        .strip_prefix("CREATE TABLE ")
        // information_schema's tables are written as temporary ones.
        .or_else(|| line.strip_prefix("CREATE TEMPORARY TABLE "));
    if let Some(rest) = table {
        // The server's log tables and MariaDB's transaction_registry are written `IF NOT EXISTS`.
        let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
        return ident(rest).map(|n| (Kind::Table, n));
    }
    if let Some(rest) = line.strip_prefix("CREATE SEQUENCE ") {
        return ident(rest).map(|n| (Kind::Table, n));
    }
    if let Some(rest) = line.strip_prefix("/*!50001 VIEW ") {
        return ident(rest).map(|n| (Kind::View, n));
    }
    if line.starts_with("/*!50003 CREATE*/") {
        let at = line.find("/*!50003 TRIGGER ")?;
        return ident(&line[at + "/*!50003 TRIGGER ".len()..]).map(|n| (Kind::Trigger, n));
    }
    if line.starts_with("/*!50106 CREATE*/") {
        let at = line.find("/*!50106 EVENT ")?;
        return ident(&line[at + "/*!50106 EVENT ".len()..]).map(|n| (Kind::Event, n));
    }
    if line.starts_with("CREATE DEFINER=") || line.starts_with("CREATE ") {
        for (word, kind) in [
            (" PROCEDURE ", Kind::Procedure),
            (" FUNCTION ", Kind::Function),
        ] {
            if let Some(at) = super::grants::find_outside_quotes(line, word) {
                return ident(&line[at + word.len()..]).map(|n| (kind, n));
            }
        }
    }
    None
}

/// A possibly qualified identifier (`` `db`.`name` `` or `name`): the last part.
fn ident(text: &str) -> Option<String> {
    let (mut name, mut rest) = read_ident(text.trim_start())?;
    while let Some(after) = rest.strip_prefix('.') {
        (name, rest) = read_ident(after)?;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "/*M!999999\\- enable the sandbox mode */ \n\
        -- MariaDB dump 10.19\n\
        CREATE TABLE `log` (\n  `id` int(11) NOT NULL,\n) ENGINE=InnoDB;\n\
        CREATE TABLE IF NOT EXISTS `general_log` (\n\
        CREATE TEMPORARY TABLE `ALL_PLUGINS` (\n\
        INSERT INTO `t` VALUES\n(1,'CREATE TABLE `fake` (');\n\
        /*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER tr AFTER INSERT ON t FOR EACH ROW INSERT INTO log(x) VALUES (NEW.id) \n\
        /*!50001 CREATE VIEW `v` AS SELECT\n\
        /*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `e` ON SCHEDULE EVERY 1 DAY DO DELETE FROM log \n\
        CREATE DEFINER=`root`@`localhost` FUNCTION `f`(x INT) RETURNS int(11)\n\
        CREATE DEFINER=`a PROCEDURE b`@`%` PROCEDURE `My Proc`()\n\
        /*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */;\n\
        \n-- Dump completed on 2025-01-01\n";

    fn run(expected: Inventory, dump: &str, chunk: usize) -> Result<(), String> {
        let mut check = Box::new(DumpCheck::new(expected));
        for piece in dump.as_bytes().chunks(chunk) {
            check.feed(piece);
        }
        check.finish()
    }

    fn inventory(objects: &[(Kind, &str)]) -> Inventory {
        let mut inv = Inventory::default();
        for (kind, name) in objects {
            inv.add(*kind, name);
        }
        inv
    }

    #[test]
    fn every_object_is_found_in_any_chunking() {
        let inv = inventory(&[
            (Kind::Table, "log"),
            (Kind::Table, "general_log"),
            (Kind::Table, "ALL_PLUGINS"),
            (Kind::View, "v"),
            (Kind::Trigger, "tr"),
            (Kind::Event, "e"),
            (Kind::Function, "f"),
            (Kind::Procedure, "my proc"),
        ]);
        for chunk in [1, 7, 64, 100_000] {
            assert_eq!(run(inv.clone(), DUMP, chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn a_missing_object_is_named() {
        let inv = inventory(&[(Kind::Procedure, "p"), (Kind::Table, "fake")]);
        let err = run(inv, DUMP, 13).unwrap_err();
        assert!(err.contains("procedure p"), "{err}");
        assert!(err.contains("table fake"), "{err}");
    }

    #[test]
    fn the_privilege_note_and_a_missing_trailer_fail() {
        let noted = DUMP.replace(
            "CREATE DEFINER=`root`",
            "-- insufficient privileges to SHOW CREATE FUNCTION `f`\nCREATE DEFINER=`root`",
        );
        let err = run(Inventory::default(), &noted, 5).unwrap_err();
        assert!(err.contains("SHOW CREATE FUNCTION `f`"), "{err}");
        let cut = &DUMP[..DUMP.len() - 30];
        assert!(run(Inventory::default(), cut, 5).is_err());
    }
}
