//! Restoring a custom archive with `pg_restore -j N` (`PG_RESTORE_JOBS`, `restore --jobs`). A parallel
//! `pg_restore` reads a file, never a pipe: unless the stored backup is the archive itself (no compression, no
//! encryption, in `BACKUP_DIR`), the archive is written to a spool in `BACKUP_DIR` first, read through by
//! `pg_restore` beside the writing to prove it whole, and removed when the restore ends, however it ends.
//! The jobs cannot share one transaction (`-j` excludes `--single-transaction`), so a failed parallel restore
//! is undone by dropping the database: only a database that did not exist before the restore is restored in
//! parallel; into one that existed (empty), the archive is restored with one job in one transaction.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::{Postgres, conninfo_dbname};
use crate::engine::{Checker, Completeness, Opener, RestoreSource};
use crate::error::{Error, Result};
use crate::process::Tool;
use crate::storage::ScratchDir;

/// What the spool holds, for messages.
const WHAT: &str = "the custom archive that pg_restore -j reads";
/// The way out when `BACKUP_DIR` has no room for the spool.
const ONE_JOB: &str = "restore with one job (PG_RESTORE_JOBS=1 or restore --jobs 1), which streams the \
                       archive and needs no room";

impl Postgres {
    /// The `pg_restore` jobs for a backup of `kind` restored into `database`: more than one only for a
    /// custom archive restored into a database this restore created. Says why when the setting does not
    /// apply.
    pub(super) fn restore_jobs(&self, database: &str, kind: &str) -> u32 {
        let jobs = self.cfg.settings.restore_jobs;
        if jobs <= 1 {
            return 1;
        }
        if kind != "dump" {
            tracing::info!(
                database,
                jobs,
                "PG_RESTORE_JOBS applies to custom-format backups only; this plain SQL dump is restored by \
                 psql in one transaction"
            );
            return 1;
        }
        let created = self
            .before_restore
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|snapshot| snapshot.is_new_database(database));
        if !created {
            tracing::warn!(
                database,
                jobs,
                "PG_RESTORE_JOBS does not apply to a database that existed before the restore: a failed \
                 parallel restore could only be undone by dropping it; restoring with one job in one \
                 transaction (drop the empty database first to restore it in parallel)"
            );
            return 1;
        }
        jobs
    }

    /// Restores the custom archive into `database` with `pg_restore -j jobs`, from the stored file itself or
    /// from a spool in `BACKUP_DIR` written and checked first.
    pub(super) fn restore_parallel(
        &self,
        database: &str,
        open: Opener,
        source: RestoreSource,
        jobs: u32,
    ) -> Result<()> {
        let spool;
        let archive: &Path = match source.plain_file {
            Some(path) => {
                self.check_archive(database, path)?;
                path
            }
            None => {
                spool = self.spool_archive(database, open, source.stored_size)?;
                &spool
            }
        };
        let started = Instant::now();
        let mut cmd = self.tools.command("pg_restore");
        // No --single-transaction: the jobs each have their own session. --exit-on-error stops at the first
        // error, and the caller's undo drops the database the restore created.
        cmd.args(["--exit-on-error", "--no-password"])
            .arg(format!("--jobs={jobs}"))
            .arg(format!("--dbname={}", conninfo_dbname(database)))
            .arg(archive);
        self.set_env(&mut cmd, database);
        Tool::spawn(
            "pg_restore",
            cmd,
            Stdio::null(),
            Stdio::null(),
            &self.cancel,
        )?
        .wait()
        .map_err(|e| {
            Error::stopped(
                self.cancel.is_cancelled(),
                format!("parallel restore ({jobs} jobs) failed: {e}"),
            )
        })?;
        tracing::info!(
            database,
            jobs,
            duration_ms = started.elapsed().as_millis() as u64,
            "pg_restore in parallel done"
        );
        Ok(())
    }

    /// Proves the archive at `path` whole by reading it through with `pg_restore`, before anything is
    /// restored from it.
    fn check_archive(&self, database: &str, path: &Path) -> Result<()> {
        let mut cmd = self.tools.command("pg_restore");
        cmd.arg("--file=/dev/null").arg(path);
        Tool::spawn(
            "pg_restore",
            cmd,
            Stdio::null(),
            Stdio::null(),
            &self.cancel,
        )?
        .wait()
        .map(|_| ())
        .map_err(|e| Error::Incomplete {
            database: database.to_string(),
            message: format!("the archive cannot be read through: {e}; nothing was restored"),
        })
    }

    /// Writes the plain archive to a spool in `BACKUP_DIR` while `pg_restore` reads it through beside; the
    /// spool is removed when the returned path is dropped. `stored_size` (what the backup takes stored) must
    /// be free first.
    fn spool_archive(
        &self,
        database: &str,
        open: Opener,
        stored_size: u64,
    ) -> Result<tempfile::TempPath> {
        let scratch = ScratchDir::new(&self.cfg.backup_dir);
        let started = Instant::now();
        let file = scratch.spool_with_room(WHAT, stored_size, ONE_JOB)?;
        let mut reader = self.tools.command("pg_restore");
        reader.arg("--file=/dev/null");
        let mut checker = Checker::start(
            Completeness::Reader {
                tool: "pg_restore".into(),
                command: Box::new(reader as Command),
            },
            &self.cancel,
        )?;
        let mut input = open()?;
        let mut out = BufWriter::with_capacity(1 << 20, file.as_file());
        let mut written = 0u64;
        let result = crate::pipeline::pump(&mut *input, &self.cancel, &mut |chunk| {
            checker.feed(chunk)?;
            written += chunk.len() as u64;
            out.write_all(chunk)
        })
        .and_then(|_| out.flush());
        drop(out);
        if let Err(e) = result {
            if e.kind() == std::io::ErrorKind::StorageFull {
                return Err(scratch.no_room(
                    WHAT,
                    &format!("the disk filled after {written} bytes"),
                    ONE_JOB,
                ));
            }
            return Err(Error::stopped(
                self.cancel.is_cancelled(),
                format!(
                    "restore stopped while writing the archive to BACKUP_DIR ({}): {e}; nothing was restored",
                    scratch.path().display()
                ),
            ));
        }
        checker.finish(database).map_err(|e| match e {
            Error::Incomplete { database, message } => Error::Incomplete {
                database,
                message: format!("{message}; nothing was restored"),
            },
            other => other,
        })?;
        tracing::info!(
            database,
            size = written,
            spool = %file.path().display(),
            duration_ms = started.elapsed().as_millis() as u64,
            "custom archive written to BACKUP_DIR and read through for pg_restore -j"
        );
        Ok(file.into_temp_path())
    }
}
