//! Talking to the Redis server with ordinary commands (the `redis` crate): waiting for it, reading what INFO
//! says, and turning its errors into messages that say what to check.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::{
    Client, ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError,
};

use crate::config::Config;
use crate::engine::ServerWait;
use crate::error::{Error, Result};

/// How the server is named in messages.
pub fn label(cfg: &Config) -> String {
    format!("Redis at {}:{}", cfg.host, cfg.port)
}

/// A client preset with the configured address, user and password.
fn client(cfg: &Config) -> std::result::Result<Client, RedisError> {
    let mut settings = RedisConnectionInfo::default().set_skip_set_lib_name();
    if !cfg.user.is_empty() {
        settings = settings.set_username(&cfg.user);
    }
    if let Some(password) = &cfg.password {
        settings = settings.set_password(password.expose());
    }
    let info = ConnectionAddr::Tcp(cfg.host.clone(), cfg.port)
        .into_connection_info()?
        .set_redis_settings(settings);
    Client::open(info)
}

fn connect_once(cfg: &Config) -> std::result::Result<redis::Connection, RedisError> {
    let mut conn = client(cfg)?.get_connection_with_timeout(Duration::from_secs(10))?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    conn.set_write_timeout(Some(Duration::from_secs(60)))?;
    redis::cmd("PING").query::<()>(&mut conn)?;
    Ok(conn)
}

/// Connects, retrying while the server is not up (or still loading its data) until `DB_WAIT_TIMEOUT` runs out.
pub fn wait_for(cfg: &Config) -> Result<redis::Connection> {
    let mut wait = ServerWait::new(label(cfg), "Redis", cfg.wait_timeout);
    loop {
        let e = match connect_once(cfg) {
            Ok(conn) => return Ok(conn),
            Err(e) => e,
        };
        let pause = if is_transient(&e) {
            wait.pause(&e)
        } else {
            None
        };
        match pause {
            Some(pause) => std::thread::sleep(pause),
            None => return Err(error(cfg, &e)),
        }
    }
}

fn is_transient(e: &RedisError) -> bool {
    e.is_io_error()
        || matches!(
            e.code(),
            Some("LOADING") | Some("MASTERDOWN") | Some("TRYAGAIN")
        )
}

/// What INFO says about the server, as far as backup and restore care.
#[derive(Debug, Clone, Default)]
pub struct ServerInfo {
    /// `redis_version` (Valkey reports the Redis version it is compatible with).
    pub version: String,
    pub cluster: bool,
    /// Keys per logical database, for the databases that hold any.
    pub keyspace: BTreeMap<u64, u64>,
}

impl ServerInfo {
    /// The newest RDB version this server reads, when its version is one we know.
    pub fn rdb_version(&self) -> Option<u16> {
        rdb_version_for(&self.version)
    }
}

/// Reads INFO (server, cluster, keyspace).
pub fn info(conn: &mut redis::Connection, cfg: &Config) -> Result<ServerInfo> {
    let mut fields = BTreeMap::new();
    for section in ["server", "cluster", "keyspace"] {
        let text: String = redis::cmd("INFO")
            .arg(section)
            .query(conn)
            .map_err(|e| error(cfg, &e))?;
        for line in text.lines() {
            if let Some((name, value)) = line.trim_end().split_once(':') {
                fields.insert(name.to_string(), value.to_string());
            }
        }
    }
    let keyspace = fields
        .iter()
        .filter_map(|(name, value)| {
            let db = name.strip_prefix("db")?.parse::<u64>().ok()?;
            let keys = value
                .split(',')
                .find_map(|part| part.strip_prefix("keys="))?
                .parse::<u64>()
                .ok()?;
            Some((db, keys))
        })
        .filter(|(_, keys)| *keys > 0)
        .collect();
    Ok(ServerInfo {
        version: fields.get("redis_version").cloned().unwrap_or_default(),
        cluster: fields.get("cluster_enabled").is_some_and(|v| v == "1"),
        keyspace,
    })
}

/// The newest RDB version a Redis of `version` reads (the version it writes).
pub fn rdb_version_for(version: &str) -> Option<u16> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    Some(match (major, minor) {
        (8.., _) | (7, 4..) => 12,
        (7, 2..) => 11,
        (7, _) => 10,
        (5 | 6, _) => 9,
        (4, _) => 8,
        (3, 2..) => 7,
        (2, 6..) | (3, _) => 6,
        _ => return None,
    })
}

/// A server error turned into a message that says what to check.
pub fn error(cfg: &Config, e: &RedisError) -> Error {
    Error::Server {
        server: label(cfg),
        message: describe(cfg, e),
    }
}

/// The message for a server error.
pub fn describe(cfg: &Config, e: &RedisError) -> String {
    let detail = e.detail().unwrap_or_default();
    let user = if cfg.user.is_empty() {
        "the default user".to_string()
    } else {
        format!("user {}", cfg.user)
    };
    match e.code() {
        _ if e.kind() == ErrorKind::AuthenticationFailed => format!(
            "authentication failed for {user}: {e}; check DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)"
        ),
        Some("WRONGPASS") => format!(
            "authentication failed for {user}: {detail}; check DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)"
        ),
        Some("NOAUTH") => {
            "the server requires a password: set DB_PASSWORD (or DB_PASSWORD_FILE), and DB_USER for an ACL user"
                .to_string()
        }
        Some("NOPERM") => format!(
            "{user} lacks a permission: {detail}; grant it with ACL SETUSER or use another DB_USER"
        ),
        _ if e.is_io_error() => format!(
            "cannot connect: {e}; check that the server is running and DB_HOST/DB_PORT point at it (waited up to \
             DB_WAIT_TIMEOUT={}s)",
            cfg.wait_timeout.as_secs()
        ),
        Some(code) => format!("{code} {detail}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdb_versions_of_known_servers() {
        assert_eq!(rdb_version_for("7.0.15"), Some(10));
        assert_eq!(rdb_version_for("7.2.4"), Some(11));
        assert_eq!(rdb_version_for("7.4.1"), Some(12));
        assert_eq!(rdb_version_for("8.0.0"), Some(12));
        assert_eq!(rdb_version_for("6.2.14"), Some(9));
        assert_eq!(rdb_version_for("5.0.7"), Some(9));
        assert_eq!(rdb_version_for("2.4.0"), None);
        assert_eq!(rdb_version_for(""), None);
    }
}
