//! What the program knows about each engine without reaching its server: names, default port and user, file
//! kinds, completeness checks of stored files, how its dumps announce themselves, its detection probe, how a
//! restore names what it restores. Each engine states its facts in its own `facts.rs`; configuration, the jobs
//! and the service ask here instead of naming engines.

use std::path::Path;

use super::probe::Probe;
use super::{Completeness, EngineKind};
use crate::cancel::Cancel;
use crate::config::Config;
use crate::error::{ConfigError, Result};

/// One engine's facts.
pub struct Facts {
    /// The name `DB_TYPE` gives it, as logs, the webhook and the state file show it.
    pub name: &'static str,
    /// The other `DB_TYPE` values that choose it.
    pub aliases: &'static [&'static str],
    /// How the error for an unknown `DB_TYPE` lists it, such as `postgres (postgresql, pg)`.
    pub listed_as: &'static str,
    /// The variable it cannot do without, named in the error of a failed detection (`sqlite with DB_PATH`);
    /// when `DB_TYPE` is unset, that variable being set chooses the engine (in the order of registration).
    pub needs: Option<&'static str>,
    /// Its protocol's name in messages about what answers on a port, such as `MySQL`.
    pub title: &'static str,
    /// The server family in detection messages and its dumps' description, such as `MySQL/MariaDB`.
    pub family: &'static str,
    /// The standard port (0 for engines without a server).
    pub default_port: u16,
    /// The user when none is configured (empty: none).
    pub default_user: &'static str,
    /// Whether `DB_NAME` names databases on the server.
    pub has_databases: bool,
    /// How a server is recognised on its standard port when nothing names the engine (`None`: not probed).
    pub probe: Option<Probe>,
    /// The file kinds (extensions) it writes and restores.
    pub kinds: fn(&Config) -> Vec<&str>,
    /// How to check a stored backup of a kind without a server; `None` for a kind it does not know.
    pub file_completeness: fn(&Config, &str) -> Option<Completeness>,
    /// The settings only the machine can check, told before a lock is taken or a server contacted.
    pub check_settings: fn(&Config) -> Result<()>,
    /// Reaches the server (see [`super::connect()`]).
    pub connect: Connect,
    /// How its plain dumps name their producer in their first lines (`None`: they do not).
    pub dump_header: Option<DumpHeader>,
    /// How a restore names the server-wide data it restores (a backup with no database).
    pub server_wide_label: fn(&Config) -> String,
    /// Whether server-wide data is restored after the databases (MySQL's users: their grants need the objects).
    pub server_wide_last: bool,
    /// Whether the `<container>-globals` series holds no database whatever `DB_NAME` says (MySQL's users).
    pub globals_hold_no_database: bool,
    /// Tells a file it left in the backup directory by a crash (a temporary copy no process holds), for the
    /// sweep.
    pub leftover: Option<fn(&Path, &str) -> bool>,
}

/// Reaches the configured server: the configuration, the database to connect to first, the stop token.
pub type Connect = fn(&Config, Option<&str>, &Cancel) -> Result<Box<dyn super::Engine>>;

/// Why a dump whose head is given cannot be restored into a database (`None`: it can).
pub type Refuse = fn(&[u8], Option<&str>) -> Option<String>;

/// How an engine's plain dumps announce themselves.
pub struct DumpHeader {
    /// The kinds whose first lines name the tool that wrote them.
    pub kinds: &'static [&'static str],
    /// Whether line `index` (trimmed at the end) of a dump's head names this engine's dump tool.
    pub names_us: fn(usize, &str) -> bool,
    /// Why a dump whose head is given cannot be restored into `database` (`None`: it can).
    pub refuse: Option<Refuse>,
}

/// Every engine, in the order of their registration (detection probes them in this order).
pub fn all() -> impl Iterator<Item = (EngineKind, &'static Facts)> {
    EngineKind::ALL.iter().map(|&kind| (kind, kind.facts()))
}

/// The engine a `DB_TYPE` value names (any case), or the error that lists the values.
pub fn from_db_type(value: &str) -> std::result::Result<EngineKind, ConfigError> {
    let lower = value.to_ascii_lowercase();
    all()
        .find(|(_, f)| f.name == lower || f.aliases.contains(&lower.as_str()))
        .map(|(kind, _)| kind)
        .ok_or_else(|| {
            let listed: Vec<&str> = all().map(|(_, f)| f.listed_as).collect();
            ConfigError::new(
                "DB_TYPE",
                format!(
                    "{value:?} is not a database engine; use one of {}",
                    listed.join(", ")
                ),
            )
        })
}

/// The engine whose standard port is `port`, if any.
pub fn by_port(port: u16) -> Option<EngineKind> {
    all()
        .find(|(_, f)| f.default_port != 0 && f.default_port == port)
        .map(|(kind, _)| kind)
}

/// The engines the detection probe asks, in order.
pub fn probed() -> impl Iterator<Item = EngineKind> {
    all().filter(|(_, f)| f.probe.is_some()).map(|(k, _)| k)
}

/// How the `DB_TYPE` advice of a failed detection lists the engines: `postgres, ..., sqlite with DB_PATH`.
pub fn choices() -> String {
    all()
        .map(|(_, f)| match f.needs {
            Some(var) => format!("{} with {var}", f.name),
            None => f.name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `kind` is a kind whose plain dumps `ours` tells by their first lines.
pub fn reads_head(ours: EngineKind, kind: &str) -> bool {
    ours.facts()
        .dump_header
        .as_ref()
        .is_some_and(|h| h.kinds.contains(&kind))
}

/// Why a backup of `kind` whose plain content starts with `head` cannot be restored by `ours` into `database`:
/// the engine's own refusal, or the dump being another engine's (the same `.sql` name, another SQL dialect).
/// `None` when nothing in the head stands in the way.
pub fn refuse_head(
    ours: EngineKind,
    kind: &str,
    head: &[u8],
    database: Option<&str>,
) -> Option<String> {
    let header = ours.facts().dump_header.as_ref()?;
    if !header.kinds.contains(&kind) {
        return None;
    }
    if let Some(refusal) = header.refuse.and_then(|refuse| refuse(head, database)) {
        return Some(refusal);
    }
    match producer(kind, head) {
        Some(other) if other != ours => Some(format!(
            "is a {} dump, which the {} engine cannot restore; set DB_TYPE to the engine that made it",
            other.facts().family,
            ours.facts().name
        )),
        _ => None,
    }
}

/// Which engine wrote a plain dump of `kind`, by the first of its lines that names a dump tool. `None` when no
/// line does.
pub fn producer(kind: &str, head: &[u8]) -> Option<EngineKind> {
    let text = String::from_utf8_lossy(head);
    let telling: Vec<(EngineKind, &DumpHeader)> = all()
        .filter_map(|(k, f)| f.dump_header.as_ref().map(|h| (k, h)))
        .filter(|(_, h)| h.kinds.contains(&kind))
        .collect();
    text.lines()
        .map(str::trim_end)
        .enumerate()
        .find_map(|(i, line)| {
            telling
                .iter()
                .find(|(_, h)| (h.names_us)(i, line))
                .map(|(k, _)| *k)
        })
}

/// The error of an engine's facts given a configuration whose settings are another engine's (the connection
/// and the engine settings are chosen together, so only a hand-built configuration gets here).
pub fn settings_missing(engine: &str) -> crate::error::Error {
    crate::error::Error::Other(format!(
        "the configuration holds no {engine} settings although its engine is {engine}"
    ))
}

/// Whether `name` in the backup directory `dir` is a file some engine left behind in a crash.
pub fn is_leftover(dir: &Path, name: &str) -> bool {
    all().any(|(_, f)| f.leftover.is_some_and(|left| left(dir, name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_dumps_tell_their_engine() {
        let sql_producer = |head: &[u8]| producer("sql", head);
        let pg = b"--\n-- PostgreSQL database dump\n--\n\n\\restrict abc\nSET x = 1;\n";
        assert_eq!(sql_producer(pg), Some(EngineKind::Postgres));
        let all = b"--\n-- PostgreSQL database cluster dump\n--\n";
        assert_eq!(sql_producer(all), Some(EngineKind::Postgres));
        let maria = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n";
        assert_eq!(sql_producer(maria), Some(EngineKind::Mysql));
        let mysql = b"-- MySQL dump 10.13  Distrib 8.0.36\n--\n-- Host: db\n";
        assert_eq!(sql_producer(mysql), Some(EngineKind::Mysql));
        assert_eq!(sql_producer(b"CREATE TABLE t (x int);\n"), None);
    }
}
