//! What is known about Redis without a server: its names and port, its kind of file, how its wire protocol is
//! recognised.

use crate::engine::facts::Facts;
use crate::engine::probe::Probe;
use crate::engine::tls;

pub const FACTS: Facts = Facts {
    name: "redis",
    aliases: &["valkey"],
    listed_as: "redis",
    needs: None,
    title: "Redis",
    family: "Redis",
    default_port: 6379,
    default_user: "",
    has_databases: false,
    probe: Some(Probe {
        hello: b"*1\r\n$4\r\nPING\r\n",
        want: 7,
        // `+PONG`, or an error that only Redis gives to a PING from a stranger.
        recognises: |answer| {
            [
                &b"+PONG"[..],
                b"-NOAUTH",
                b"-DENIED",
                b"-NOPERM",
                b"-WRONGPASS",
            ]
            .iter()
            .any(|p| answer.starts_with(p))
        },
        socket: None,
    }),
    kinds: |_| super::KINDS.to_vec(),
    file_completeness: |_, kind| super::file_completeness(kind),
    check_settings: |cfg| Ok(tls::check_files(&cfg.conn.tls)?),
    // The engine is given its part only: the connection and the naming (it has no settings of its own).
    connect: |cfg, _, cancel| Ok(Box::new(super::Redis::connect(&cfg.for_engine(()), cancel)?)),
    dump_header: None,
    server_wide_label: |_| "the Redis server".to_string(),
    server_wide_last: false,
    globals_hold_no_database: false,
    leftover: None,
};
