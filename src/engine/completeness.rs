//! How a dump is known to be complete ([`Completeness`], stated by each engine) and the check that runs beside
//! a stream to say so ([`Checker`]): a trailer at the end, a reader tool fed every byte, or the engine's own.

use std::io::{self, Write};
use std::process::{ChildStdin, Command, Stdio};

use crate::cancel::Cancel;
use crate::error::{Error, Result};
use crate::pipeline::Tail;
use crate::process::Tool;

/// How to tell that a dump stream is complete.
#[derive(Debug)]
pub enum Completeness {
    /// The stream, trimmed of trailing whitespace, ends with one of these lines.
    Trailer(&'static [&'static str]),
    /// The stream is fed to this command's stdin, which must accept it and exit 0.
    Reader { tool: String, command: Box<Command> },
    /// The engine checks the stream itself (a header, a length, a checksum).
    Custom(Box<dyn StreamCheck>),
    /// Nothing in the stream tells: the producer's exit status (and a non-empty stream) is the whole check,
    /// as for the command engine.
    ExitStatus,
}

/// A completeness check an engine runs over the plain stream: it sees every chunk, then gives a verdict.
pub trait StreamCheck: Send + std::fmt::Debug {
    fn feed(&mut self, chunk: &[u8]);
    /// `Err` says what is wrong, for the message.
    fn finish(self: Box<Self>) -> std::result::Result<(), String>;
}

/// Watches a plain dump stream go by and says at the end whether it was complete.
pub struct Checker {
    trailer: Option<&'static [&'static str]>,
    tail: Tail,
    reader: Option<(Tool, Option<ChildStdin>)>,
    custom: Option<Box<dyn StreamCheck>>,
}

impl Checker {
    /// Starts the check; a reader tool runs under `cancel`.
    pub fn start(completeness: Completeness, cancel: &Cancel) -> Result<Checker> {
        let (trailer, reader, custom) = match completeness {
            Completeness::Trailer(expected) => (Some(expected), None, None),
            Completeness::Reader { tool, command } => {
                let mut running =
                    Tool::spawn(&tool, *command, Stdio::piped(), Stdio::null(), cancel)?;
                let stdin = running.take_stdin();
                (None, Some((running, stdin)), None)
            }
            Completeness::Custom(check) => (None, None, Some(check)),
            // The producer's exit status is checked by the caller; the stream itself is not looked at.
            Completeness::ExitStatus => (None, None, None),
        };
        Ok(Checker {
            trailer,
            tail: Tail::new(TAIL_BYTES),
            reader,
            custom,
        })
    }

    /// Sees one chunk of the plain stream.
    pub fn feed(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.tail.push(chunk);
        if let Some(check) = self.custom.as_mut() {
            check.feed(chunk);
        }
        if let Some((_, stdin)) = self.reader.as_mut()
            && let Some(pipe) = stdin.as_mut()
            && pipe.write_all(chunk).is_err()
        {
            // The reader stopped early; its exit status and stderr tell why at `finish`.
            *stdin = None;
        }
        Ok(())
    }

    /// The trailer verdict on what was seen so far; `None` when the check is not a trailer.
    pub fn trailer_verdict(&self) -> Option<std::result::Result<(), String>> {
        self.trailer.map(|t| check_trailer(t, self.tail.bytes()))
    }

    /// The verdict; `what` names the database for the message.
    pub fn finish(self, what: &str) -> Result<()> {
        let incomplete = |message: String| Error::Incomplete {
            database: what.to_string(),
            message,
        };
        if let Some(verdict) = self.trailer_verdict() {
            return verdict.map_err(incomplete);
        }
        if let Some(check) = self.custom {
            return check.finish().map_err(incomplete);
        }
        if let Some((tool, stdin)) = self.reader {
            drop(stdin);
            let name = tool.name().to_string();
            tool.wait()
                .map_err(|e| incomplete(format!("{name} could not read it through: {e}")))?;
        }
        Ok(())
    }
}

/// Checks that a stream whose last bytes are `tail` closes with one of the lines in `expected`. Comment
/// framing (`--`), blank lines and the `\unrestrict <key>` line that PostgreSQL 13.22/14.19/15.14/16.10/17.6
/// and later write after the trailer may follow it.
pub fn check_trailer(expected: &[&str], tail: &[u8]) -> std::result::Result<(), String> {
    let text = String::from_utf8_lossy(tail);
    let last = text
        .lines()
        .rev()
        .map(str::trim_end)
        .find(|l| !(l.is_empty() || *l == "--" || l.starts_with("\\unrestrict ")))
        .unwrap_or("");
    if expected.iter().any(|e| last.starts_with(e)) {
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

    #[test]
    fn a_trailer_may_carry_a_date() {
        let t = &["-- Dump completed"];
        assert!(
            check_trailer(
                t,
                b"UNLOCK TABLES;\n-- Dump completed on 2025-01-02  3:04:05\n"
            )
            .is_ok()
        );
        assert!(check_trailer(t, b"INSERT INTO t VALUES (1);\n").is_err());
    }
}
