//! Talking to the MySQL/MariaDB server itself through `mysql_async`: waiting for it, reading its version,
//! listing, creating and inspecting databases, and turning its errors into messages that say what to check.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

use crate::config::Config;
use crate::engine::ServerWait;
use crate::error::{Error, Result};

/// The databases that belong to the server, not to an application; `DB_NAME=all` leaves them out.
pub const SYSTEM_DATABASES: &[&str] = &["mysql", "sys", "information_schema", "performance_schema"];

/// How long one connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Server error codes that mean "not now" rather than "never": too many connections, shutting down (a
/// restart), and the first connections of a server that is still starting.
const TRANSIENT_CODES: &[u16] = &[1040, 1053, 1203, 1927];

/// How the server is named in messages.
pub fn label(cfg: &Config) -> String {
    format!("MySQL at {}:{}", cfg.host, cfg.port)
}

async fn connect_once(
    cfg: &Config,
    database: Option<&str>,
) -> std::result::Result<Conn, mysql_async::Error> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(cfg.host.clone())
        .tcp_port(cfg.port)
        .user(Some(cfg.user.clone()))
        .pass(cfg.password.as_ref().map(|p| p.expose().to_string()))
        .db_name(database.map(str::to_string))
        // The dump and restore tools connect over TCP (`protocol=TCP` in their option file); so does this
        // check, rather than switching to the server's socket as mysql_async otherwise does on loopback.
        .prefer_socket(false)
        .stmt_cache_size(0);
    match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(opts)).await {
        Ok(result) => result,
        Err(_) => Err(mysql_async::Error::Io(mysql_async::IoError::Io(
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} seconds", CONNECT_TIMEOUT.as_secs()),
            ),
        ))),
    }
}

/// Connects (to `database`, or to none), retrying while the server is not up yet, until `DB_WAIT_TIMEOUT`
/// runs out.
pub async fn wait_for(cfg: &Config, database: Option<&str>) -> Result<Conn> {
    let mut wait = ServerWait::new(label(cfg), "MySQL", cfg.wait_timeout);
    loop {
        let e = match connect_once(cfg, database).await {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        };
        let pause = if is_transient(&e) {
            wait.pause(&e)
        } else {
            None
        };
        match pause {
            Some(pause) => tokio::time::sleep(pause).await,
            None => return Err(error(cfg, database.unwrap_or(""), &e)),
        }
    }
}

fn is_transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Server(s) => TRANSIENT_CODES.contains(&s.code),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => true,
        _ => false,
    }
}

/// The server's version string, such as `10.11.6-MariaDB-0+deb12u1` or `8.0.36`.
pub async fn version(conn: &mut Conn, cfg: &Config) -> Result<String> {
    conn.query_first::<String, _>("SELECT VERSION()")
        .await
        .map_err(|e| error(cfg, "", &e))?
        .ok_or_else(|| Error::Server {
            server: label(cfg),
            message: "did not report its version".into(),
        })
}

/// Every database but the server's own ([`SYSTEM_DATABASES`]), by name.
pub async fn list_databases(conn: &mut Conn, cfg: &Config) -> Result<Vec<String>> {
    let names: Vec<String> = conn
        .query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
        .await
        .map_err(|e| error(cfg, "", &e))?;
    Ok(names
        .into_iter()
        .filter(|n| !SYSTEM_DATABASES.contains(&n.to_ascii_lowercase().as_str()))
        .collect())
}

/// Creates `database` when it does not exist; returns whether it was created.
pub async fn ensure_database(conn: &mut Conn, cfg: &Config, database: &str) -> Result<bool> {
    let exists: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (database,),
        )
        .await
        .map_err(|e| error(cfg, database, &e))?;
    if exists.is_some() {
        return Ok(false);
    }
    conn.query_drop(format!("CREATE DATABASE {}", quote_ident(database)))
        .await
        .map_err(|e| error(cfg, database, &e))?;
    Ok(true)
}

/// The number of tables, views, routines, triggers and events in `database` (0 for a fresh database).
pub async fn object_count(conn: &mut Conn, cfg: &Config, database: &str) -> Result<u64> {
    let count: Option<u64> = conn
        .exec_first(
            "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?) \
             + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) \
             + (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?) \
             + (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?)",
            (database, database, database, database),
        )
        .await
        .map_err(|e| error(cfg, database, &e))?;
    Ok(count.unwrap_or(0))
}

/// A server or connection error turned into a message that says what to check.
pub fn error(cfg: &Config, database: &str, e: &mysql_async::Error) -> Error {
    let message = match e {
        mysql_async::Error::Server(s) => match s.code {
            // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
            1045 | 1698 => format!(
                "authentication failed for user {}: {}; check DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)",
                cfg.user, s.message
            ),
            // ER_DBACCESS_DENIED_ERROR
            1044 => format!(
                "user {} may not use database {database}: {}; grant it access or check DB_NAME",
                cfg.user, s.message
            ),
            // ER_BAD_DB_ERROR
            1049 => format!(
                "database {database} does not exist: {}; check DB_NAME",
                s.message
            ),
            // ER_SECURE_TRANSPORT_REQUIRED (MySQL 5.7+), and MariaDB's equivalent
            3159 | 4151 => format!(
                "{} (the server requires TLS, which db-backup's connection does not offer yet)",
                s.message
            ),
            _ => format!("{} (error {}, SQLSTATE {})", s.message, s.code, s.state),
        },
        mysql_async::Error::Driver(mysql_async::DriverError::UnknownAuthPlugin { name }) => {
            format!(
                "the server asks for the authentication plugin {name}, which db-backup's connection does not \
             support (it supports mysql_native_password, caching_sha2_password, ed25519 and parsec); give \
             DB_USER one of those"
            )
        }
        mysql_async::Error::Io(io) => format!(
            "cannot connect: {io}; check that the server is running and DB_HOST/DB_PORT point at it"
        ),
        other => format!("{other}"),
    };
    Error::Server {
        server: label(cfg),
        message,
    }
}

/// A name as a MySQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
        assert_eq!(quote_ident("my-db"), "`my-db`");
    }
}
