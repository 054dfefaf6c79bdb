//! Talking to the PostgreSQL server itself: waiting for it, reading its version, listing, creating and
//! inspecting databases, and turning its errors into messages that say what to check.

use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::cancel::Cancel;
use crate::config::SslMode;
use crate::engine::postgres::settings::PgConfig;
use crate::engine::connect;
use crate::engine::{ServerWait, tls};
use crate::error::{Error, Result};

/// How the server is named in messages.
pub fn label(cfg: &PgConfig) -> String {
    format!("PostgreSQL at {}:{}", cfg.conn.host, cfg.conn.port)
}

/// One connection attempt in the TLS mode `DB_SSLMODE` asks for. As libpq does, `prefer` falls back to a plain
/// connection when the TLS one fails.
async fn connect_once(cfg: &PgConfig, database: &str) -> std::result::Result<Client, Failure> {
    let verify = cfg.conn.tls.verify();
    let mode = match cfg.conn.tls.mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    };
    let connector =
        MakeRustlsConnect::new(tls::client_config(&cfg.conn.tls, verify).map_err(Failure::Setup)?);
    match connect_with(cfg, database, mode, connector).await {
        Err(e) if mode == PgSslMode::Prefer && (is_tls(&e) || refused_over_tls(&e)) => {
            tracing::debug!(error = %e, "TLS connection failed; trying a plain one (DB_SSLMODE=prefer)");
            let plain = MakeRustlsConnect::new(
                tls::client_config(&cfg.conn.tls, verify).map_err(Failure::Setup)?,
            );
            connect_with(cfg, database, PgSslMode::Disable, plain)
                .await
                .map_err(Failure::Pg)
        }
        other => other.map_err(Failure::Pg),
    }
}

/// Why an attempt failed: the server or connection said no, or the TLS settings could not be used.
enum Failure {
    Pg(tokio_postgres::Error),
    Setup(Error),
}

/// Whether pg_hba.conf refused a TLS connection that it would take without TLS (`hostnossl` lines only): libpq's
/// `prefer` then tries again without TLS, and so does db-backup.
fn refused_over_tls(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().contains("no pg_hba.conf entry")
            && db.message().contains("SSL encryption")
    })
}

fn is_tls(e: &tokio_postgres::Error) -> bool {
    tls::find_rustls(e).is_some() || e.to_string().contains("TLS")
}

async fn connect_with(
    cfg: &PgConfig,
    database: &str,
    mode: PgSslMode,
    connector: MakeRustlsConnect,
) -> std::result::Result<Client, tokio_postgres::Error> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.conn.host)
        .port(cfg.conn.port)
        .user(&cfg.conn.user)
        .dbname(database)
        .application_name("db-backup")
        .ssl_mode(mode)
        .connect_timeout(Duration::from_secs(10));
    if let Some(password) = &cfg.conn.password {
        pg.password(password.expose());
    }
    let (client, connection) = pg.connect(connector).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// Connects, retrying while the server is not up yet, until `DB_WAIT_TIMEOUT` since `start` runs out. Each
/// attempt, TLS and authentication included, is bounded by what is left of it, and a stop signal ends the wait
/// at once.
pub async fn wait_for(
    cfg: &PgConfig,
    cancel: &Cancel,
    database: &str,
    start: Instant,
) -> Result<Client> {
    let mut wait = ServerWait::since(label(cfg), "PostgreSQL", cfg.conn.wait_timeout, start);
    let mut identified = false;
    loop {
        let e = match bounded(cfg, cancel, start, connect_once(cfg, database)).await? {
            Ok(client) => return Ok(client),
            Err(Failure::Setup(e)) => return Err(e),
            Err(Failure::Pg(e)) => e,
        };
        // Something that is not PostgreSQL (or a TLS-only port of another engine) may have answered: say
        // what, once, rather than wait for it to become PostgreSQL.
        if e.as_db_error().is_none() && !identified && !password_missing(&e) {
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
            None => return Err(error(cfg, database, &e)),
        }
    }
}

/// Runs one step of the connection (connect, a query) within what is left of `DB_WAIT_TIMEOUT` since `start`.
pub async fn bounded<T>(
    cfg: &PgConfig,
    cancel: &Cancel,
    start: Instant,
    step: impl std::future::Future<Output = T>,
) -> Result<T> {
    connect::within(&cfg.conn, label(cfg), cancel, start, step).await
}

fn is_transient(e: &tokio_postgres::Error) -> bool {
    if password_missing(e) || is_tls(e) {
        return false;
    }
    match e.code() {
        Some(code) => {
            *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::TOO_MANY_CONNECTIONS
        }
        None => true,
    }
}

/// The server's major version (15 for 15.4, 9 for 9.6).
/// The query is bounded by what is left of `DB_WAIT_TIMEOUT` since `start`.
pub async fn major_version(
    client: &Client,
    cfg: &PgConfig,
    cancel: &Cancel,
    start: Instant,
) -> Result<u32> {
    let row = bounded(
        cfg,
        cancel,
        start,
        client.query_one("SHOW server_version_num", &[]),
    )
    .await?
    .map_err(|e| error(cfg, "postgres", &e))?;
    let num: String = row.get(0);
    let num: u32 = num.trim().parse().map_err(|_| Error::Server {
        server: label(cfg),
        message: format!("reported an unreadable version number {num:?}"),
    })?;
    Ok(if num >= 100_000 {
        num / 10_000
    } else {
        num / 100
    })
}

/// Every database that accepts connections and is not a template.
pub async fn list_databases(client: &Client, cfg: &PgConfig) -> Result<Vec<String>> {
    Ok(client
        .query(
            "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname",
            &[],
        )
        .await
        .map_err(|e| error(cfg, "postgres", &e))?
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect())
}

/// Creates `database` when it does not exist; returns whether it was created.
pub async fn ensure_database(client: &Client, cfg: &PgConfig, database: &str) -> Result<bool> {
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database])
        .await
        .map_err(|e| error(cfg, database, &e))?
        .is_some();
    if exists {
        return Ok(false);
    }
    client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(database)))
        .await
        .map_err(|e| error(cfg, database, &e))?;
    Ok(true)
}

/// The number of user relations and functions in `database` (0 for a fresh database).
pub async fn object_count(cfg: &PgConfig, cancel: &Cancel, database: &str) -> Result<i64> {
    let start = Instant::now();
    let client = match bounded(cfg, cancel, start, connect_once(cfg, database)).await? {
        Ok(client) => client,
        Err(Failure::Setup(e)) => return Err(e),
        Err(Failure::Pg(e)) => return Err(error(cfg, database, &e)),
    };
    let query = client.query_one(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%') \
             + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
               WHERE n.nspname NOT IN ('pg_catalog','information_schema'))",
            &[],
        );
    let row = bounded(cfg, cancel, start, query)
        .await?
        .map_err(|e| error(cfg, database, &e))?;
    Ok(row.get::<_, i64>(0))
}

/// Whether the server asked for a password and none was configured (tokio-postgres says so only in words).
fn password_missing(e: &tokio_postgres::Error) -> bool {
    let said = |text: String| text.contains("password missing");
    e.as_db_error().is_none()
        && (said(e.to_string())
            || std::error::Error::source(e).is_some_and(|s| said(s.to_string())))
}

/// A server error turned into a message that says what to check.
pub fn error(cfg: &PgConfig, database: &str, e: &tokio_postgres::Error) -> Error {
    let message = match e.as_db_error() {
        // pg_hba.conf has only `hostssl` lines for this client: "... no encryption".
        Some(db)
            if *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("no encryption") =>
        {
            format!(
                "the server accepts only TLS connections and DB_SSLMODE={} makes a plain one ({}); set \
                 DB_SSLMODE=require (or verify-full with DB_SSL_CA_FILE)",
                cfg.conn.tls.mode.name(),
                db.message()
            )
        }
        // The other way round: only `hostnossl` lines, and a mode that insists on TLS.
        Some(_) if refused_over_tls(e) => format!(
            "the server accepts no TLS connection from here and DB_SSLMODE={} requires one ({}); add a hostssl \
             line to pg_hba.conf, or set DB_SSLMODE=prefer to allow a plain connection",
            cfg.conn.tls.mode.name(),
            e.as_db_error().map(|db| db.message()).unwrap_or_default()
        ),
        // `hostssl ... cert` or `clientcert=verify-*` without a (trusted) client certificate.
        Some(db)
            if *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("certificate") =>
        {
            format!(
                "the server wants a client certificate for user {}: {}; set DB_SSL_CERT_FILE and DB_SSL_KEY_FILE \
                 to a certificate signed by a CA the server trusts (for `cert` authentication its common name \
                 must be the user name)",
                cfg.conn.user,
                db.message()
            )
        }
        Some(db)
            if *db.code() == SqlState::INVALID_PASSWORD
                || *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            return Error::AuthRefused {
                server: label(cfg),
                message: format!(
                    "authentication failed for user {}: {}; check DB_USER and DB_PASSWORD (or \
                     DB_PASSWORD_FILE)",
                    cfg.conn.user,
                    db.message()
                ),
            };
        }
        Some(db) if *db.code() == SqlState::INVALID_CATALOG_NAME => {
            format!(
                "database {database} does not exist: {}; check DB_NAME",
                db.message()
            )
        }
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None if password_missing(e) => {
            return Error::AuthRefused {
                server: label(cfg),
                message: format!(
                    "authentication failed for user {}: the server asks for a password and none is set; \
                     set DB_PASSWORD (or DB_PASSWORD_FILE)",
                    cfg.conn.user
                ),
            };
        }
        None if tls::find_rustls(e).is_some() => {
            let cause = tls::find_rustls(e).map(|r| tls::explain(r, &cfg.conn.host));
            cause.unwrap_or_default()
        }
        None if std::error::Error::source(e)
            .is_some_and(|s| s.to_string().contains("server does not support TLS")) =>
        {
            format!(
                "the server does not offer TLS and DB_SSLMODE={} requires it; enable ssl on the server, or \
                 set DB_SSLMODE=prefer to allow a plain connection",
                cfg.conn.tls.mode.name()
            )
        }
        None => {
            let detail = std::error::Error::source(e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.to_string());
            format!(
                "cannot connect: {detail}; check that the server is running and DB_HOST/DB_PORT point at it"
            )
        }
    };
    Error::Server {
        server: label(cfg),
        message,
    }
}

/// A database name as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
