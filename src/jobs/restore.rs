//! `restore`: check a backup's checksum, then stream it, decompressed, into the database's own client; a
//! plain dump is committed only when its end marker has arrived, so a damaged file changes nothing.

use std::io::Write;
use std::process::Stdio;

use super::series::{self, Found};
use super::verify::{check_digest, expected_checksum};
use super::{CANCEL, Checker};
use crate::config::{Config, Databases};
use crate::engine::Completeness;
use crate::engine::postgres::{self, Postgres};
use crate::error::{Error, Result};
use crate::pipeline::{self, sha256_file};
use crate::process::Tool;
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
    /// `None`: server globals.
    database: Option<String>,
    expected: Option<String>,
}

/// Restores what `opts` names; returns a line per restored backup.
pub async fn run(cfg: &Config, opts: &Options) -> Result<Vec<String>> {
    let mut plans = Vec::new();
    for (dir, found) in series::resolve(cfg, &opts.spec)? {
        if !matches!(found.name.kind.as_str(), "sql" | "dump") {
            return Err(Error::file(
                dir.file_path(&found.file_name),
                format!(
                    "is a .{} backup, not a PostgreSQL one; restore it with the engine that made it",
                    found.name.kind
                ),
            ));
        }
        let database = target_database(cfg, &found, opts.database.as_deref());
        plans.push(Plan {
            dir,
            found,
            database,
            expected: None,
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
        for plan in &mut plans {
            let expected = expected_checksum(&plan.dir, &plan.found)?;
            let path = plan.dir.file_path(&plan.found.file_name);
            let actual = sha256_file(&path).map_err(|e| Error::io(&path, e))?;
            check_digest(&plan.dir, &plan.found, &expected, &actual)?;
            plan.expected = Some(expected);
        }
    }
    // Globals (roles) first: the databases' objects may be owned by them.
    plans.sort_by_key(|p| p.database.is_some());

    let mut report = Vec::new();
    for plan in plans {
        let (pg, client) = connect(cfg, plan.database.as_deref()).await?;
        let what = match &plan.database {
            Some(db) => {
                let created = Postgres::ensure_database(&client, cfg, db).await?;
                if !created {
                    let objects = Postgres::object_count(cfg, db).await?;
                    if objects > 0 {
                        return Err(Error::Server {
                            server: format!("PostgreSQL at {}:{}", cfg.host, cfg.port),
                            message: format!(
                                "database {db} is not empty ({objects} tables, sequences, functions...); \
                                 restore needs an empty database: drop and recreate it, or restore into a new \
                                 one with --database NAME"
                            ),
                        });
                    }
                }
                format!("database {db}{}", if created { " (created)" } else { "" })
            }
            None => "server globals (roles, tablespaces)".to_string(),
        };
        drop(client);
        tracing::info!(file = %plan.found.file_name, target = %what, "restore started");
        let file_name = plan.found.file_name.clone();
        let started = std::time::Instant::now();
        tokio::task::spawn_blocking(move || stream_into(&pg, &plan))
            .await
            .map_err(|e| Error::Other(format!("the restore task failed: {e}")))??;
        tracing::info!(
            file = %file_name,
            target = %what,
            duration_ms = started.elapsed().as_millis() as u64,
            "restore complete"
        );
        report.push(format!("restored {file_name} into {what}"));
    }
    Ok(report)
}

/// The database a backup belongs in: `--database`, the single `DB_NAME`, or the one its series names.
fn target_database(cfg: &Config, found: &Found, explicit: Option<&str>) -> Option<String> {
    if let Some(db) = explicit {
        return Some(db.to_string());
    }
    let series = &found.name.series;
    match &cfg.databases {
        Databases::One(name) => Some(name.clone()),
        Databases::List(names) => names
            .iter()
            .find(|n| cfg.series_for(n) == *series)
            .cloned()
            .or_else(|| {
                series
                    .strip_prefix(&format!("{}-", cfg.container))
                    .map(str::to_string)
            }),
        Databases::All if *series == cfg.globals_series() => None,
        Databases::All => series
            .strip_prefix(&format!("{}-", cfg.container))
            .map(str::to_string)
            .or_else(|| Some(series.clone())),
    }
}

/// Connects for the restore: the maintenance database first, the target itself when that is not allowed.
async fn connect(
    cfg: &Config,
    database: Option<&str>,
) -> Result<(Postgres, tokio_postgres::Client)> {
    match Postgres::connect(cfg, "postgres").await {
        Ok(ok) => Ok(ok),
        Err(first) => match database {
            Some(db) if db != "postgres" => Postgres::connect(cfg, db).await.map_err(|_| first),
            _ => Err(first),
        },
    }
}

fn stream_into(pg: &Postgres, plan: &Plan) -> Result<()> {
    let kind = plan.found.name.kind.as_str();
    let plain = kind == "sql" && plan.database.is_some();
    let tool_name = if kind == "dump" { "pg_restore" } else { "psql" };
    let mut tool = Tool::spawn(
        tool_name,
        pg.restore_command(plan.database.as_deref(), kind),
        Stdio::piped(),
        Stdio::null(),
    )?;
    let mut stdin = tool
        .take_stdin()
        .ok_or_else(|| Error::Other(format!("{tool_name} has no input pipe")))?;
    let mut checker = Checker::start(Completeness::Trailer(&[
        postgres::DUMP_TRAILER,
        postgres::DUMPALL_TRAILER,
    ]))?;
    let path = plan.dir.file_path(&plan.found.file_name);
    let file = plan.dir.open(&plan.found.file_name)?;

    // The transaction is ours rather than psql's --single-transaction, so that COMMIT is sent only once the
    // whole dump has arrived intact; a stream cut short ends in a rollback.
    let streamed = (|| {
        if plain {
            stdin.write_all(b"BEGIN;\n")?;
        }
        pipeline::load(
            file,
            &mut stdin,
            plan.found.name.compression,
            &mut |chunk| checker.feed(chunk),
            &CANCEL,
        )
    })();
    let measured = match streamed {
        Ok(m) => m,
        Err(e) => {
            drop(stdin);
            // A client that stopped reading has the better explanation.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                tool.wait()?;
            }
            return Err(Error::file(
                &path,
                format!("restore stopped: {e}; nothing was committed"),
            ));
        }
    };
    if let Some(expected) = &plan.expected {
        check_digest(&plan.dir, &plan.found, expected, &measured.sha256)?;
    }
    if kind == "sql"
        && let Some(Err(message)) = checker.trailer_verdict()
    {
        return Err(Error::Incomplete {
            database: plan.found.file_name.clone(),
            message: format!("{message}; nothing was committed"),
        });
    }
    if plain {
        stdin
            .write_all(b"COMMIT;\n")
            .map_err(|e| Error::file(&path, format!("restore stopped at COMMIT: {e}")))?;
    }
    drop(stdin);
    tool.wait()?;
    Ok(())
}
