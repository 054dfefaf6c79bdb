//! What is known about PostgreSQL without a server: its names, port and user, its kinds of file, how its dumps
//! and its wire protocol are recognised.

use std::path::{Path, PathBuf};

use crate::engine::facts::{DumpHeader, Facts};
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
    file_completeness: super::file_completeness,
    check_settings: |cfg| {
        tls::check_files(&cfg.tls)?;
        check_bin_dir("PG_BIN_DIR", cfg.pg_bin_dir.as_deref())
    },
    connect: |cfg, database, cancel| Ok(Box::new(super::Postgres::connect(cfg, database, cancel)?)),
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
