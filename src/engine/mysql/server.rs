//! Talking to the MySQL/MariaDB server itself through `mysql_async`: waiting for it, reading its version,
//! listing, creating and inspecting databases, and turning its errors into messages that say what to check.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts};

use crate::cancel::Cancel;
use crate::config::{SslMode, TlsSettings, Verify};
use crate::engine::mysql::settings::MysqlConfig;
use crate::engine::connect;
use crate::engine::{ServerWait, tls};
use crate::error::{Error, Result};

/// The databases that belong to the server, not to an application; `DB_NAME=all` leaves them out.
pub const SYSTEM_DATABASES: &[&str] = &["mysql", "sys", "information_schema", "performance_schema"];

/// Server error codes that mean "not now" rather than "never": too many connections, shutting down (a
/// restart), and the first connections of a server that is still starting.
const TRANSIENT_CODES: &[u16] = &[1040, 1053, 1203, 1927];

/// How the server is named in messages.
pub fn label(cfg: &MysqlConfig) -> String {
    format!("MySQL at {}:{}", cfg.conn.host, cfg.conn.port)
}

/// The TLS options of the connection for `DB_SSLMODE` (`None`: a plain connection).
fn ssl_opts(settings: &TlsSettings) -> Result<Option<SslOpts>> {
    if settings.mode == SslMode::Disable {
        return Ok(None);
    }
    let verify = settings.verify();
    // verify-ca is not mysql_async's `skip_domain_validation` (which misses the name error of rustls 0.23): see
    // `connect_once`.
    let mut opts = SslOpts::default()
        .with_danger_accept_invalid_certs(verify == Verify::Nothing)
        // Trust comes from DB_SSL_CA_FILE or the system store, never from a list built into the program (which
        // must still hold something to set up the unchecked connection of `require`).
        .with_disable_built_in_roots(verify != Verify::Nothing);
    match &settings.ca_file {
        Some(ca) => opts = opts.with_root_certs(vec![ca.clone().into()]),
        None if verify != Verify::Nothing => {
            let system = tls::system_certs()?;
            opts = opts.with_root_certs(system.into_iter().map(|c| c.to_vec().into()).collect());
        }
        None => {}
    }
    if let (Some(cert), Some(key)) = (&settings.cert_file, &settings.key_file) {
        opts = opts.with_client_identity(Some(ClientIdentity::new(
            cert.clone().into(),
            key.clone().into(),
        )));
    }
    Ok(Some(opts))
}

async fn connect_with(
    cfg: &MysqlConfig,
    database: Option<&str>,
    ssl: Option<SslOpts>,
) -> std::result::Result<Conn, mysql_async::Error> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(cfg.conn.host.clone())
        .tcp_port(cfg.conn.port)
        .user(Some(cfg.conn.user.clone()))
        .pass(cfg.conn.password.as_ref().map(|p| p.expose().to_string()))
        .db_name(database.map(str::to_string))
        // The dump and restore tools connect over TCP (`protocol=TCP` in their option file); so does this
        // check, rather than switching to the server's socket as mysql_async otherwise does on loopback.
        .prefer_socket(false)
        .ssl_opts(ssl)
        .stmt_cache_size(0);
    Conn::new(opts).await
}

/// One connection attempt in the TLS mode `DB_SSLMODE` asks for. As libpq does, `prefer` falls back to a
/// plain connection when the server offers no TLS or the TLS handshake fails.
async fn connect_once(
    cfg: &MysqlConfig,
    database: Option<&str>,
    ssl: Option<SslOpts>,
) -> std::result::Result<Conn, mysql_async::Error> {
    let tried_tls = ssl.is_some();
    match connect_with(cfg, database, ssl.clone()).await {
        Err(e) if cfg.conn.tls.mode == SslMode::Prefer && tried_tls && tls_failed(&e) => {
            tracing::debug!(error = %e, "TLS connection failed; trying a plain one (DB_SSLMODE=prefer)");
            connect_with(cfg, database, None).await
        }
        // verify-ca: the chain was good (rustls checks the name last) but the certificate does not name DB_HOST.
        // Checked again under a name it does hold: the chain must still lead to the CA.
        Err(e) if cfg.conn.tls.verify() == Verify::Chain => match (presented_name(&e), ssl) {
            (Some(name), Some(ssl)) => {
                let ssl = ssl.with_danger_tls_hostname_override(Some(name));
                connect_with(cfg, database, Some(ssl)).await
            }
            _ => Err(e),
        },
        other => other,
    }
}

/// A name the server's certificate holds, from the error of a certificate that is good but for another name.
fn presented_name(e: &mysql_async::Error) -> Option<String> {
    let rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
        presented,
        ..
    }) = tls::find_rustls(e)?
    else {
        return None;
    };
    presented.iter().find_map(|p| {
        // webpki writes them as `DnsName("db.example.com")` and `IpAddress(10.0.0.1)`.
        let name = p
            .strip_prefix("DnsName(\"")
            .and_then(|n| n.strip_suffix("\")"))
            .or_else(|| {
                p.strip_prefix("IpAddress(")
                    .and_then(|n| n.strip_suffix(')'))
            })?;
        // A wildcard name stands for any one label there.
        Some(match name.strip_prefix("*.") {
            Some(rest) => format!("db-backup.{rest}"),
            None => name.to_string(),
        })
    })
}

/// Whether the attempt failed on TLS: none offered by the server, or the handshake failed.
fn tls_failed(e: &mysql_async::Error) -> bool {
    matches!(
        e,
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)
    ) || tls::find_rustls(e).is_some()
}

/// Connects (to `database`, or to none), retrying while the server is not up yet, until `DB_WAIT_TIMEOUT`
/// runs out. Each attempt, TLS and authentication included, is bounded by what is left of it, and a stop
/// signal ends the wait at once.
pub async fn wait_for(cfg: &MysqlConfig, cancel: &Cancel, database: Option<&str>) -> Result<Conn> {
    tls::provider();
    let ssl = ssl_opts(&cfg.conn.tls)?;
    let start = Instant::now();
    let mut wait = ServerWait::new(label(cfg), "MySQL", cfg.conn.wait_timeout);
    let mut identified = false;
    loop {
        let attempt = connect_once(cfg, database, ssl.clone());
        let e = match bounded(
            cfg,
            cancel,
            start,
            or_what_answered(cfg, attempt, !identified),
        )
        .await?
        {
            Answered::Attempt(Ok(conn)) => return Ok(conn),
            Answered::Attempt(Err(e)) => e,
            Answered::Other(what) => {
                return Err(Error::Server {
                    server: label(cfg),
                    message: format!("cannot connect: {what}"),
                });
            }
        };
        // Something that is not MySQL may have answered: say what, once, rather than wait for it.
        if !identified && !matches!(e, mysql_async::Error::Server(_)) {
            identified = true;
            if let Some(what) = connect::identify(&cfg.conn) {
                return Err(Error::Server {
                    server: label(cfg),
                    message: format!("cannot connect: {what}"),
                });
            }
        }
        let pause = if is_transient(&e) {
            wait.pause(&e)
        } else {
            None
        };
        match pause {
            Some(pause) => tokio::time::sleep(pause).await,
            None if refused_for_want_of_tls(cfg, cancel, start, database, &e).await => {
                return Err(Error::Server {
                    server: label(cfg),
                    message: format!("{} (the server said: {e})", connect::tls_only(&cfg.conn)),
                });
            }
            None => return Err(error(cfg, database.unwrap_or(""), &e)),
        }
    }
}

/// How long an attempt may hear nothing before the port is probed for another protocol. A MySQL server greets
/// first; a PostgreSQL or Redis server waits for the client to speak, so the attempt would hear nothing until
/// `DB_WAIT_TIMEOUT` ran out.
const GREETING_WAIT: Duration = Duration::from_millis(1500);

/// How an attempt watched by [`or_what_answered`] ended.
enum Answered<T> {
    Attempt(T),
    /// Another engine's protocol (or TLS from the first byte) answered on the port: what `connect::identify` said.
    Other(String),
}

/// Runs `attempt`; when `probe` is set and it has not ended after [`GREETING_WAIT`], probes the port meanwhile
/// and ends with what answered there if that is recognised as something else. Otherwise the attempt goes on
/// (a slow MySQL server, or one slow to log in, answers none of the other protocols).
async fn or_what_answered<T>(
    cfg: &MysqlConfig,
    attempt: impl std::future::Future<Output = T>,
    probe: bool,
) -> Answered<T> {
    tokio::pin!(attempt);
    if !probe {
        return Answered::Attempt(attempt.await);
    }
    tokio::select! {
        out = &mut attempt => return Answered::Attempt(out),
        _ = tokio::time::sleep(GREETING_WAIT) => {}
    }
    let probed = cfg.conn.clone();
    let mut identify = tokio::task::spawn_blocking(move || connect::identify(&probed));
    tokio::select! {
        out = &mut attempt => Answered::Attempt(out),
        what = &mut identify => match what {
            Ok(Some(what)) => Answered::Other(what),
            _ => Answered::Attempt(attempt.await),
        },
    }
}

/// Whether a plain login refused with "access denied" is a server that accepts only TLS: MariaDB with
/// `require_secure_transport=ON` answers a plain login with the same error as a wrong password (1045), so the same
/// login is tried once over TLS. The user asked for a plain connection, so this one is made only to tell the two
/// causes apart, and closed at once.
async fn refused_for_want_of_tls(
    cfg: &MysqlConfig,
    cancel: &Cancel,
    start: Instant,
    database: Option<&str>,
    e: &mysql_async::Error,
) -> bool {
    let denied = matches!(e, mysql_async::Error::Server(s) if s.code == 1045);
    if !denied || cfg.conn.tls.mode != SslMode::Disable {
        return false;
    }
    tls::provider();
    let ssl = SslOpts::default()
        .with_danger_accept_invalid_certs(true)
        .with_danger_skip_domain_validation(true);
    match bounded(cfg, cancel, start, connect_with(cfg, database, Some(ssl))).await {
        Ok(Ok(conn)) => {
            let _ = conn.disconnect().await;
            true
        }
        _ => false,
    }
}

/// Runs one step of the connection (connect, a query) within what is left of `DB_WAIT_TIMEOUT` since `start`.
pub async fn bounded<T>(
    cfg: &MysqlConfig,
    cancel: &Cancel,
    start: Instant,
    step: impl std::future::Future<Output = T>,
) -> Result<T> {
    connect::within(&cfg.conn, label(cfg), cancel, start, step).await
}

fn is_transient(e: &mysql_async::Error) -> bool {
    if tls_failed(e) {
        return false;
    }
    match e {
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Server(s) => TRANSIENT_CODES.contains(&s.code),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => true,
        _ => false,
    }
}

/// The server's version string, such as `10.11.6-MariaDB-0+deb12u1` or `8.0.36`.
pub async fn version(conn: &mut Conn, cfg: &MysqlConfig, cancel: &Cancel) -> Result<String> {
    bounded(
        cfg,
        cancel,
        Instant::now(),
        conn.query_first::<String, _>("SELECT VERSION()"),
    )
    .await?
    .map_err(|e| error(cfg, "", &e))?
    .ok_or_else(|| Error::Server {
        server: label(cfg),
        message: "did not report its version".into(),
    })
}

/// Every database but the server's own ([`SYSTEM_DATABASES`]), by name.
pub async fn list_databases(conn: &mut Conn, cfg: &MysqlConfig) -> Result<Vec<String>> {
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
pub async fn ensure_database(conn: &mut Conn, cfg: &MysqlConfig, database: &str) -> Result<bool> {
    if database_exists(conn, cfg, database).await? {
        return Ok(false);
    }
    conn.query_drop(format!("CREATE DATABASE {}", quote_ident(database)))
        .await
        .map_err(|e| error(cfg, database, &e))?;
    Ok(true)
}

/// Whether `database` exists.
pub async fn database_exists(conn: &mut Conn, cfg: &MysqlConfig, database: &str) -> Result<bool> {
    let exists: Option<u8> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (database,),
        )
        .await
        .map_err(|e| error(cfg, database, &e))?;
    Ok(exists.is_some())
}

/// The number of tables, views, routines, triggers and events in `database` (0 for a fresh database).
pub async fn object_count(conn: &mut Conn, cfg: &MysqlConfig, database: &str) -> Result<u64> {
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
pub fn error(cfg: &MysqlConfig, database: &str, e: &mysql_async::Error) -> Error {
    let message = match e {
        mysql_async::Error::Server(s) => match s.code {
            // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR
            1045 | 1698 => {
                // MariaDB words a missing client certificate (REQUIRE X509) like a wrong password.
                let certificate = if cfg.conn.tls.mode != SslMode::Disable
                    && cfg.conn.tls.cert_file.is_none()
                {
                    "; if the user must present a client certificate (REQUIRE X509/SSL/SUBJECT), set \
                     DB_SSL_CERT_FILE and DB_SSL_KEY_FILE"
                } else {
                    ""
                };
                return Error::AuthRefused {
                    server: label(cfg),
                    message: format!(
                        "authentication failed for user {}: {}; check DB_USER and DB_PASSWORD (or \
                         DB_PASSWORD_FILE){certificate}",
                        cfg.conn.user, s.message
                    ),
                };
            }
            // ER_DBACCESS_DENIED_ERROR
            1044 => format!(
                "user {} may not use database {database}: {}; grant it access or check DB_NAME",
                cfg.conn.user, s.message
            ),
            // ER_BAD_DB_ERROR
            1049 => format!(
                "database {database} does not exist: {}; check DB_NAME",
                s.message
            ),
            // ER_SECURE_TRANSPORT_REQUIRED (MySQL 5.7+), and MariaDB's equivalent
            3159 | 4151 => format!("{} ({})", connect::tls_only(&cfg.conn), s.message),
            _ => format!("{} (error {}, SQLSTATE {})", s.message, s.code, s.state),
        },
        mysql_async::Error::Driver(mysql_async::DriverError::UnknownAuthPlugin { name }) => {
            format!(
                "the server asks for the authentication plugin {name}, which db-backup's connection does not \
             support (it supports mysql_native_password, caching_sha2_password, ed25519 and parsec); give \
             DB_USER one of those"
            )
        }
        mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer) => format!(
            "the server does not offer TLS and DB_SSLMODE={} requires it; enable TLS on the server (ssl_cert, \
             ssl_key), or set DB_SSLMODE=prefer to allow a plain connection",
            cfg.conn.tls.mode.name()
        ),
        other if tls::find_rustls(other).is_some() => tls::find_rustls(other)
            .map(|r| tls::explain(r, &cfg.conn.host))
            .unwrap_or_default(),
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
