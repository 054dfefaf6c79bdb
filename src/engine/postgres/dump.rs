//! A running `pg_dump` or `pg_dumpall`: its output (for the globals, between the parts db-backup adds), its
//! exit status, and its warnings and errors turned into messages that name the grant or setting to fix.

use std::io::{Cursor, Read};
use std::process::{ChildStdout, Command, Stdio};

use super::sessions::DumpSessions;
use crate::cancel::Cancel;
use crate::engine::Dump;
use crate::error::{Error, Result};
use crate::process::Tool;

/// A dump tool's output, with bytes of db-backup's own before and after it.
pub struct PgDump {
    name: String,
    user: String,
    prefix: Cursor<Vec<u8>>,
    tool: Tool,
    stdout: Option<ChildStdout>,
    suffix: Cursor<Vec<u8>>,
    /// The tool's server sessions, ended when the dump is stopped.
    sessions: DumpSessions,
    cancel: Cancel,
}

impl PgDump {
    /// Starts `command` as the tool `name`, run as `user` (for the messages), with the `application_name`
    /// of `sessions`.
    pub fn start(
        name: &str,
        user: &str,
        mut command: Command,
        sessions: DumpSessions,
        cancel: &Cancel,
    ) -> Result<PgDump> {
        command.env("PGAPPNAME", sessions.app_name());
        let mut tool = Tool::spawn(name, command, Stdio::null(), Stdio::piped(), cancel)?;
        let stdout = tool
            .take_stdout()
            .ok_or_else(|| Error::no_pipe(name, "output"))?;
        Ok(PgDump {
            name: name.to_string(),
            user: user.to_string(),
            prefix: Cursor::new(Vec::new()),
            tool,
            stdout: Some(stdout),
            suffix: Cursor::new(Vec::new()),
            sessions,
            cancel: cancel.clone(),
        })
    }

    /// Bytes sent before the tool's output and after it.
    pub fn framed(mut self, prefix: Vec<u8>, suffix: Vec<u8>) -> PgDump {
        self.prefix = Cursor::new(prefix);
        self.suffix = Cursor::new(suffix);
        self
    }
}

impl Read for PgDump {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.prefix.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if let Some(stdout) = &mut self.stdout {
            let n = stdout.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            self.stdout = None;
        }
        self.suffix.read(buf)
    }
}

impl Dump for PgDump {
    fn finish(self: Box<Self>) -> Result<()> {
        let PgDump {
            name,
            user,
            tool,
            stdout,
            sessions,
            cancel,
            ..
        } = *self;
        drop(stdout);
        let waited = tool.wait();
        if cancel.is_cancelled() {
            // Stopped: the tool was killed, and a session of it waiting on a lock would stay on the server.
            sessions.end();
        }
        let stderr = waited.map_err(|e| with_hint(e, &user))?;
        // pg_dump leaves some objects out with only a warning and exit status 0; a backup that says "ok"
        // must hold everything the server has.
        if let Some(line) = stderr.lines().find(|l| l.contains("not dumped because")) {
            return Err(Error::Tool {
                tool: name,
                message: format!(
                    "{line}; the backup would miss them: run the backup as a superuser, or leave them out \
                     on purpose (for subscriptions: PG_DUMP_ARGS=--no-subscriptions)"
                ),
            });
        }
        Ok(())
    }

    fn abort(self: Box<Self>) -> String {
        let said = self.tool.kill();
        self.sessions.end();
        said
    }
}

/// Runs `command` to its end and returns its whole output (for small outputs only: database properties).
pub fn capture(name: &str, user: &str, command: Command, cancel: &Cancel) -> Result<String> {
    let mut tool = Tool::spawn(name, command, Stdio::null(), Stdio::piped(), cancel)?;
    let mut stdout = tool
        .take_stdout()
        .ok_or_else(|| Error::no_pipe(name, "output"))?;
    let mut out = String::new();
    let read = stdout.read_to_string(&mut out);
    drop(stdout);
    tool.wait().map_err(|e| with_hint(e, user))?;
    read.map_err(|e| Error::Tool {
        tool: name.to_string(),
        message: format!("unreadable output: {e}"),
    })?;
    Ok(out)
}

/// A failed dump tool's error with the fix for the permission errors a backup user meets.
fn with_hint(e: Error, user: &str) -> Error {
    let Error::Tool { tool, message } = e else {
        return e;
    };
    match hint(&message, user) {
        Some(hint) => Error::Tool {
            tool,
            message: format!("{message}; {hint}"),
        },
        None => Error::Tool { tool, message },
    }
}

/// What to do about a dump tool's error `message`, when it is a missing privilege of `user`.
pub fn hint(message: &str, user: &str) -> Option<String> {
    let says = |text: &str| message.contains(text);
    if says("permission denied for table pg_authid") {
        Some(format!(
            "{user} cannot read role passwords: set PG_DUMPALL_ARGS=--no-role-passwords (roles are then \
             restored without passwords), or back up as a superuser"
        ))
    } else if says("would be affected by row-level security policy") {
        Some(format!(
            "the table has row-level security and {user} is subject to it: give {user} the BYPASSRLS \
             attribute (as a superuser: ALTER ROLE {user} BYPASSRLS)"
        ))
    } else if says("permission denied for large object") {
        Some(format!(
            "{user} cannot read that large object: grant it (GRANT SELECT ON LARGE OBJECT <oid> TO {user}, \
             see the README's privileges section), or back up as its owner or a superuser, or leave large \
             objects out with PG_DUMP_ARGS=--no-blobs"
        ))
    } else if let Some(rest) = message.split("permission denied for database ").nth(1) {
        let name = rest
            .strip_prefix('"')
            .and_then(|r| r.split('"').next())
            .unwrap_or("<name>");
        Some(format!(
            "{user} may not connect to database {name}: GRANT CONNECT ON DATABASE {name} TO {user}"
        ))
    } else if says("permission denied for") {
        Some(format!(
            "{user} cannot read everything in the database: GRANT pg_read_all_data TO {user} (PostgreSQL 14 \
             and later; see the README's privileges section)"
        ))
    } else {
        None
    }
}
