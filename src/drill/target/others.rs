//! The scratch targets of the engines without databases: SQLite restores into a temporary file, Redis into
//! the server `TEST_RESTORE_HOST` names (refused when it is the source), the command engine into
//! `TEST_RESTORE_CMD`.

use std::io::Write;

use super::scratch_config;
use crate::cancel::Cancel;
use crate::config::{Config, EngineSettings};
use crate::drill::check::compare_counts;
use crate::engine::{self, Opener, redis, sqlite};
use crate::error::{ConfigError, Error, Result};
use crate::storage::ScratchDir;

/// SQLite: the plain backup written to a temporary file in `BACKUP_DIR`, checked with `PRAGMA
/// integrity_check` and its tables' rows counted. The file is removed afterwards.
pub fn sqlite(cfg: &Config, open: Opener, cancel: &Cancel) -> Result<String> {
    let temp = ScratchDir::of(cfg).spool()?;
    let path = temp.path().to_path_buf();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, temp.as_file());
    let mut input = open()?;
    crate::pipeline::pump(&mut *input, cancel, &mut |chunk| out.write_all(chunk))
        .and_then(|()| out.flush())
        .map_err(|e| Error::io(&path, e))?;
    drop(out);
    let rows = sqlite::drill::check_file(&path)?;
    let total: u64 = rows.values().sum();
    Ok(format!(
        "the restored file passes PRAGMA integrity_check and holds {} tables, {total} rows (a SQLite backup \
         records no row counts of its own to compare with)",
        rows.len()
    ))
}

/// Redis: restored into the empty server `TEST_RESTORE_HOST` names, its keys per logical database compared
/// with the backup's, then that server emptied again.
pub fn redis(cfg: &Config, open: Opener, cancel: &Cancel) -> Result<String> {
    let Some(host) = &cfg.drill.host else {
        return Err(ConfigError::new(
            "TEST_RESTORE_HOST",
            "is required to drill a Redis backup: name a scratch Redis server that the drill may fill and empty \
             (never the source server)",
        )
        .into());
    };
    let scfg = scratch_config(cfg);
    let same = || {
        ConfigError::new(
            "TEST_RESTORE_HOST",
            format!(
                "{host}:{} is the source server; a Redis drill empties its scratch server afterwards, so it must \
                 be another server",
                scfg.conn.port
            ),
        )
    };
    if scfg.conn.host == cfg.conn.host && scfg.conn.port == cfg.conn.port {
        return Err(same().into());
    }
    let scratch = engine::connect(&scfg, None, cancel)?;
    let source = engine::connect(cfg, None, cancel)?;
    if scratch.server_id().is_some() && scratch.server_id() == source.server_id() {
        return Err(same().into());
    }
    drop(source);
    let before = scratch.drill_rows("")?;
    if !before.is_empty() {
        return Err(Error::Other(format!(
            "the scratch server {host}:{} holds keys ({}); a drill restores only into an empty server, which it \
             empties afterwards: point TEST_RESTORE_HOST at an empty one",
            scfg.conn.port,
            before.values().sum::<u64>()
        )));
    }
    let expected = redis::keys_in_backup(open, cancel)?;
    let restored = scratch
        .restore(None, "rdb", open)
        .and_then(|()| scratch.drill_rows(""));
    let emptied = scratch.drop_database("");
    let restored = restored.map_err(|e| {
        Error::Other(format!(
            "the restore into the scratch server {host}:{} failed: {e}",
            scfg.conn.port
        ))
    })?;
    emptied?;
    compare_counts(Some(&expected), &restored, "logical database", "keys").map_err(Error::Other)
}

/// The command engine: the plain backup fed to `TEST_RESTORE_CMD`, which must read it and exit 0.
pub fn command(cfg: &Config, kind: &str, open: Opener, cancel: &Cancel) -> Result<String> {
    let Some(cmd) = &cfg.drill.cmd else {
        return Err(ConfigError::new(
            "TEST_RESTORE_CMD",
            "is required to drill a backup of DB_TYPE=command: a shell command that reads the dump on stdin, \
             restores it somewhere disposable and exits 0 only when it is sound",
        )
        .into());
    };
    let mut scfg = cfg.clone();
    if let EngineSettings::Command(settings) = &mut scfg.engine {
        settings.restore_cmd = Some(cmd.clone());
    }
    let engine = engine::connect(&scfg, None, cancel)?;
    engine.restore(None, kind, open).map_err(|e| match e {
        Error::Tool { message, .. } => Error::Tool {
            tool: "TEST_RESTORE_CMD".into(),
            message,
        },
        other => other,
    })?;
    Ok(
        "TEST_RESTORE_CMD read the whole dump and exited 0 (its exit status is the whole check)"
            .into(),
    )
}
