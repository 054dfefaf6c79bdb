//! What is known about SQLite without opening the database: its names, its kind of file, how a stored backup is
//! checked, and which temporary copies a crash left behind.

use crate::engine::Completeness;
use crate::engine::EngineSettings;
use crate::engine::facts::{Facts, settings_missing};

pub const FACTS: Facts = Facts {
    name: "sqlite",
    aliases: &["sqlite3"],
    listed_as: "sqlite",
    needs: Some("DB_PATH"),
    title: "SQLite",
    family: "SQLite",
    default_port: 0,
    default_user: "",
    has_databases: false,
    probe: None,
    kinds: |_| super::KINDS.to_vec(),
    file_completeness: |_, kind| file_completeness(kind),
    check_settings: |_| Ok(()),
    connect: |cfg, _, cancel| {
        let EngineSettings::Sqlite(s) = &cfg.engine else {
            return Err(settings_missing("sqlite"));
        };
        Ok(Box::new(super::Sqlite::connect(
            &cfg.for_engine(s.clone()),
            cancel,
        )?))
    },
    dump_header: None,
    server_wide_label: |cfg| match &cfg.engine {
        EngineSettings::Sqlite(s) => format!("the SQLite database {}", s.path.display()),
        _ => "the SQLite database".to_string(),
    },
    server_wide_last: false,
    globals_hold_no_database: false,
    leftover: Some(super::temp::is_leftover),
};

/// How to check a stored backup of `kind`: a SQLite file whose header matches its length.
pub fn file_completeness(kind: &str) -> Option<Completeness> {
    super::KINDS
        .contains(&kind)
        .then(|| Completeness::Custom(Box::new(super::image::ImageCheck::default())))
}
