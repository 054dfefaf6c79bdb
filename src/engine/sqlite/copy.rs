//! The hot copy of the live database: the online backup API in steps, so that writers keep their turn, into
//! a scratch file in the backup directory.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{Sqlite, access_hint};
use crate::error::{Error, Result};

/// Pages copied per step at first; between steps the source is free for writers.
const FIRST_STEP_PAGES: i32 = 1024;
/// The pause between steps, so that writers get their turn.
const STEP_PAUSE: Duration = Duration::from_millis(5);
/// After this many restarts (a writer changed the source between steps) the rest is copied in one step.
const MAX_RESTARTS: u32 = 4;

impl Sqlite {
    /// Copies the live database into `dest` (an empty file) with the backup API.
    pub(super) fn copy_hot(&self, dest: &Path) -> Result<()> {
        let source_error = |e: rusqlite::Error| {
            Error::file(
                &self.path,
                format!(
                    "cannot read the SQLite database (DB_PATH): {e}{}",
                    access_hint(&e)
                ),
            )
        };
        if !self.path.is_file() {
            return Err(Error::file(
                &self.path,
                "does not exist or is not a file; check DB_PATH and that the database's volume is mounted \
                 into this container",
            ));
        }
        // Read-write without create: a WAL database needs its -shm file, and a missing file must not appear.
        let source = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(source_error)?;
        source
            .busy_timeout(Duration::from_secs(5))
            .map_err(source_error)?;
        let journal: String = source
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(source_error)?;
        let wal = journal.eq_ignore_ascii_case("wal");

        let temp_error =
            |e: rusqlite::Error| Error::file(dest, format!("cannot write the copy: {e}"));
        let mut copy = Connection::open_with_flags(
            dest,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(temp_error)?;
        // A scratch file: no journal beside it, no waiting for the disk.
        copy.pragma_update(None, "journal_mode", "OFF")
            .map_err(temp_error)?;
        copy.pragma_update(None, "synchronous", "OFF")
            .map_err(temp_error)?;
        {
            let backup = Backup::new(&source, &mut copy).map_err(source_error)?;
            // In WAL mode a reader never blocks writers, so one step copies a single snapshot. In rollback mode
            // a step blocks writers, so the copy goes in chunks with pauses; a writer's commit between two
            // chunks restarts the copy, and each restart makes the chunks larger, so the copy ends even under a
            // steady stream of writes (the last attempt takes the whole database in one step).
            let mut pages = if wal { -1 } else { FIRST_STEP_PAGES };
            let mut restarts = 0u32;
            let mut done_before = 0i32;
            let wait = self.cfg.conn.wait_timeout.max(Duration::from_secs(5));
            let mut busy_since: Option<Instant> = None;
            loop {
                if self.cancel.is_cancelled() {
                    return Err(Error::Cancelled(
                        "the backup was stopped by a signal".into(),
                    ));
                }
                let step = backup.step(pages).map_err(source_error)?;
                if !matches!(step, StepResult::Busy | StepResult::Locked) {
                    busy_since = None;
                }
                match step {
                    StepResult::Done => break,
                    StepResult::More => {
                        let p = backup.progress();
                        let done = p.pagecount - p.remaining;
                        if done <= done_before {
                            restarts += 1;
                            pages = if restarts >= MAX_RESTARTS {
                                -1
                            } else {
                                pages.saturating_mul(4)
                            };
                            tracing::debug!(restarts, pages, "SQLite copy restarted by a writer");
                        }
                        done_before = done;
                        std::thread::sleep(STEP_PAUSE);
                    }
                    _ => {
                        // Busy or locked: a writer holds the database; wait for it, within DB_WAIT_TIMEOUT.
                        if busy_since.get_or_insert_with(Instant::now).elapsed() > wait {
                            return Err(Error::file(
                                &self.path,
                                format!(
                                    "the database stayed locked by another connection for {} s; retry later or \
                                     raise DB_WAIT_TIMEOUT",
                                    wait.as_secs()
                                ),
                            ));
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            tracing::debug!(
                journal_mode = %journal,
                pages = backup.progress().pagecount,
                restarts,
                "SQLite copy taken"
            );
        }
        copy.close().map_err(|(_, e)| temp_error(e))?;
        Ok(())
    }
}
