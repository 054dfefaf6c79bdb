//! Scratch targets, one way per engine: PostgreSQL and MySQL restore into a throwaway database (on
//! `TEST_RESTORE_HOST`, or on the source server), SQLite into a temporary file, Redis into the server
//! `TEST_RESTORE_HOST` names (never the source), and the command engine feeds `TEST_RESTORE_CMD`.

mod others;

use std::collections::BTreeMap;

use super::compare;
use crate::cancel::Cancel;
use crate::config::{Config, EngineKind};
use crate::engine::{self, Engine, Opener};
use crate::error::{Error, Result};
use crate::jobs::series::Found;

/// Restores the backup `found` (read through `open`) into a scratch target, reads back what it holds and
/// compares it with `rows`, the dump's manifest; the summary of what was checked. The scratch target is gone
/// afterwards, whatever happened.
pub fn restore_and_check(
    cfg: &Config,
    found: &Found,
    database: Option<&str>,
    rows: Option<&BTreeMap<String, u64>>,
    open: Opener,
    cancel: &Cancel,
) -> Result<String> {
    match cfg.conn.kind {
        EngineKind::Postgres | EngineKind::Mysql => {
            let Some(database) = database else {
                return Err(Error::Other(format!(
                    "{} holds server-wide data (roles, users), which is not drilled on its own",
                    found.file_name
                )));
            };
            let scfg = scratch_config(cfg);
            let maintenance = (cfg.conn.kind == EngineKind::Postgres).then_some("postgres");
            let engine = engine::connect(&scfg, maintenance, cancel)?;
            drop_leftovers(engine.as_ref(), &scfg, database)?;
            let kind = &found.name.kind;
            // A custom-format archive kept no row counts: they are read from the archive itself.
            let counted = match rows {
                Some(_) => None,
                None => engine.archive_rows(kind, open)?,
            };
            let held = scratch_database(cfg, engine.as_ref(), kind, database, open)?;
            match counted {
                Some(counted) => compare(Some(&counted), &held)
                    .map(|s| {
                        format!(
                            "{s} (counted in the archive by pg_restore at drill time: a custom archive keeps no \
                             counts from backup time)"
                        )
                    })
                    .map_err(Error::Other),
                None => compare(rows, &held).map_err(Error::Other),
            }
        }
        EngineKind::Sqlite => others::sqlite(cfg, open, cancel),
        EngineKind::Redis => others::redis(cfg, open, cancel),
        EngineKind::Command => others::command(cfg, &found.name.kind, open, cancel),
    }
}

/// The configuration that reaches the scratch server: `TEST_RESTORE_HOST` and the rest when set, else the
/// source server itself.
pub(super) fn scratch_config(cfg: &Config) -> Config {
    let mut scratch = cfg.clone();
    let d = &cfg.drill;
    if let Some(host) = &d.host {
        scratch.conn.host = host.clone();
        scratch.conn.port = d.port.unwrap_or(cfg.conn.kind.default_port());
    } else if let Some(port) = d.port {
        scratch.conn.port = port;
    }
    if let Some(user) = &d.user {
        scratch.conn.user = user.clone();
        scratch.conn.password = d.password.clone();
    } else if d.password.is_some() {
        scratch.conn.password = d.password.clone();
    }
    scratch
}

/// A name for the scratch database: `<database>_drill_<random>`, within the engines' 63-byte limit.
fn scratch_name(database: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tag = format!("{:08x}", nanos ^ std::process::id().rotate_left(16));
    let mut base: String = database
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    base.truncate(40);
    format!("{base}_drill_{tag}")
}

/// Whether `name` is a scratch database of `database`'s drills: exactly what [`scratch_name`] makes of it.
fn is_scratch_of(name: &str, database: &str) -> bool {
    let base = scratch_name(database);
    let prefix = &base[..base.len() - 8];
    name.strip_prefix(prefix)
        .is_some_and(|tag| tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Drops the scratch databases of `database` that a killed drill left on the scratch server, each logged; one
/// that cannot be dropped is logged as a warning and left (it is not the drilled backup's failure).
/// Every one of them is a leftover: this drill holds the run lock in `BACKUP_DIR`, so no other drill of this
/// configuration is running (drills of another instance sharing the scratch server and drilling a database of
/// the same name are not told apart; give such instances their own `TEST_RESTORE_HOST`).
fn drop_leftovers(engine: &dyn Engine, scfg: &Config, database: &str) -> Result<()> {
    let server = format!("{}:{}", scfg.conn.host, scfg.conn.port);
    for name in engine.database_names()? {
        if !is_scratch_of(&name, database) {
            continue;
        }
        match engine.drop_database(&name) {
            Ok(()) => tracing::info!(
                database = %name,
                server = %server,
                "dropped the scratch database an interrupted drill left"
            ),
            Err(e) => tracing::warn!(
                database = %name,
                server = %server,
                error = %e,
                "the scratch database an interrupted drill left could not be dropped; drop it by hand"
            ),
        }
    }
    Ok(())
}

/// Restores into a new scratch database on the server `engine` reaches and counts its rows; the database is
/// dropped afterwards, also when the restore failed.
fn scratch_database(
    cfg: &Config,
    engine: &dyn Engine,
    kind: &str,
    database: &str,
    open: Opener,
) -> Result<BTreeMap<String, u64>> {
    let scfg = scratch_config(cfg);
    let scratch = scratch_name(database);
    let server = format!("{}:{}", scfg.conn.host, scfg.conn.port);
    engine.prepare_restore(&scratch).map_err(|e| {
        let fix = if cfg.drill.host.is_some() {
            "give TEST_RESTORE_USER a user that may create databases there"
        } else {
            "set TEST_RESTORE_HOST to a scratch server, or let DB_USER create databases"
        };
        Error::Other(format!(
            "cannot create the scratch database {scratch} on {server}: {e}; {fix}"
        ))
    })?;
    tracing::info!(database = %scratch, server = %server, "restoring into a scratch database");
    let restored = engine
        .restore(Some(&scratch), kind, open)
        .and_then(|()| engine.drill_rows(&scratch));
    let dropped = engine.drop_database(&scratch);
    let restored = restored.map_err(|e| {
        Error::Other(format!(
            "the restore into the scratch database {scratch} on {server} failed: {e}"
        ))
    })?;
    dropped.map_err(|e| {
        Error::Other(format!(
            "the scratch database {scratch} on {server} could not be dropped: {e}; drop it by hand"
        ))
    })?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_fit_and_differ_from_the_source() {
        let n = scratch_name(&"x".repeat(100));
        assert!(n.len() <= 63, "{n}");
        assert!(scratch_name("app").starts_with("app_drill_"));
    }

    #[test]
    fn only_names_a_drill_makes_are_leftovers() {
        assert!(is_scratch_of(&scratch_name("app"), "app"));
        assert!(is_scratch_of("app_drill_0badc0de", "app"));
        assert!(!is_scratch_of("app", "app"));
        assert!(!is_scratch_of("app_drill_notes", "app"));
        assert!(!is_scratch_of("app_drill_0badc0de1", "app"));
        assert!(!is_scratch_of("my_app_drill_0badc0de", "app"));
        assert!(!is_scratch_of("apps_drill_0badc0de", "app"));
        let long = "x".repeat(100);
        assert!(is_scratch_of(&scratch_name(&long), &long));
    }
}
