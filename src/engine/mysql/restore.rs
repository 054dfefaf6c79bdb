//! Feeding a dump to the command-line client without ever reporting a cut-off dump as restored.
//!
//! MySQL commits each table definition as it executes it, so a transaction around the dump would not protect
//! the database; instead the dump is read twice. The first read goes through the whole stream (decompression
//! included) and checks the `-- Dump completed` trailer (and, under another name, that no statement names the
//! source database: [`super::rename_check`]) before the client sees a byte, so a damaged or cut-off
//! file changes nothing. The second read feeds the client, and its input is closed normally only when the
//! trailer has arrived again; on any other ending the client is killed first, because a client that sees the
//! end of its input executes the statement it holds, even one cut in half.

use std::io::Write;
use std::process::{Command, Stdio};

use super::DUMP_TRAILERS;
use super::rename_check::RenameCheck;
use super::users::AccountFilter;
use crate::cancel::Cancel;
use crate::engine::{Opener, TAIL_BYTES, check_trailer};
use crate::error::{Error, Result};
use crate::pipeline::Tail;
use crate::process::Tool;

/// Restores the dump `open` yields into `database` (for messages: the users dump says `users and grants`)
/// through `command` (the client named `tool`). With a `filter`, the client sees only the lines it passes on.
/// `ready` runs once the first read has passed, right before the client starts (it creates the database).
#[allow(clippy::too_many_arguments)]
pub fn run(
    tool: &str,
    command: Command,
    database: &str,
    open: Opener,
    mut filter: Option<&mut AccountFilter>,
    ready: &mut dyn FnMut() -> Result<()>,
    cancel: &Cancel,
) -> Result<()> {
    let incomplete = |message: String| Error::Incomplete {
        database: database.to_string(),
        message,
    };
    // A users dump names no database; a database's dump is checked for names that would leave the target.
    let mut rename = filter.is_none().then(|| RenameCheck::new(database));
    let (bytes, tail) = read_through(open, cancel, rename.as_mut())?;
    check_trailer(DUMP_TRAILERS, tail.bytes())
        .map_err(|m| incomplete(format!("{m}; nothing was restored")))?;
    if let Some(why) = rename.and_then(RenameCheck::finish) {
        return Err(Error::Other(format!(
            "cannot be restored into database {database}: {why}; nothing was restored"
        )));
    }
    tracing::debug!(bytes, "the dump is complete; restoring it");
    ready()?;

    let mut client = Tool::spawn(tool, command, Stdio::piped(), Stdio::null(), cancel)?;
    let mut stdin = client
        .take_stdin()
        .ok_or_else(|| Error::no_pipe(tool, "input"))?;
    let mut input = match open() {
        Ok(input) => input,
        Err(e) => {
            client.kill();
            return Err(e);
        }
    };
    let mut tail = Tail::new(TAIL_BYTES);
    let streamed = crate::pipeline::pump(&mut *input, cancel, &mut |chunk| {
        tail.push(chunk);
        match filter.as_deref_mut() {
            Some(f) => f.feed(chunk, &mut |lines| stdin.write_all(lines)),
            None => stdin.write_all(chunk),
        }
    })
    .and_then(|()| match filter {
        Some(f) => f.finish(&mut |line| stdin.write_all(line)),
        None => Ok(()),
    });
    let partial = "the database may now hold part of the dump: drop it and restore again";
    match streamed {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            // The client stopped reading: its exit status and stderr explain why.
            drop(stdin);
            client
                .wait()
                .map_err(|e| Error::Other(format!("{e}; {partial}")))?;
            return Err(Error::Other(format!(
                "{tool} stopped reading the dump before its end; {partial}"
            )));
        }
        Err(e) => {
            // Killed before its input closes, so that it cannot execute a statement cut in half.
            let said = client.kill();
            drop(stdin);
            let said = if said.is_empty() {
                String::new()
            } else {
                format!(" ({tool} said: {said})")
            };
            return Err(Error::stopped(
                cancel.is_cancelled(),
                format!("restore stopped: {e}{said}; {partial}"),
            ));
        }
        Ok(()) => {}
    }
    if let Err(m) = check_trailer(DUMP_TRAILERS, tail.bytes()) {
        client.kill();
        drop(stdin);
        return Err(incomplete(format!(
            "{m} on the second read, although the first one was complete; {partial}"
        )));
    }
    drop(stdin);
    client
        .wait()
        .map_err(|e| Error::Other(format!("{e}; {partial}")))?;
    Ok(())
}

/// Reads a fresh stream to its end; returns its length and its last bytes.
fn read_through(
    open: Opener,
    cancel: &Cancel,
    mut rename: Option<&mut RenameCheck>,
) -> Result<(u64, Tail)> {
    let mut input = open()?;
    let mut tail = Tail::new(TAIL_BYTES);
    let mut bytes = 0u64;
    crate::pipeline::pump(&mut *input, cancel, &mut |chunk| {
        tail.push(chunk);
        bytes += chunk.len() as u64;
        if let Some(r) = rename.as_deref_mut() {
            r.feed(chunk);
        }
        Ok(())
    })
    .map_err(|e| {
        Error::Other(format!(
            "the backup cannot be read to its end: {e}; nothing was restored"
        ))
    })?;
    Ok((bytes, tail))
}
