//! What is known about PostgreSQL without a server: its names, port and user, its kinds of file, how its dumps
//! and its wire protocol are recognised.

use std::path::{Path, PathBuf};

use crate::engine::EngineSettings;
use crate::engine::facts::{DumpHeader, Facts, settings_missing};
use crate::engine::probe::Probe;
use crate::engine::{check_bin_dir, tls};

pub const FACTS: Facts = Facts {
    name: "postgres",
    aliases: &["postgresql", "pg"],
    listed_as: "postgres (postgresql, pg)",
    needs: None,
    title: "PostgreSQL",
    family: "PostgreSQL",
    default_port: 5432,
    default_user: "postgres",
    has_databases: true,
    probe: Some(Probe {
        // SSLRequest: length 8, code 80877103. The server answers with one byte, `S` or `N`.
        hello: &[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f],
        want: 1,
        // One byte: `S` (TLS offered) or `N` (no TLS), and nothing more before our next message.
        recognises: |answer| answer == b"S" || answer == b"N",
        socket: Some(socket),
    }),
    kinds: |_| super::KINDS.to_vec(),
    file_completeness: |cfg, kind| match &cfg.engine {
        EngineSettings::Postgres(pg) => super::file_completeness(&cfg.for_engine(pg.clone()), kind),
        _ => None,
    },
    check_settings: |cfg| {
        tls::check_files(&cfg.conn.tls)?;
        let bin_dir = match &cfg.engine {
            EngineSettings::Postgres(pg) => pg.bin_dir.as_deref(),
            _ => None,
        };
        check_bin_dir("PG_BIN_DIR", bin_dir)
    },
    // The engine is given its part only: the connection, the naming and its own settings.
    connect: |cfg, database, cancel| {
        let EngineSettings::Postgres(pg) = &cfg.engine else {
            return Err(settings_missing("postgres"));
        };
        let pg = cfg.for_engine(pg.clone());
        Ok(Box::new(super::Postgres::connect(&pg, database, cancel)?))
    },
    dump_header: Some(DumpHeader {
        kinds: &["sql"],
        // `pg_dump` and `pg_dumpall` name themselves in a comment.
        names_us: |_, line| {
            line.starts_with("-- PostgreSQL database dump")
                || line.starts_with("-- PostgreSQL database cluster dump")
        },
        refuse: None,
    }),
    server_wide_label: |_| "server-wide data (roles, tablespaces, databases)".to_string(),
    server_wide_last: false,
    globals_hold_no_database: false,
    leftover: None,
};

/// The socket a server listening on `port` has in the socket directory `dir`, as libpq names it.
fn socket(dir: &Path, port: u16) -> PathBuf {
    dir.join(format!(".s.PGSQL.{port}"))
}
