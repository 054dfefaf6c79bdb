//! What is known about the command engine: its names, that its kind of file is whatever `BACKUP_NAME` says, and
//! that nothing in its stream tells completeness.

use crate::engine::facts::Facts;

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
    kinds: |cfg| vec![cfg.backup_kind.as_str()],
    file_completeness: super::file_completeness,
    check_settings: |cfg| {
        super::run_as(cfg)?;
        Ok(())
    },
    connect: |cfg, _, cancel| Ok(Box::new(super::CommandEngine::connect(cfg, cancel)?)),
    dump_header: None,
    server_wide_label: |_| "RESTORE_CMD".to_string(),
    server_wide_last: false,
    globals_hold_no_database: false,
    leftover: None,
};
