//! The bounded, stoppable connect step: every engine's connect, authenticate and first query run within
//! `DB_WAIT_TIMEOUT` and end at once on a stop signal; and, when what answered is not the configured engine,
//! the words that say what it is.

use std::future::Future;
use std::time::{Duration, Instant};

use super::probe::{self, Answer};
use super::{EngineKind, facts};
use crate::cancel::Cancel;
use crate::config::{Connection, SslMode};
use crate::error::{Error, Result};

/// How often a blocking step's waiter looks at the cancel token.
const STOP_POLL: Duration = Duration::from_millis(100);

/// How one bounded step ended.
pub enum Bounded<T> {
    Done(T),
    /// The limit passed without an answer.
    TimedOut,
    /// A stop signal arrived.
    Stopped,
}

/// Runs `step` until it ends, `limit` passes or `cancel` is cancelled, whichever comes first.
pub async fn bounded<T>(
    limit: Duration,
    cancel: &Cancel,
    step: impl Future<Output = T>,
) -> Bounded<T> {
    let deadline = tokio::time::Instant::now() + limit;
    tokio::select! {
        out = step => Bounded::Done(out),
        _ = tokio::time::sleep_until(deadline) => Bounded::TimedOut,
        _ = cancel.cancelled() => Bounded::Stopped,
    }
}

/// Runs one step of the connection to `server` (connect, a query) within what is left of `DB_WAIT_TIMEOUT` since
/// `start`; a silent server and a stop signal become their errors.
pub async fn within<T>(
    cfg: &Connection,
    server: String,
    cancel: &Cancel,
    start: Instant,
    step: impl Future<Output = T>,
) -> Result<T> {
    let limit = left(cfg, start);
    match bounded(limit, cancel, step).await {
        Bounded::Done(out) => Ok(out),
        Bounded::TimedOut => Err(silent(cfg, server, limit)),
        Bounded::Stopped => Err(stopped(server)),
    }
}

/// The same for a blocking step (the Redis client): run on its own thread, waited for here, abandoned (with its
/// socket timeouts still bounding it) when the limit passes or a stop arrives.
pub fn bounded_blocking<T: Send + 'static>(
    limit: Duration,
    cancel: &Cancel,
    step: impl FnOnce() -> T + Send + 'static,
) -> Bounded<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(step());
    });
    let deadline = Instant::now() + limit;
    loop {
        if cancel.is_cancelled() {
            return Bounded::Stopped;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Bounded::TimedOut;
        }
        match rx.recv_timeout(left.min(STOP_POLL)) {
            Ok(out) => return Bounded::Done(out),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Bounded::TimedOut,
        }
    }
}

/// The time left for the connect step that started at `start`: what `DB_WAIT_TIMEOUT` leaves, at least one
/// second (a zero wait timeout still allows one try).
pub fn left(cfg: &Connection, start: Instant) -> Duration {
    (start + cfg.wait_timeout)
        .saturating_duration_since(Instant::now())
        .max(Duration::from_secs(1))
}

/// The error for a server that accepted the connection and said nothing (or not enough) in time.
pub fn silent(cfg: &Connection, server: String, waited: Duration) -> Error {
    let mut message = format!(
        "the server accepted the connection but never answered within {} s (DB_WAIT_TIMEOUT={})",
        waited.as_secs().max(1),
        cfg.wait_timeout.as_secs()
    );
    match identify(cfg) {
        Some(what) => message.push_str(&format!("; {what}")),
        None => message.push_str(
            "; it may be another service, a proxy whose database is down, or a hung server: check DB_HOST and \
             DB_PORT",
        ),
    }
    Error::Server { server, message }
}

/// The error for a connect step ended by a stop signal.
pub fn stopped(server: String) -> Error {
    Error::Cancelled(format!("{server}: stopped by a signal while connecting"))
}

/// How messages name `kind`'s protocol, and the `DB_TYPE` that chooses it.
fn engine_words(kind: EngineKind) -> (&'static str, &'static str) {
    let facts = kind.facts();
    (facts.title, facts.name)
}

/// What answers on the configured port when it is not the configured engine: another engine's protocol, or
/// TLS where the configuration asked for a plain connection. `None` when nothing else is recognised.
pub fn identify(cfg: &Connection) -> Option<String> {
    let (ours, _) = engine_words(cfg.kind);
    for other in facts::probed() {
        if other == cfg.kind {
            continue;
        }
        if probe::probe(&cfg.host, cfg.port, other, probe::TIMEOUT) == Answer::Speaks {
            let (name, db_type) = engine_words(other);
            return Some(format!(
                "this port speaks the {name} protocol, not {ours}: set DB_TYPE={db_type}, or point DB_PORT at \
                 the {ours} server"
            ));
        }
    }
    // A plain Redis port reached with TLS: its server waits for the end of a command line that never comes.
    if cfg.kind == EngineKind::Redis
        && !plain(cfg)
        && probe::probe(&cfg.host, cfg.port, EngineKind::Redis, probe::TIMEOUT) == Answer::Speaks
    {
        return Some(format!(
            "this port speaks plain Redis: the server does not offer TLS here and DB_SSLMODE={} requires it; \
             point DB_PORT at the server's TLS port (tls-port), or set DB_SSLMODE=disable",
            cfg.tls.mode.name()
        ));
    }
    // A port that speaks TLS from the first byte (a Redis TLS port): the right one for Redis with TLS, whose own
    // errors then say what went wrong.
    let redis_tls = cfg.kind == EngineKind::Redis && !plain(cfg);
    if !redis_tls && super::tls::speaks_tls(&cfg.host, cfg.port, probe::TIMEOUT) {
        if cfg.kind == EngineKind::Redis {
            return Some(tls_only(cfg));
        }
        return Some(format!(
            "this port speaks TLS from the first byte (as a Redis TLS port does), not the {ours} protocol, which \
             starts in plain and negotiates TLS inside it: check DB_PORT and DB_TYPE"
        ));
    }
    None
}

/// Whether the connection is made without TLS: `disable`, and for Redis also `prefer` (a Redis server has no
/// way to offer TLS on a port: a port speaks TLS or it does not).
pub fn plain(cfg: &Connection) -> bool {
    cfg.tls.mode == SslMode::Disable
        || (cfg.kind == EngineKind::Redis && cfg.tls.mode == SslMode::Prefer)
}

/// The message for a server that accepts only TLS connections.
pub fn tls_only(cfg: &Connection) -> String {
    let (ours, _) = engine_words(cfg.kind);
    format!(
        "the {ours} server accepts only TLS connections and DB_SSLMODE={} makes a plain one; set \
         DB_SSLMODE=require (or verify-full with DB_SSL_CA_FILE)",
        cfg.tls.mode.name()
    )
}
