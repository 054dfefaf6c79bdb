//! The cluster-wide part of `DB_NAME=all`: taking the globals backup (`pg_dumpall --globals-only`, then each
//! database's own properties) and restoring it onto a server, old or new.

use std::io::Write;
use std::process::{Command, Stdio};

use super::dump::{self, PgDump};
use super::{DUMP_TRAILER, DUMPALL_TRAILER, Postgres, globals, server, undo};
use crate::config::exclude;
use crate::engine::Opener;
use crate::error::{Error, Result};
use crate::process::Tool;

impl Postgres {
    /// The globals backup: `command` (pg_dumpall) framed by a header line, then each database's own
    /// properties, which no per-database dump holds, and the closing line. The properties are taken first:
    /// they are small, and a database that cannot be read fails the run before anything is written.
    pub(super) fn dump_globals(&self, command: Command) -> Result<PgDump> {
        let databases = self
            .runtime
            .block_on(server::list_databases(&self.client, &self.cfg))?;
        let mut suffix = String::new();
        for db in databases.iter().filter(|db| exclude::keeps(&self.cfg.naming, db)) {
            suffix.push_str(&self.database_properties(db)?);
        }
        suffix.push_str(&format!("\n--\n{}\n--\n", globals::TRAILER));
        let prefix = format!("{}\n", globals::HEADER);
        Ok(PgDump::start(
            "pg_dumpall",
            &self.cfg.conn.user,
            command,
            self.sessions("pg_dumpall"),
            &self.cancel,
        )?
        .framed(prefix.into_bytes(), suffix.into_bytes()))
    }

    /// The database-level part of `pg_dump --create` for `database` (its `CREATE DATABASE`, owner, settings,
    /// per-role settings, grants and comment), for the globals backup.
    fn database_properties(&self, database: &str) -> Result<String> {
        let mut cmd = self.tools.command("pg_dump");
        cmd.args([
            "--create",
            "--schema-only",
            "--exclude-schema=*",
            "--no-publications",
            "--no-subscriptions",
        ]);
        // What PG_DUMP_ARGS leaves out of the databases' dumps stays out of their properties too, and so do
        // tablespaces when PG_DUMPALL_ARGS leaves them out of the globals (CREATE DATABASE would name one).
        let leave_out = |a: &&String| {
            [
                "--no-owner",
                "-O",
                "--no-acl",
                "-x",
                "--no-privileges",
                "--no-comments",
                "--no-security-labels",
                "--no-tablespaces",
            ]
            .contains(&a.as_str())
        };
        cmd.args(self.cfg.settings.dump_args.iter().filter(leave_out));
        cmd.args(
            self.cfg
                .settings
                .dumpall_args
                .iter()
                .filter(|a| a.as_str() == "--no-tablespaces"),
        );
        self.set_env(&mut cmd, database);
        let out = dump::capture("pg_dump", &self.cfg.conn.user, cmd, &self.cancel)?;
        if let Err(message) = crate::engine::check_trailer(&[DUMP_TRAILER], out.as_bytes()) {
            return Err(Error::Incomplete {
                database: format!("the properties of database {database}"),
                message,
            });
        }
        Ok(globals::database_entries(&out))
    }

    /// Restores a globals backup: roles and tablespaces, then (in backups that carry them) each database
    /// with its properties. Line by line through [`globals::filter`]; psql stops at the first error.
    pub(super) fn restore_globals(&self, open: Opener) -> Result<()> {
        let existing = self
            .runtime
            .block_on(undo::existing(&self.client, &self.cfg))?;
        let mut tool = Tool::spawn(
            "psql",
            self.restore_command(None, "sql"),
            Stdio::piped(),
            Stdio::null(),
            &self.cancel,
        )?;
        let stdin = tool
            .take_stdin()
            .ok_or_else(|| Error::no_pipe("psql", "input"))?;
        let mut stdin = std::io::BufWriter::with_capacity(1 << 16, stdin);
        let mut input = std::io::BufReader::with_capacity(1 << 20, open()?);
        let mut line = Vec::new();
        let mut first = true;
        let mut ours = false;
        let mut last = String::new();
        let streamed = (|| -> std::io::Result<()> {
            loop {
                if self.cancel.is_cancelled() {
                    return Err(std::io::Error::other("stopped by a signal"));
                }
                line.clear();
                if std::io::BufRead::read_until(&mut input, b'\n', &mut line)? == 0 {
                    return stdin.flush();
                }
                let text = String::from_utf8_lossy(&line);
                if first {
                    ours = text.trim_end() == globals::HEADER;
                    first = false;
                }
                let trimmed = text.trim_end();
                if !(trimmed.is_empty() || trimmed == "--" || trimmed.starts_with("\\unrestrict "))
                {
                    last = trimmed.to_string();
                }
                match globals::filter(&text, &existing) {
                    globals::Line::Keep => {
                        if let Some((role, name)) = globals::creates(&text) {
                            self.note_creating(role, name);
                        }
                        stdin.write_all(&line)?
                    }
                    globals::Line::Skip(why) => {
                        tracing::info!(reason = %why, "globals statement left out");
                    }
                }
            }
        })();
        if let Err(e) = streamed {
            drop(stdin);
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                tool.wait().map_err(globals_hint)?;
            }
            return Err(Error::stopped(
                self.cancel.is_cancelled(),
                format!("restore of the globals stopped: {e}"),
            ));
        }
        let trailer = if ours {
            globals::TRAILER
        } else {
            DUMPALL_TRAILER
        };
        if !last.starts_with(trailer) {
            // psql may not have run the last statements yet: stop it before it does.
            let _ = tool.kill();
            drop(stdin);
            return Err(Error::Incomplete {
                database: "globals".into(),
                message: format!(
                    "it does not end with \"{trailer}\" (the last line is {last:?}); the file was cut short"
                ),
            });
        }
        drop(stdin);
        tool.wait().map_err(globals_hint)?;
        Ok(())
    }
}

/// A failed globals restore's error with what it needs: creating roles and databases for other owners
/// takes a superuser.
fn globals_hint(e: Error) -> Error {
    match e {
        Error::Tool { tool, message }
            if message.contains("permission denied") || message.contains("must be") =>
        {
            Error::Tool {
                tool,
                message: format!(
                    "{message}; restoring roles, tablespaces and databases needs a superuser as DB_USER"
                ),
            }
        }
        other => other,
    }
}
