//! SQLite (`DB_PATH`): a hot copy with the online backup API into a temporary file in the backup directory,
//! `PRAGMA integrity_check` on the copy, then the copy streamed through the pipeline. A restore goes the same
//! way back: the stream into a temporary file, checked, then copied into `DB_PATH` with the backup API in one
//! write transaction, so that a process holding the database sees the old content or the new, never a mix.
//!
//! A SQLite database is a file of pages, not a stream: the copy needs a file of its own. It lives in the backup
//! directory under a `.db-backup-sqlite-` name, locked with `flock` while in use, so that the next run's sweep
//! can tell a leftover of a crash from a copy in progress.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{Completeness, Dump, DumpTarget, Engine, Opener, StreamCheck};
use crate::cancel::Cancel;
use crate::config::SqliteConfig;
use crate::error::{Error, Result};

/// The kind of file this engine writes: the database file itself.
pub const KINDS: &[&str] = &["db"];
/// The name prefix of the temporary copies in the backup directory (swept when left by a crash).
pub const TEMP_PREFIX: &str = ".db-backup-sqlite-";
/// The first 16 bytes of every SQLite database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";
/// Pages copied per step at first; between steps the source is free for writers.
const FIRST_STEP_PAGES: i32 = 1024;
/// The pause between steps, so that writers get their turn.
const STEP_PAUSE: Duration = Duration::from_millis(5);
/// After this many restarts (a writer changed the source between steps) the rest is copied in one step.
const MAX_RESTARTS: u32 = 4;

/// The SQLite database at `DB_PATH`.
pub struct Sqlite {
    cfg: SqliteConfig,
    path: PathBuf,
    /// Stops the copy and the restore between steps.
    cancel: Cancel,
}

impl Sqlite {
    /// Nothing to reach: the file is opened when it is dumped or restored.
    pub fn connect(cfg: &SqliteConfig, cancel: &Cancel) -> Result<Sqlite> {
        let path = cfg.settings.path.clone();
        Ok(Sqlite {
            cfg: cfg.clone(),
            path,
            cancel: cancel.clone(),
        })
    }

    /// Copies the live database into `dest` (an empty file) with the backup API.
    fn copy_hot(&self, dest: &Path) -> Result<()> {
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

impl Engine for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn targets(&self) -> Result<Vec<DumpTarget>> {
        Ok(vec![DumpTarget {
            database: Some(self.path.display().to_string()),
            series: self.cfg.naming.container.clone(),
            kind: KINDS[0].to_string(),
        }])
    }

    fn dump(&self, _target: &DumpTarget) -> Result<Box<dyn Dump>> {
        let temp = TempCopy::create(&self.cfg.backup_dir)?;
        self.copy_hot(temp.path())?;
        integrity_check(&open_copy(temp.path())?).map_err(|problems| {
            Error::file(
                &self.path,
                format!(
                    "the copy failed PRAGMA integrity_check, so the database itself is probably damaged: \
                     {problems}"
                ),
            )
        })?;
        let file = File::open(temp.path()).map_err(|e| Error::io(temp.path(), e))?;
        Ok(Box::new(CopyDump { file, _temp: temp }))
    }

    fn completeness(&self, _target: &DumpTarget) -> Completeness {
        Completeness::Custom(Box::new(ImageCheck::default()))
    }

    /// `database` is a path given with `--database`: the file to restore into instead of `DB_PATH`.
    fn prepare_restore(&self, database: &str) -> Result<String> {
        let path = Path::new(database);
        if !path.is_absolute() {
            return Err(Error::Usage(format!(
                "--database {database:?}: for SQLite it is the absolute path of the file to restore into, \
                 such as /data/copy.db"
            )));
        }
        Ok(if path.exists() {
            "existing file, its content is replaced".to_string()
        } else {
            "new file".to_string()
        })
    }

    fn restore(&self, database: Option<&str>, _kind: &str, open: Opener) -> Result<()> {
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

/// How to check a stored backup of `kind`: a SQLite file whose header matches its length.
pub fn file_completeness(kind: &str) -> Option<Completeness> {
    KINDS
        .contains(&kind)
        .then(|| Completeness::Custom(Box::new(ImageCheck::default())))
}

/// For an error that says SQLite was refused access to the database file (a file owned by another user, a
/// directory where it cannot create the `-wal` and `-shm` files): which uid needs which access. Empty otherwise.
fn access_hint(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            // SAFETY: geteuid has no preconditions.
            let uid = unsafe { libc::geteuid() };
            format!(
                "; this process runs as uid {uid}, which needs read and write access to the database file, its \
                 -wal and -shm files and their directory (SQLite writes them even to read a WAL database): give \
                 uid {uid} that access (e.g. chown {uid}), or run db-backup as the user that owns them"
            )
        }
        _ => String::new(),
    }
}

/// Opens a copy read-only and `immutable`: nothing else writes it, so SQLite needs no lock and creates no
/// `-wal`/`-shm` file beside it (a copy of a WAL database says WAL in its header).
fn open_copy(path: &Path) -> Result<Connection> {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| Error::file(path, format!("cannot open the copy: {e}")))
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

/// `PRAGMA integrity_check`: `Err` with the first problems it reports.
fn integrity_check(conn: &Connection) -> std::result::Result<(), String> {
    let rows = conn
        .prepare("PRAGMA integrity_check(10)")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(|e| e.to_string())?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(rows.join("; "))
    }
}

/// The temporary copy in the backup directory: created `0600`, `flock`ed while it exists, removed on drop.
struct TempCopy {
    file: tempfile::NamedTempFile,
}

impl TempCopy {
    fn create(dir: &Path) -> Result<TempCopy> {
        let file = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .suffix(".db")
            .tempfile_in(dir)
            .map_err(|e| {
                Error::file(
                    dir,
                    format!("cannot create the temporary copy of the SQLite database: {e}"),
                )
            })?;
        // Held as long as the copy's descriptor stays open, so the sweep of another process leaves it alone.
        if let Err(e) = file.as_file().try_lock() {
            return Err(Error::io(file.path(), e.into()));
        }
        Ok(TempCopy { file })
    }

    fn path(&self) -> &Path {
        self.file.path()
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        // The copy is opened without a journal and read immutable, but a crash of SQLite itself could leave
        // one; the main file goes with the NamedTempFile.
        for suffix in ["-journal", "-wal", "-shm"] {
            let mut companion = self.path().as_os_str().to_owned();
            companion.push(suffix);
            let _ = std::fs::remove_file(companion);
        }
    }
}

/// Whether `name` in `dir` is a temporary copy (or a companion of one) that no running process holds: a
/// leftover of a crash, for the sweep.
pub fn is_leftover(dir: &Path, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
        return false;
    };
    let base = ["-journal", "-wal", "-shm"]
        .iter()
        .find_map(|s| rest.strip_suffix(s))
        .unwrap_or(rest);
    let Ok(file) = File::open(dir.join(format!("{TEMP_PREFIX}{base}"))) else {
        // The main file is gone: a companion alone is a leftover.
        return true;
    };
    // Taken only when no process holds the copy; released when `file` is closed.
    file.try_lock().is_ok()
}

/// The dump: the checked copy, read from the start; the copy is removed when the dump is dropped.
struct CopyDump {
    file: File,
    _temp: TempCopy,
}

impl Read for CopyDump {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.file.read(buf)
    }
}

impl Dump for CopyDump {
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    fn abort(self: Box<Self>) -> String {
        String::new()
    }
}

/// Checks that a stream is a whole SQLite database file: the magic string, and a length equal to the page
/// size times the page count that the header records.
#[derive(Debug, Default)]
pub struct ImageCheck {
    header: Vec<u8>,
    len: u64,
}

/// The bytes of the header the check reads (up to the "version-valid-for" number at offset 92).
const HEADER_LEN: usize = 100;

impl StreamCheck for ImageCheck {
    fn feed(&mut self, chunk: &[u8]) {
        if self.header.len() < HEADER_LEN {
            let take = (HEADER_LEN - self.header.len()).min(chunk.len());
            self.header.extend_from_slice(&chunk[..take]);
        }
        self.len += chunk.len() as u64;
    }

    fn finish(self: Box<Self>) -> std::result::Result<(), String> {
        let h = &self.header;
        if h.len() < HEADER_LEN || &h[..16] != MAGIC {
            return Err("it is not a SQLite database file (no \"SQLite format 3\" header)".into());
        }
        let page_size = match u16::from_be_bytes([h[16], h[17]]) {
            1 => 65536,
            n => u64::from(n),
        };
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(format!(
                "its header records an impossible page size ({page_size})"
            ));
        }
        let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let pages = u64::from(be32(28));
        // The page count in the header is valid when the change counter matches "version-valid-for"; every
        // file the backup API writes has it.
        let expected = if pages > 0 && be32(24) == be32(92) {
            pages * page_size
        } else {
            self.len.div_ceil(page_size).max(1) * page_size
        };
        if self.len != expected {
            return Err(format!(
                "it is {} bytes long but its header says {expected} ({} pages of {page_size} bytes); the \
                 file was cut short or has extra bytes",
                self.len,
                expected / page_size
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, EngineSettings};

    fn check(bytes: &[u8], chunk: usize) -> std::result::Result<(), String> {
        let mut c = Box::new(ImageCheck::default());
        for part in bytes.chunks(chunk.max(1)) {
            c.feed(part);
        }
        c.finish()
    }

    fn sample_db() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(5000)), (randomblob(9000));",
        )
        .unwrap();
        drop(conn);
        std::fs::read(&path).unwrap()
    }

    #[test]
    fn a_whole_database_file_passes_in_any_chunking() {
        let db = sample_db();
        assert!(db.len() > 4096 * 3);
        for chunk in [1, 7, 100, 4096, 1 << 20] {
            assert_eq!(check(&db, chunk), Ok(()), "chunk {chunk}");
        }
    }

    #[test]
    fn cut_padded_and_foreign_files_fail() {
        let db = sample_db();
        let cut = check(&db[..db.len() - 4096], 1000).unwrap_err();
        assert!(cut.contains("cut short"), "{cut}");
        let mut padded = db.clone();
        padded.extend_from_slice(&[0u8; 10]);
        assert!(check(&padded, 1000).is_err());
        assert!(check(b"", 10).is_err());
        assert!(check(&db[..50], 10).is_err());
        let foreign =
            check(b"-- PostgreSQL database dump\n".repeat(10).as_slice(), 64).unwrap_err();
        assert!(foreign.contains("not a SQLite"), "{foreign}");
    }

    fn engine(db: &Path, dir: &Path) -> Sqlite {
        let vars = vec![
            ("DB_PATH".to_string(), db.display().to_string()),
            ("BACKUP_DIR".to_string(), dir.display().to_string()),
        ];
        let cfg = Config::from_vars(&vars, &|_| Err(std::io::ErrorKind::NotFound.into())).unwrap();
        let EngineSettings::Sqlite(settings) = &cfg.engine else {
            panic!("DB_PATH chooses SQLite");
        };
        Sqlite::connect(&cfg.for_engine(settings.clone()), &Cancel::new()).unwrap()
    }

    fn dump_bytes(engine: &Sqlite) -> Vec<u8> {
        let target = engine.targets().unwrap().remove(0);
        let mut dump = engine.dump(&target).unwrap();
        let mut bytes = Vec::new();
        dump.read_to_end(&mut bytes).unwrap();
        dump.finish().unwrap();
        bytes
    }

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(TEMP_PREFIX))
            .collect()
    }

    #[test]
    fn copies_and_restores_any_page_size_and_journal_mode() {
        for (page_size, mode) in [(1024, "wal"), (65536, "delete"), (512, "truncate")] {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("src.db");
            let app = Connection::open(&db).unwrap();
            app.execute_batch(&format!(
                "PRAGMA page_size = {page_size}; PRAGMA journal_mode = {mode};
                 CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000)), ('a'), (NULL);"
            ))
            .unwrap();
            let engine = engine(&db, dir.path());
            let bytes = dump_bytes(&engine);
            assert_eq!(check(&bytes, 4096), Ok(()), "{page_size} {mode}");
            // The header stores 65536 as 1.
            let header = u16::from_be_bytes([bytes[16], bytes[17]]);
            assert_eq!(
                if header == 1 {
                    65536
                } else {
                    i64::from(header)
                },
                page_size
            );

            let restored = dir.path().join("restored.db");
            let open = || -> Result<Box<dyn Read + Send>> {
                Ok(Box::new(std::io::Cursor::new(bytes.clone())))
            };
            engine
                .restore(Some(restored.to_str().unwrap()), "db", &open)
                .unwrap();
            let copy = Connection::open(&restored).unwrap();
            let (rows, size): (i64, i64) = copy
                .query_row(
                    "SELECT (SELECT count(*) FROM t), (SELECT page_size FROM pragma_page_size)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            assert_eq!((rows, size), (3, page_size), "{mode}");
            assert!(
                temp_files(dir.path()).is_empty(),
                "{:?}",
                temp_files(dir.path())
            );
        }
    }

    #[test]
    fn a_wal_target_with_other_pages_is_refused_plainly() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("src.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("PRAGMA page_size = 8192; CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        let engine = engine(&db, dir.path());
        let bytes = dump_bytes(&engine);
        let target = dir.path().join("wal.db");
        let app = Connection::open(&target).unwrap();
        app.execute_batch(
            "PRAGMA journal_mode = WAL; CREATE TABLE keep (y); INSERT INTO keep VALUES (2);",
        )
        .unwrap();
        let open = || -> Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(bytes.clone())))
        };
        let err = engine
            .restore(Some(target.to_str().unwrap()), "db", &open)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("WAL mode") && err.contains("not touched"),
            "{err}"
        );
        let kept: i64 = app
            .query_row("SELECT y FROM keep", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, 2);
    }

    #[test]
    fn leftovers_are_told_from_copies_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let live = TempCopy::create(dir.path()).unwrap();
        let live_name = live
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(live_name.starts_with(TEMP_PREFIX));
        assert!(!is_leftover(dir.path(), &live_name));
        assert!(!is_leftover(dir.path(), &format!("{live_name}-journal")));
        std::fs::write(dir.path().join(".db-backup-sqlite-dead.db"), b"x").unwrap();
        assert!(is_leftover(dir.path(), ".db-backup-sqlite-dead.db"));
        assert!(is_leftover(dir.path(), ".db-backup-sqlite-gone.db-wal"));
        assert!(!is_leftover(dir.path(), "app-2025-01-01T00-00-00.db.gz"));
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
    }
}
