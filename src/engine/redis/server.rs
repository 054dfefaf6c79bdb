//! Talking to the Redis server with ordinary commands (the `redis` crate): waiting for it, reading what INFO
//! says, and turning its errors into messages that say what to check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use redis::{
    Client, ClientTlsConfig, ConnectionAddr, ErrorKind, IntoConnectionInfo, RedisConnectionInfo,
    RedisError, TlsCertificates,
};

use crate::cancel::Cancel;
use crate::config::Verify;
use crate::engine::redis::settings::RedisConfig;
use crate::engine::connect::{self, Bounded};
use crate::engine::{ServerWait, tls};
use crate::error::{ConfigError, Error, Result};

/// How long the first TLS attempt may take before db-backup looks at what answers on the port.
const FIRST_TLS_ATTEMPT: Duration = Duration::from_secs(3);

/// How the server is named in messages.
pub fn label(cfg: &RedisConfig) -> String {
    format!("Redis at {}:{}", cfg.conn.host, cfg.conn.port)
}

/// A client preset with the configured address, user and password, and TLS unless the connection is plain
/// (`DB_SSLMODE=disable` or `prefer`: a Redis port speaks TLS or not, it cannot offer it).
fn client(cfg: &RedisConfig) -> Result<Client> {
    let mut settings = RedisConnectionInfo::default().set_skip_set_lib_name();
    if !cfg.conn.user.is_empty() {
        settings = settings.set_username(&cfg.conn.user);
    }
    if let Some(password) = &cfg.conn.password {
        settings = settings.set_password(password.expose());
    }
    let setup = |e: RedisError| Error::Server {
        server: label(cfg),
        message: format!("the connection cannot be set up: {e}"),
    };
    if connect::plain(&cfg.conn) {
        let info = ConnectionAddr::Tcp(cfg.conn.host.clone(), cfg.conn.port)
            .into_connection_info()
            .map_err(setup)?
            .set_redis_settings(settings);
        return Client::open(info).map_err(setup);
    }
    tls::provider();
    let verify = cfg.conn.tls.verify();
    let info = ConnectionAddr::TcpTls {
        host: cfg.conn.host.clone(),
        port: cfg.conn.port,
        insecure: verify == Verify::Nothing,
        tls_params: None,
    }
    .into_connection_info()
    .map_err(setup)?
    .set_redis_settings(settings);
    let read = |var: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            Error::Config(ConfigError::new(
                var,
                format!("cannot read {}: {e}", path.display()),
            ))
        })
    };
    let client_tls = match (&cfg.conn.tls.cert_file, &cfg.conn.tls.key_file) {
        (Some(cert), Some(key)) => Some(ClientTlsConfig {
            client_cert: read("DB_SSL_CERT_FILE", cert)?,
            client_key: read("DB_SSL_KEY_FILE", key)?,
        }),
        _ => None,
    };
    let root_cert = match &cfg.conn.tls.ca_file {
        Some(ca) => Some(read("DB_SSL_CA_FILE", ca)?),
        None => None,
    };
    let client = Client::build_with_tls(
        info,
        TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(setup)?;
    if verify != Verify::Chain {
        return Ok(client);
    }
    // verify-ca: the chain, not the host name.
    let info = client.get_connection_info().clone();
    let mut addr = info.addr().clone();
    addr.set_danger_accept_invalid_hostnames(true);
    Client::open(info.set_addr(addr)).map_err(setup)
}

fn connect_once(
    client: &Client,
    limit: Duration,
) -> std::result::Result<redis::Connection, RedisError> {
    let mut conn = client.get_connection_with_timeout(limit.min(Duration::from_secs(10)))?;
    // The handshake (AUTH, PING) may take what is left of the wait, no more.
    conn.set_read_timeout(Some(limit))?;
    conn.set_write_timeout(Some(limit))?;
    redis::cmd("PING").query::<()>(&mut conn)?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    conn.set_write_timeout(Some(Duration::from_secs(60)))?;
    Ok(conn)
}

/// Connects, retrying while the server is not up (or still loading its data) until `DB_WAIT_TIMEOUT` runs
/// out. Each attempt, TLS and authentication included, is bounded by what is left of it, and a stop signal ends
/// the wait at once.
pub fn wait_for(cfg: &RedisConfig, cancel: &Cancel) -> Result<redis::Connection> {
    let client = client(cfg)?;
    let start = Instant::now();
    let mut wait = ServerWait::new(label(cfg), "Redis", cfg.conn.wait_timeout);
    let mut identified = false;
    loop {
        let mut limit = connect::left(&cfg.conn, start);
        // A plain Redis port says nothing to a TLS hello: the first attempt finds out soon, not at the deadline.
        let first_tls = !identified && !connect::plain(&cfg.conn);
        if first_tls {
            limit = limit.min(FIRST_TLS_ATTEMPT);
        }
        let attempt = client.clone();
        let e =
            match connect::bounded_blocking(limit, cancel, move || connect_once(&attempt, limit)) {
                Bounded::Done(Ok(conn)) => return Ok(conn),
                Bounded::Done(Err(e)) => e,
                Bounded::TimedOut if first_tls => {
                    identified = true;
                    if let Some(what) = connect::identify(&cfg.conn) {
                        return Err(Error::Server {
                            server: label(cfg),
                            message: format!("cannot connect: {what}"),
                        });
                    }
                    continue;
                }
                Bounded::TimedOut => return Err(connect::silent(&cfg.conn, label(cfg), limit)),
                Bounded::Stopped => return Err(connect::stopped(label(cfg))),
            };
        // Something that is not Redis (or a TLS-only port reached without TLS) may have answered: say what,
        // once, rather than wait for it to become Redis.
        let from_redis = e.code().is_some()
            || e.kind() == ErrorKind::AuthenticationFailed
            || tls::find_rustls(&e).is_some();
        if !from_redis && !identified {
            identified = true;
            if let Some(what) = connect::identify(&cfg.conn) {
                return Err(Error::Server {
                    server: label(cfg),
                    message: format!("cannot connect: {what}"),
                });
            }
        }
        let pause = if is_transient(&e) && tls::find_rustls(&e).is_none() {
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
    /// `run_id`: tells one server from another whatever address reaches it.
    pub run_id: String,
}

impl ServerInfo {
    /// The newest RDB version this server reads, when its version is one we know.
    pub fn rdb_version(&self) -> Option<u16> {
        rdb_version_for(&self.version)
    }
}

/// Reads INFO (server, cluster, keyspace).
pub fn info(conn: &mut redis::Connection, cfg: &RedisConfig) -> Result<ServerInfo> {
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
        run_id: fields.get("run_id").cloned().unwrap_or_default(),
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
pub fn error(cfg: &RedisConfig, e: &RedisError) -> Error {
    let (server, message) = (label(cfg), describe(cfg, e));
    if login_refused(e) {
        return Error::AuthRefused { server, message };
    }
    Error::Server { server, message }
}

/// Whether the server refused the login (a wrong password or user).
fn login_refused(e: &RedisError) -> bool {
    e.kind() == ErrorKind::AuthenticationFailed || e.code() == Some("WRONGPASS")
}

/// The message for a server error.
pub fn describe(cfg: &RedisConfig, e: &RedisError) -> String {
    let detail = e.detail().unwrap_or_default();
    let user = if cfg.conn.user.is_empty() {
        "the default user".to_string()
    } else {
        format!("user {}", cfg.conn.user)
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
        _ if tls::find_rustls(e).is_some() => tls::find_rustls(e)
            .map(|r| tls::explain(r, &cfg.conn.host))
            .unwrap_or_default(),
        Some("NOPERM") => format!(
            "{user} lacks a permission: {detail}; grant it with ACL SETUSER or use another DB_USER"
        ),
        _ if e.is_io_error() => format!(
            "cannot connect: {e}; check that the server is running and DB_HOST/DB_PORT point at it (waited up to \
             DB_WAIT_TIMEOUT={}s)",
            cfg.conn.wait_timeout.as_secs()
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
