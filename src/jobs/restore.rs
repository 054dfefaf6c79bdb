//! `restore`: check each backup's checksum before anything is written, then hand the decompressed stream to
//! the engine, which commits only when the whole dump has arrived complete.

use std::io::Read;

use super::series::{self, Found};
use super::verify::{check_digest, expected_checksum};
use crate::config::{Config, Databases};
use crate::engine;
use crate::error::{Error, Result};
use crate::pipeline::{Decoder, sha256_file};
use crate::storage::LocalDir;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// `latest`, a file name in the backup directory, or a path.
    pub spec: String,
    /// Restore into this database instead of the one the backup belongs to.
    pub database: Option<String>,
    /// Skip the checksum comparison (for a backup whose `.sha256` is lost).
    pub no_verify: bool,
}

/// Where one backup goes.
struct Plan {
    dir: LocalDir,
    found: Found,
    /// `None`: server-wide data (PostgreSQL globals).
    database: Option<String>,
}

/// Restores what `opts` names; returns a line per restored backup.
pub async fn run(cfg: &Config, opts: &Options) -> Result<Vec<String>> {
    let (cfg, opts) = (cfg.clone(), opts.clone());
    tokio::task::spawn_blocking(move || run_blocking(&cfg, &opts))
        .await
        .map_err(|e| Error::Other(format!("the restore task failed: {e}")))?
}

fn run_blocking(cfg: &Config, opts: &Options) -> Result<Vec<String>> {
    let mut plans = Vec::new();
    for (dir, found) in series::resolve(cfg, &opts.spec)? {
        if !engine::kinds(cfg).contains(&found.name.kind.as_str()) {
            return Err(Error::file(
                dir.file_path(&found.file_name),
                format!(
                    "is a .{} backup, which the {} engine cannot restore; set DB_TYPE to the engine that made it",
                    found.name.kind,
                    cfg.engine.name()
                ),
            ));
        }
        let database = target_database(cfg, &found, opts.database.as_deref());
        plans.push(Plan {
            dir,
            found,
            database,
        });
    }
    if plans.len() > 1 && opts.database.is_some() {
        return Err(Error::Usage(
            "--database needs a single backup, but several series were chosen; name one file"
                .into(),
        ));
    }
    // Every file is checked before anything is written to any database.
    if !opts.no_verify {
        for plan in &plans {
            let expected = expected_checksum(&plan.dir, &plan.found)?;
            let path = plan.dir.file_path(&plan.found.file_name);
            let actual = sha256_file(&path).map_err(|e| Error::io(&path, e))?;
            check_digest(&plan.dir, &plan.found, &expected, &actual)?;
        }
    }
    // Server-wide data (roles) first: the databases' objects may be owned by them.
    plans.sort_by_key(|p| p.database.is_some());

    let first_db = plans.iter().find_map(|p| p.database.clone());
    let engine = engine::connect(cfg, Some(first_db.as_deref().unwrap_or("postgres")))?;
    let mut report = Vec::new();
    for plan in plans {
        let what = match &plan.database {
            Some(db) => format!("database {db} ({})", engine.prepare_restore(db)?),
            None => "server-wide data (roles, tablespaces)".to_string(),
        };
        tracing::info!(file = %plan.found.file_name, target = %what, "restore started");
        let started = std::time::Instant::now();
        let path = plan.dir.file_path(&plan.found.file_name);
        let compression = plan.found.name.compression;
        let open = || -> Result<Box<dyn Read + Send>> {
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            let decoder = Decoder::new(
                std::io::BufReader::with_capacity(1 << 20, file),
                compression,
            )
            .map_err(|e| Error::io(&path, e))?;
            Ok(Box::new(decoder))
        };
        engine
            .restore(plan.database.as_deref(), &plan.found.name.kind, &open)
            .map_err(|e| match e {
                Error::Other(m) => Error::file(&path, m),
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
    Ok(report)
}

/// The database a backup belongs in: `--database`, the single `DB_NAME`, or the one its series names.
fn target_database(cfg: &Config, found: &Found, explicit: Option<&str>) -> Option<String> {
    if let Some(db) = explicit {
        return Some(db.to_string());
    }
    let series = &found.name.series;
    let from_series = || {
        series
            .strip_prefix(&format!("{}-", cfg.container))
            .map(str::to_string)
            .or_else(|| Some(series.clone()))
    };
    match &cfg.databases {
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
