//! Talking to the PostgreSQL server itself: waiting for it, reading its version, listing, creating and
//! inspecting databases, and turning its errors into messages that say what to check.

use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

use crate::config::Config;
use crate::engine::ServerWait;
use crate::error::{Error, Result};

/// How the server is named in messages.
pub fn label(cfg: &Config) -> String {
    format!("PostgreSQL at {}:{}", cfg.host, cfg.port)
}

async fn connect_once(
    cfg: &Config,
    database: &str,
) -> std::result::Result<Client, tokio_postgres::Error> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&cfg.host)
        .port(cfg.port)
        .user(&cfg.user)
        .dbname(database)
        .application_name("db-backup")
        .connect_timeout(Duration::from_secs(10));
    if let Some(password) = &cfg.password {
        pg.password(password.expose());
    }
    let (client, connection) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "PostgreSQL connection closed");
        }
    });
    Ok(client)
}

/// Connects, retrying while the server is not up yet, until `DB_WAIT_TIMEOUT` runs out.
pub async fn wait_for(cfg: &Config, database: &str) -> Result<Client> {
    let mut wait = ServerWait::new(label(cfg), "PostgreSQL", cfg.wait_timeout);
    loop {
        let e = match connect_once(cfg, database).await {
            Ok(client) => return Ok(client),
            Err(e) => e,
        };
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

fn is_transient(e: &tokio_postgres::Error) -> bool {
    if password_missing(e) {
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
pub async fn major_version(client: &Client, cfg: &Config) -> Result<u32> {
    let row = client
        .query_one("SHOW server_version_num", &[])
        .await
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
pub async fn list_databases(client: &Client, cfg: &Config) -> Result<Vec<String>> {
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
pub async fn ensure_database(client: &Client, cfg: &Config, database: &str) -> Result<bool> {
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
pub async fn object_count(cfg: &Config, database: &str) -> Result<i64> {
    let client = connect_once(cfg, database)
        .await
        .map_err(|e| error(cfg, database, &e))?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
               WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%') \
             + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
               WHERE n.nspname NOT IN ('pg_catalog','information_schema'))",
            &[],
        )
        .await
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
pub fn error(cfg: &Config, database: &str, e: &tokio_postgres::Error) -> Error {
    let message = match e.as_db_error() {
        Some(db)
            if *db.code() == SqlState::INVALID_PASSWORD
                || *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            format!(
                "authentication failed for user {}: {}; check DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)",
                cfg.user,
                db.message()
            )
        }
        Some(db) if *db.code() == SqlState::INVALID_CATALOG_NAME => {
            format!(
                "database {database} does not exist: {}; check DB_NAME",
                db.message()
            )
        }
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None if password_missing(e) => format!(
            "authentication failed for user {}: the server asks for a password and none is set; set \
             DB_PASSWORD (or DB_PASSWORD_FILE)",
            cfg.user
        ),
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
