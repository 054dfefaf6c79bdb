//! The connection part: which engine, the server, the login, how long to wait and TLS (`DB_TYPE`, `DB_HOST`,
//! `DB_PORT`, `DB_USER`, `DB_PASSWORD`, `DB_WAIT_TIMEOUT`, `DB_SSLMODE`...), and how the engine is told when
//! `DB_TYPE` is unset.

use std::time::Duration;

use super::raw::Raw;
use super::values::number;
use super::{EngineKind, Secret, TlsSettings, tls};
use crate::engine::facts;
use crate::error::ConfigError;

/// How to reach the database server.
#[derive(Debug, Clone)]
pub struct Connection {
    pub kind: EngineKind,
    /// Why this engine was chosen, for the log.
    pub reason: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub wait_timeout: Duration,
    /// TLS for the network engines (`DB_SSLMODE` and the certificate files).
    pub tls: TlsSettings,
}

/// Validates the connection settings.
pub(super) fn validate(raw: &Raw) -> Result<Connection, ConfigError> {
    let port_raw = raw.db_port.as_deref().or(raw.pgport.as_deref());
    let port_var = if raw.db_port.is_some() {
        "DB_PORT"
    } else {
        "PGPORT"
    };
    let port: Option<u16> = port_raw
        .map(|p| number::<u16>(port_var, p, "a port number from 1 to 65535"))
        .transpose()?;
    if port == Some(0) {
        return Err(ConfigError::new(
            port_var,
            "must be a port number from 1 to 65535",
        ));
    }
    let (kind, reason) = engine(raw, port)?;
    let host = raw
        .db_host
        .clone()
        .or(raw.pghost.clone())
        .unwrap_or_else(|| "localhost".to_string());
    let user = raw
        .db_user
        .clone()
        .or(raw.pguser.clone())
        .unwrap_or_else(|| kind.default_user().to_string());
    let wait_timeout = Duration::from_secs(
        raw.db_wait_timeout
            .as_deref()
            .map(|v| number::<u64>("DB_WAIT_TIMEOUT", v, "a whole number of seconds"))
            .transpose()?
            .unwrap_or(30),
    );
    Ok(Connection {
        kind,
        reason,
        host,
        port: port.unwrap_or(kind.default_port()),
        user,
        password: raw.password.clone().map(Secret),
        wait_timeout,
        tls: tls::validate(raw)?,
    })
}

/// The engine from `DB_TYPE`, or detected: the variable an engine needs (`DB_PATH` for SQLite, `BACKUP_CMD` for
/// the command engine, see [`facts::Facts::needs`]), then the port. With nothing to go on, the first engine
/// registered, PostgreSQL (the reason says so); `from_env` probes the server before that.
fn engine(raw: &Raw, port: Option<u16>) -> Result<(EngineKind, String), ConfigError> {
    if let Some(v) = raw.db_type.as_deref() {
        return Ok((facts::from_db_type(v)?, "DB_TYPE".into()));
    }
    let needing = || facts::all().filter_map(|(kind, f)| f.needs.map(|var| (kind, var)));
    if let Some((kind, var)) = needing().find(|(_, var)| raw.env.is_set(var)) {
        return Ok((kind, format!("detected: {var} is set")));
    }
    let Some(p) = port else {
        let mut unset: Vec<&str> = vec!["DB_TYPE", "DB_PORT"];
        unset.extend(needing().map(|(_, var)| var));
        let last = unset.pop().unwrap_or_default();
        return Ok((
            EngineKind::ALL[0],
            format!("assumed: {} and {last} are unset", unset.join(", ")),
        ));
    };
    match facts::by_port(p) {
        Some(kind) => Ok((kind, format!("detected: port {p}"))),
        None => Err(ConfigError::new(
            "DB_TYPE",
            format!("is not set and port {p} does not say which engine to use; set DB_TYPE"),
        )),
    }
}
