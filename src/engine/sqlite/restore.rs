//! A SQLite restore: the stream into a temporary file, checked (its header and length, then
//! `PRAGMA integrity_check`), then copied into the target with the backup API in one write transaction, so
//! that a process holding the database sees the old content or the new, never a mix.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::image::ImageCheck;
use super::temp::TempCopy;
use super::{Sqlite, access_hint, integrity_check, open_copy};
use crate::engine::{Opener, StreamCheck};
use crate::error::{Error, Result};

impl Sqlite {
    /// Restores the stream `open` yields into `database` (a path given with `--database`) or `DB_PATH`.
    pub(super) fn restore_into(&self, database: Option<&str>, open: Opener) -> Result<()> {
        let target = database.map(PathBuf::from).unwrap_or(self.path.clone());
        let untouched = format!("{} was not touched", target.display());
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(Error::file(
                &target,
                format!(
                    "cannot be created: the directory {} does not exist",
                    parent.display()
                ),
            ));
        }

        // The backup becomes a database file again, checked before anything reaches the target.
        let temp = TempCopy::create(&self.cfg.backup_dir)?;
        let mut check = Box::new(ImageCheck::default());
        {
            let mut input = open()?;
            let file = File::create(temp.path()).map_err(|e| Error::io(temp.path(), e))?;
            let mut out = BufWriter::with_capacity(1 << 20, file);
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                if self.cancel.is_cancelled() {
                    return Err(Error::Cancelled(format!(
                        "the restore was stopped by a signal; {untouched}"
                    )));
                }
                let n = input.read(&mut buf).map_err(|e| {
                    Error::Other(format!("reading the backup failed: {e}; {untouched}"))
                })?;
                if n == 0 {
                    break;
                }
                check.feed(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(|e| Error::io(temp.path(), e))?;
            }
            out.flush().map_err(|e| Error::io(temp.path(), e))?;
        }
        let incomplete = |message: String| Error::Incomplete {
            database: target.display().to_string(),
            message: format!("{message}; {untouched}"),
        };
        check.finish().map_err(incomplete)?;
        let source = open_copy(temp.path())?;
        integrity_check(&source).map_err(|problems| {
            incomplete(format!(
                "the backup is not a sound SQLite database (PRAGMA integrity_check: {problems})"
            ))
        })?;

        let target_error = |e: rusqlite::Error| {
            Error::file(
                &target,
                format!(
                    "restoring into the SQLite database failed: {e}{}",
                    access_hint(&e)
                ),
            )
        };
        let mut dest = Connection::open_with_flags(
            &target,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(target_error)?;
        dest.busy_timeout(Duration::from_secs(5))
            .map_err(target_error)?;
        check_page_sizes(&source, &dest)
            .map_err(|m| Error::file(&target, format!("{m}; {untouched}")))?;
        {
            // One step: every page in one write transaction on the target, so its readers switch at once.
            let backup = Backup::new(&source, &mut dest).map_err(target_error)?;
            let wait = self.cfg.conn.wait_timeout.max(Duration::from_secs(5));
            let deadline = Instant::now() + wait;
            loop {
                match backup.step(-1).map_err(target_error)? {
                    StepResult::Done => break,
                    StepResult::More => continue,
                    _ if Instant::now() > deadline => {
                        return Err(Error::file(
                            &target,
                            format!(
                                "stayed locked by another connection for {} s; stop the application's \
                                 writes (or raise DB_WAIT_TIMEOUT) and restore again; {untouched}",
                                wait.as_secs()
                            ),
                        ));
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        integrity_check(&dest).map_err(|problems| {
            Error::file(
                &target,
                format!("failed PRAGMA integrity_check after the restore: {problems}"),
            )
        })?;
        Ok(())
    }
}

/// SQLite cannot change the page size of a database in WAL mode, so a backup into such a target must have the
/// same page size; this says so plainly instead of SQLite's "attempt to write a readonly database".
fn check_page_sizes(source: &Connection, target: &Connection) -> std::result::Result<(), String> {
    let read = |conn: &Connection, pragma: &str| -> std::result::Result<String, String> {
        conn.query_row(&format!("PRAGMA {pragma}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .map_err(|e| format!("cannot read PRAGMA {pragma}: {e}"))
    };
    let journal = read(target, "journal_mode")?;
    let (have, want) = (read(target, "page_size")?, read(source, "page_size")?);
    if journal.eq_ignore_ascii_case("wal") && have != want && read(target, "page_count")? != "0" {
        return Err(format!(
            "it is in WAL mode with pages of {have} bytes and the backup has pages of {want} bytes, which SQLite \
             cannot change in place: stop the application, move the file and its -wal and -shm files aside, and \
             restore again"
        ));
    }
    Ok(())
}
