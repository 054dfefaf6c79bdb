//! The completeness check that runs beside a stream: a trailer at the end, or a reader tool fed every byte.

use std::io::{self, Write};
use std::process::{ChildStdin, Stdio};

use crate::cancel::Cancel;
use crate::engine::{Completeness, StreamCheck, TAIL_BYTES, check_trailer};
use crate::error::{Error, Result};
use crate::pipeline::Tail;
use crate::process::Tool;

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
