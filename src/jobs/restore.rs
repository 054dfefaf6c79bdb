//! `restore`: check each backup's checksum before anything is written, then (between `RESTORE_PRE_CMD` and
//! `RESTORE_POST_CMD`) hand the decompressed stream to the engine, which commits only when the whole dump has
//! arrived complete.

use std::io::Read;

use super::series::{self, Found};
use super::verify::{check_digest, expected_checksum};
use crate::cancel::Cancel;
use crate::config::{Config, Databases};
use crate::engine;
use crate::error::{Error, Result};
use crate::hooks;
use crate::pipeline::{Compression, open_plain, read_through};
use crate::storage::{ScratchDir, Storage};
use std::path::PathBuf;
use std::sync::Arc;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// `latest`, a file name in the backup directory, or a path.
    pub spec: String,
    /// Restore into this database instead of the one the backup belongs to.
    pub database: Option<String>,
    /// Skip the checksum comparison (for a backup whose `.sha256` is lost).
    pub no_verify: bool,
    /// Write the plain (decompressed) dump to this file instead of restoring into the server.
    pub to_file: Option<std::path::PathBuf>,
    /// Look only in this destination (`local`, `s3`, `s3_2`...).
    pub from: Option<String>,
    /// `--jobs`: `pg_restore` jobs, instead of `PG_RESTORE_JOBS`.
    pub jobs: Option<String>,
}

/// Where one backup goes.
struct Plan {
    dir: Arc<dyn Storage>,
    found: Found,
    /// The file the engine reads: the backup itself, or a remote backup's download in `BACKUP_DIR`.
    source: PathBuf,
    /// Removes the download when the restore is over.
    _spool: Option<tempfile::TempPath>,
    /// `None`: server-wide data (PostgreSQL globals).
    database: Option<String>,
}

/// Restores what `opts` names; returns a line per restored backup.
/// `cancel` stops it; nothing half-restored stays behind.
pub fn run(cfg: &Config, opts: &Options, cancel: &Cancel) -> Result<Vec<String>> {
    let with_jobs;
    let cfg = match &opts.jobs {
        Some(jobs) => {
            with_jobs = override_jobs(cfg, jobs)?;
            &with_jobs
        }
        None => cfg,
    };
    let resolved = series::resolve(cfg, &opts.spec, opts.from.as_deref(), cancel)?;
    if let Some(path) = &opts.to_file {
        return super::restore_file::run(cfg, resolved, path, opts.no_verify, cancel)
            .map(|line| vec![line]);
    }
    let mut plans = Vec::new();
    for (dir, found) in resolved {
        check_kind(cfg, dir.as_ref(), &found)?;
        let database = target_database(cfg, &found, opts.database.as_deref());
        let (source, spool) = match dir.local_path(&found.file_name) {
            Some(path) => (path, None),
            None => {
                let spool = spool(cfg, dir.as_ref(), &found)?;
                (spool.to_path_buf(), Some(spool))
            }
        };
        plans.push(Plan {
            dir,
            found,
            source,
            _spool: spool,
            database,
        });
    }
    if plans.len() > 1 && opts.database.is_some() {
        return Err(Error::Usage(
            "--database needs a single backup, but several series were chosen; name one file"
                .into(),
        ));
    }
    // Every file is checked before anything is written to any database: its checksum and, when encrypted, that
    // the key opens it and every encrypted chunk authenticates (so a wrong key never reaches the engine).
    for plan in &plans {
        let expected = if opts.no_verify {
            None
        } else {
            Some(expected_checksum(plan.dir.as_ref(), &plan.found)?)
        };
        if expected.is_none() && !plan.found.name.encrypted {
            continue;
        }
        let path = plan.dir.location(&plan.found.file_name);
        let file = std::fs::File::open(&plan.source).map_err(|e| Error::io(&plan.source, e))?;
        let keys = plan.found.name.encrypted.then_some(&cfg.pipeline.keys);
        let (actual, _) = read_through(std::io::BufReader::with_capacity(1 << 20, file), keys)
            .map_err(|e| Error::file(&path, e.to_string()))?;
        if let Some(expected) = expected {
            check_digest(plan.dir.as_ref(), &plan.found, &expected, &actual)?;
        }
    }
    // A SQL dump of the other SQL engine has the same `.sql` name, and a dump may hold what cannot go where it
    // is sent: its first lines tell, before a database is created or a server asked.
    for plan in &plans {
        if !engine::facts::reads_head(cfg.conn.kind, &plan.found.name.kind) {
            continue;
        }
        let head = plain_head(&plan.source, plan, cfg)?;
        let database = plan.database.as_deref();
        if let Some(refusal) =
            engine::facts::refuse_head(cfg.conn.kind, &plan.found.name.kind, &head, database)
        {
            return Err(Error::file(
                plan.dir.location(&plan.found.file_name),
                refusal,
            ));
        }
    }
    let files: Vec<hooks::File> = plans
        .iter()
        .map(|p| hooks::File {
            series: p.found.name.series.clone(),
            name: p.found.file_name.clone(),
        })
        .collect();
    let work = || restore_plans(cfg, plans, cancel);
    hooks::around(
        cfg,
        hooks::Job::Restore,
        cancel,
        files.clone(),
        work,
        |_| files,
    )
}

/// Restores the checked plans, between `RESTORE_PRE_CMD` and `RESTORE_POST_CMD`.
fn restore_plans(cfg: &Config, mut plans: Vec<Plan>, cancel: &Cancel) -> Result<Vec<String>> {
    // Server-wide data first (PostgreSQL's roles: the databases' objects may be owned by them), unless the
    // engine says last (MySQL's users: their table, column and routine grants need those objects to exist).
    let server_wide_last = cfg.conn.kind.facts().server_wide_last;
    plans.sort_by_key(|p| p.database.is_some() != server_wide_last);

    let first_db = plans.iter().find_map(|p| p.database.clone());
    let engine = engine::connect(cfg, Some(first_db.as_deref().unwrap_or("postgres")), cancel)?;
    engine.begin_restore()?;
    let mut report = Vec::new();
    match restore_all(cfg, engine.as_ref(), plans, &mut report) {
        Ok(()) => Ok(report),
        // Nothing half-restored stays behind: databases and roles this restore created are removed.
        Err(e) => match engine.undo_restore() {
            Some(undone) => Err(Error::Noted {
                cause: Box::new(e),
                note: undone,
            }),
            None => Err(e),
        },
    }
}

/// Restores each plan in order, adding a line per restored backup to `report`.
fn restore_all(
    cfg: &Config,
    engine: &dyn engine::Engine,
    plans: Vec<Plan>,
    report: &mut Vec<String>,
) -> Result<()> {
    for plan in plans {
        let what = match &plan.database {
            Some(db) => format!("database {db} ({})", engine.prepare_restore(db)?),
            None => (cfg.conn.kind.facts().server_wide_label)(cfg),
        };
        tracing::info!(file = %plan.found.file_name, from = plan.dir.name(), target = %what, "restore started");
        let started = std::time::Instant::now();
        let path = plan.source.clone();
        let compression = plan.found.name.compression;
        let keys = plan.found.name.encrypted.then_some(&cfg.pipeline.keys);
        let open = opener(cfg, &path, compression, keys);
        let source = engine::RestoreSource {
            stored_size: plan.found.size,
            plain_file: (compression == Compression::None && keys.is_none())
                .then_some(plan.source.as_path()),
        };
        engine
            .restore_from(
                plan.database.as_deref(),
                &plan.found.name.kind,
                &open,
                source,
            )
            .map_err(|e| match e {
                Error::Other(m) => Error::file(plan.dir.location(&plan.found.file_name), m),
                e @ Error::NoPipe { .. } => {
                    Error::file(plan.dir.location(&plan.found.file_name), e.to_string())
                }
                other => other,
            })?;
        tracing::info!(
            file = %plan.found.file_name,
            target = %what,
            duration_ms = started.elapsed().as_millis() as u64,
            "restore complete"
        );
        report.push(format!("restored {} into {what}", plan.found.file_name));
    }

    Ok(())
}

/// Downloads a remote backup into a hidden file in `BACKUP_DIR`, so that its checksum (and every encrypted
/// chunk) is checked before the first byte reaches the database, and so that engines that read a backup twice
/// can. Removed when the restore ends; a killed restore's download is swept a day later.
/// Fails unless the configured engine can restore the backup `found` (a `.rdb` with `DB_TYPE=postgres`...).
pub(crate) fn check_kind(cfg: &Config, dir: &dyn Storage, found: &Found) -> Result<()> {
    if engine::kinds(cfg).contains(&found.name.kind.as_str()) {
        return Ok(());
    }
    Err(Error::file(
        dir.location(&found.file_name),
        format!(
            "is a .{} backup, which the {} engine cannot restore; set DB_TYPE to the engine that made it",
            found.name.kind,
            cfg.conn.kind.name()
        ),
    ))
}

/// Opens the stored file at `path` as its plain dump (decrypted, decompressed), each time it is called.
pub(crate) fn opener<'a>(
    cfg: &'a Config,
    path: &'a std::path::Path,
    compression: Compression,
    keys: Option<&'a crate::pipeline::Keys>,
) -> impl Fn() -> Result<Box<dyn Read + Send>> + 'a {
    move || {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        open_plain(
            std::io::BufReader::with_capacity(1 << 20, file),
            compression,
            keys,
            &cfg.budget,
        )
        .map_err(|e| Error::file(path, e.to_string()))
    }
}

pub(crate) fn spool(cfg: &Config, dir: &dyn Storage, found: &Found) -> Result<tempfile::TempPath> {
    let temp = ScratchDir::of(cfg).spool()?;
    tracing::info!(file = %found.file_name, from = dir.name(), size = found.size, "downloading the backup before restoring it");
    let mut input = dir.get(&found.file_name)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, temp.as_file());
    std::io::copy(&mut input, &mut out)
        .and_then(|_| std::io::Write::flush(&mut out))
        .map_err(|e| {
            Error::file(
                dir.location(&found.file_name),
                format!("cannot be downloaded: {e}"),
            )
        })?;
    drop(out);
    Ok(temp.into_temp_path())
}

/// `cfg` with `--jobs` in place of `PG_RESTORE_JOBS`; refused for other engines than PostgreSQL.
fn override_jobs(cfg: &Config, jobs: &str) -> Result<Config> {
    let mut cfg = cfg.clone();
    match &mut cfg.engine {
        engine::EngineSettings::Postgres(pg) => {
            pg.restore_jobs = engine::postgres::settings::restore_jobs("--jobs", jobs)
                .map_err(|e| Error::Usage(e.to_string()))?;
            Ok(cfg)
        }
        _ => Err(Error::Usage(format!(
            "--jobs applies to PostgreSQL custom-format backups only, not to the {} engine",
            cfg.conn.kind.name()
        ))),
    }
}

/// The database a backup belongs in: `--database`, the single `DB_NAME`, or the one its series names.
pub(crate) fn target_database(
    cfg: &Config,
    found: &Found,
    explicit: Option<&str>,
) -> Option<String> {
    if let Some(db) = explicit {
        return Some(db.to_string());
    }
    let series = &found.name.series;
    // A users backup (MySQL's `<container>-globals`) holds no database, whatever DB_NAME says.
    if cfg.conn.kind.facts().globals_hold_no_database && *series == cfg.globals_series() {
        return None;
    }
    let from_series = || {
        series
            .strip_prefix(&format!("{}-", cfg.naming.container))
            .map(str::to_string)
            .or_else(|| Some(series.clone()))
    };
    match &cfg.naming.databases {
        Databases::One(name) => Some(name.clone()),
        Databases::Server => None,
        Databases::List(names) => names
            .iter()
            .find(|n| cfg.series_for(n) == *series)
            .cloned()
            .or_else(from_series),
        Databases::All if *series == cfg.globals_series() => None,
        Databases::All => from_series(),
    }
}

/// The first few KiB of a backup's plain (decrypted, decompressed) content.
fn plain_head(source: &std::path::Path, plan: &Plan, cfg: &Config) -> Result<Vec<u8>> {
    let file = std::fs::File::open(source).map_err(|e| Error::io(source, e))?;
    let keys = plan.found.name.encrypted.then_some(&cfg.pipeline.keys);
    let location = plan.dir.location(&plan.found.file_name);
    let plain = open_plain(
        std::io::BufReader::new(file),
        plan.found.name.compression,
        keys,
        &cfg.budget,
    )
    .map_err(|e| Error::file(&location, e.to_string()))?;
    let mut head = Vec::new();
    plain
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::file(&location, e.to_string()))?;
    Ok(head)
}
