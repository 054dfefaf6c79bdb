//! What is known about MySQL and MariaDB without a server: their names, port and user, the kind of file, how
//! their dumps and their wire protocol are recognised, and that the users are restored last.

use crate::engine::EngineSettings;
use crate::engine::facts::{DumpHeader, Facts, settings_missing};
use crate::engine::probe::Probe;
use crate::engine::{check_bin_dir, tls};

pub const FACTS: Facts = Facts {
    name: "mysql",
    aliases: &["mariadb"],
    listed_as: "mysql (mariadb)",
    needs: None,
    title: "MySQL",
    family: "MySQL/MariaDB",
    default_port: 3306,
    default_user: "root",
    has_databases: true,
    probe: Some(Probe {
        // The server speaks first.
        hello: &[],
        want: 5,
        // The first packet: a 3-byte length, sequence number 0, then protocol version 10 (the handshake) or
        // 0xff (an error packet, such as "host is not allowed to connect", still MySQL).
        recognises: |answer| {
            answer.len() >= 5 && answer[3] == 0 && (answer[4] == 10 || answer[4] == 0xff)
        },
        socket: None,
    }),
    kinds: |_| super::KINDS.to_vec(),
    file_completeness: |_, kind| super::file_completeness(kind),
    check_settings: |cfg| {
        tls::check_files(&cfg.conn.tls)?;
        let bin_dir = match &cfg.engine {
            EngineSettings::Mysql(my) => my.bin_dir.as_deref(),
            _ => None,
        };
        check_bin_dir("MYSQL_BIN_DIR", bin_dir)
    },
    // The engine is given its part only: the connection, the naming and its own settings.
    connect: |cfg, database, cancel| {
        let EngineSettings::Mysql(my) = &cfg.engine else {
            return Err(settings_missing("mysql"));
        };
        let my = cfg.for_engine(my.clone());
        Ok(Box::new(super::Mysql::connect(&my, database, cancel)?))
    },
    dump_header: Some(DumpHeader {
        kinds: &["sql"],
        // `mariadb-dump` and `mysqldump` name themselves in a comment, after MariaDB's "sandbox mode" line.
        names_us: |index, line| {
            (index == 0 && line.starts_with("/*M!999999"))
                || line.starts_with("-- MySQL dump")
                || line.starts_with("-- MariaDB dump")
        },
        refuse: Some(refuse),
    }),
    server_wide_label: |_| "the users and grants".to_string(),
    server_wide_last: true,
    globals_hold_no_database: true,
    leftover: None,
};

/// A dump of no single database (the users and grants, or several databases) cannot go into one database.
fn refuse(head: &[u8], database: Option<&str>) -> Option<String> {
    let database = database?;
    super::names_no_database(head).then(|| {
        format!(
            "is a dump of no single database (the users and grants of a server, or several databases), \
             which cannot be restored into database {database}; restore the users without --database \
             (restore latest with DB_NAME=all); nothing was restored"
        )
    })
}
