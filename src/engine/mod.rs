//! Database engines: how to reach the server, dump a database, tell a complete dump and restore one.

pub mod pg_tools;
pub mod postgres;

use std::process::Command;

/// One thing to dump: a database (or the server's globals) and the series its backups belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpTarget {
    /// The database name, or `None` for server-wide globals (roles, tablespaces).
    pub database: Option<String>,
    pub series: String,
    /// The file name extension: `sql`, `dump`, ...
    pub kind: String,
}

impl DumpTarget {
    /// How the target is named in logs and errors.
    pub fn label(&self) -> String {
        match &self.database {
            Some(db) => format!("database {db}"),
            None => "server globals".to_string(),
        }
    }
}

/// How to tell that a dump stream is complete.
#[derive(Debug)]
pub enum Completeness {
    /// The stream, trimmed of trailing whitespace, ends with one of these lines.
    Trailer(&'static [&'static str]),
    /// The stream is fed to this command's stdin, which must accept it and exit 0.
    Reader { tool: String, command: Box<Command> },
}

/// Checks that a stream whose last bytes are `tail` closes with one of the lines in `expected`. Comment
/// framing (`--`), blank lines and the `\unrestrict <key>` line that PostgreSQL 13.22/14.19/15.14/16.10/17.6
/// and later write after the trailer may follow it.
pub fn check_trailer(expected: &[&str], tail: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(tail);
    let last = text
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !(l.is_empty() || *l == "--" || l.starts_with("\\unrestrict ")))
        .unwrap_or("");
    if expected.contains(&last) {
        return Ok(());
    }
    let expected = expected.join("\" or \"");
    let shown: String = last.chars().take(80).collect();
    Err(format!(
        "it does not end with \"{expected}\" (the last line is {shown:?}); the dump tool stopped early"
    ))
}

/// How many bytes at the end of a stream are kept for the trailer check.
pub const TAIL_BYTES: usize = 512;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailers_with_and_without_unrestrict() {
        let t = &["-- PostgreSQL database dump complete"];
        assert!(check_trailer(t, b"x\n--\n-- PostgreSQL database dump complete\n--\n\n").is_ok());
        assert!(check_trailer(t, b"x\n-- PostgreSQL database dump complete\n\n").is_ok());
        assert!(
            check_trailer(
                t,
                b"-- PostgreSQL database dump complete\n\n\\unrestrict abc\n\n"
            )
            .is_ok()
        );
        assert!(check_trailer(t, b"COPY t FROM stdin;\n1\n").is_err());
        assert!(check_trailer(t, b"\\unrestrict abc\n").is_err());
    }
}
