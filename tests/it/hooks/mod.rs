//! Hooks (`BACKUP_PRE_CMD`, `BACKUP_POST_CMD`, `RESTORE_PRE_CMD`, `RESTORE_POST_CMD`, `HOOK_TIMEOUT`): real shell
//! commands around real backups and restores, mostly of the command engine (no server needed), one of PostgreSQL.

mod backup;
mod postgres;
mod restore;
mod service;
mod timeout;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::support::DbBackup;

/// db-backup with the command engine: `BACKUP_CMD` prints a line, series `files`, into `dir`.
pub fn command_backup(dir: &Path) -> DbBackup {
    DbBackup::bare()
        .env("BACKUP_CMD", "echo 'the dump'")
        .env("BACKUP_NAME", "sql")
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.to_str().expect("UTF-8 path"))
        .env("TZ", "UTC")
}

/// A hook command that writes its environment to `<out>/<name>.env`.
pub fn save_env(out: &Path, name: &str) -> String {
    format!("env > '{}/{name}.env'", out.display())
}

/// The environment a hook saved with [`save_env`]; `None` when the hook did not run.
pub fn saved_env(out: &Path, name: &str) -> Option<BTreeMap<String, String>> {
    let text = fs::read_to_string(out.join(format!("{name}.env"))).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The value of `name` in a saved environment, failing the test when it is missing.
pub fn var<'a>(env: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    env.get(name)
        .unwrap_or_else(|| panic!("{name} is not in the hook's environment: {env:?}"))
}

/// The log lines of stderr that carry `text` and name `hook`.
pub fn hook_lines<'a>(stderr: &'a str, hook: &str, text: &str) -> Vec<&'a str> {
    stderr
        .lines()
        .filter(|l| l.contains(text) && l.contains(hook))
        .collect()
}
