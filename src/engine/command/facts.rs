//! What is known about the command engine: its names, that its kind of file is whatever `BACKUP_NAME` says, and
//! that nothing in its stream tells completeness.

use crate::engine::EngineSettings;
use crate::engine::facts::{Facts, settings_missing};

pub const FACTS: Facts = Facts {
    name: "command",
    aliases: &["cmd"],
    listed_as: "command",
    needs: Some("BACKUP_CMD"),
    title: "command",
    family: "command",
    default_port: 0,
    default_user: "",
    has_databases: false,
    probe: None,
    // The command engine's kind is whatever BACKUP_NAME says.
    kinds: |cfg| match &cfg.engine {
        EngineSettings::Command(c) => vec![c.kind.as_str()],
        _ => Vec::new(),
    },
    file_completeness: |cfg, kind| match &cfg.engine {
        EngineSettings::Command(c) => super::file_completeness(&cfg.for_engine(c.clone()), kind),
        _ => None,
    },
    check_settings: |cfg| {
        if let EngineSettings::Command(c) = &cfg.engine {
            super::run_as(&cfg.for_engine(c.clone()))?;
        }
        Ok(())
    },
    // The engine is given its part only: the connection, the naming and its own settings.
    connect: |cfg, _, cancel| {
        let EngineSettings::Command(c) = &cfg.engine else {
            return Err(settings_missing("command"));
        };
        let c = cfg.for_engine(c.clone());
        Ok(Box::new(super::CommandEngine::connect(&c, cancel)?))
    },
    dump_header: None,
    server_wide_label: |_| "RESTORE_CMD".to_string(),
    server_wide_last: false,
    globals_hold_no_database: false,
    leftover: None,
};
