//! SQLite (`DB_PATH`): a hot copy with the online backup API into a temporary file in the backup directory,
//! `PRAGMA integrity_check` on the copy, then the copy streamed through the pipeline. A restore goes the same
//! way back: the stream into a temporary file, checked, then copied into `DB_PATH` with the backup API in one
//! write transaction, so that a process holding the database sees the old content or the new, never a mix.
//!
//! A SQLite database is a file of pages, not a stream: the copy needs a file of its own. It lives in the backup
//! directory under a `.db-backup-sqlite-` name, locked with `flock` while in use, so that the next run's sweep
//! can tell a leftover of a crash from a copy in progress.
//!
//! Here: the engine and the helpers its steps share; `copy`: the hot copy; `restore`: the way back;
//! `image`: the completeness check of a database file; `temp`: the temporary copy and the sweep's test;
//! `facts`: what is known without opening the database.

mod copy;
pub mod drill;
pub mod facts;
mod image;
mod restore;
pub mod settings;
mod temp;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{Completeness, Dump, DumpTarget, Engine, Opener};
use crate::cancel::Cancel;
use crate::engine::sqlite::settings::SqliteConfig;
use crate::error::{Error, Result};

use image::ImageCheck;
use temp::TempCopy;

/// The kind of file this engine writes: the database file itself.
pub const KINDS: &[&str] = &["db"];

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
        self.restore_into(database, open)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::EngineSettings;
    use image::tests::check;
    use temp::TEMP_PREFIX;

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

}
