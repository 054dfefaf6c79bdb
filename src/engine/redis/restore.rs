//! Restoring an RDB over the network into a running server. A first pass reads the whole backup and refuses
//! anything that cannot be carried (module values, unknown types, a damaged or cut-off file) before a single
//! key is written; a second pass replays every key with `RESTORE key ttl payload REPLACE ABSTTL` (the payload
//! is the value exactly as the RDB holds it, plus the RDB version and a CRC-64) into its logical database,
//! pipelined in batches.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use redis::Value;

use super::acl;
use super::crc64::crc64;
use super::rdb::{self, Entry, ErrorKind, Item, Reader};
use super::server::{self, ServerInfo};
use crate::cancel::Cancel;
use crate::engine::redis::settings::RedisConfig;
use crate::engine::Opener;
use crate::error::{Error, Result};

/// A batch is sent when it holds this many commands or this many payload bytes.
const BATCH_COMMANDS: usize = 1000;
const BATCH_BYTES: usize = 8 << 20;

/// What the first pass found.
#[derive(Debug, Default)]
pub(super) struct Plan {
    version: u16,
    /// Keys per logical database (already expired ones excluded).
    pub(super) keys: BTreeMap<u64, u64>,
    expired: u64,
    functions: u64,
}

/// Restores the RDB that `open` streams into the server behind `conn`.
pub fn run(
    conn: &mut redis::Connection,
    cfg: &RedisConfig,
    open: Opener,
    cancel: &Cancel,
) -> Result<()> {
    let fail = |message: String| Error::Server {
        server: server::label(cfg),
        message,
    };
    let info = server::info(conn, cfg)?;
    if info.cluster {
        return Err(fail(
            "is a Redis Cluster node; restoring over the network into a cluster is not supported: restore with \
             --to-file and load the file into each node, or restore into a standalone server"
                .into(),
        ));
    }
    refuse_unless_empty(&info).map_err(fail)?;

    let started = Instant::now();
    let plan = first_pass(open()?, cancel)?;
    if let Some(readable) = info.rdb_version()
        && plan.version > readable
    {
        return Err(fail(format!(
            "runs Redis {} which reads RDB version {readable} and older, but the backup is RDB version {}: restore \
             into a Redis at least as new as the one that made the backup; nothing was written",
            info.version, plan.version
        )));
    }
    for db in plan.keys.keys() {
        redis::cmd("SELECT")
            .arg(*db)
            .query::<()>(conn)
            .map_err(|e| {
                // Each cause its own advice: a refused permission is not a missing database.
                let advice = if let Some(rule) = acl::missing_rule(&e, &cfg.conn.user) {
                    format!("allow it with {rule}")
                } else if acl::is_database_out_of_range(&e) {
                    "the server has fewer logical databases than the backup uses: raise `databases` in its \
                     configuration"
                        .to_string()
                } else {
                    "check the server's log".to_string()
                };
                fail(format!(
                    "cannot select logical database {db}, which the backup uses: {}; {advice}; nothing was \
                     written",
                    server::describe(cfg, &e)
                ))
            })?;
    }
    tracing::info!(
        keys = plan.keys.values().sum::<u64>(),
        databases = plan.keys.len(),
        expired = plan.expired,
        functions = plan.functions,
        rdb_version = plan.version,
        duration_ms = started.elapsed().as_millis() as u64,
        "RDB checked; replaying it into Redis"
    );
    let restored = replay(conn, cfg, open()?, plan.version, cancel)?;
    tracing::info!(
        keys = restored.keys,
        skipped_expired = restored.expired,
        functions = restored.functions,
        "keys restored"
    );
    Ok(())
}

/// A restore never mixes two states: the server must hold no keys.
fn refuse_unless_empty(info: &ServerInfo) -> std::result::Result<(), String> {
    if info.keyspace.is_empty() {
        return Ok(());
    }
    let held: Vec<String> = info
        .keyspace
        .iter()
        .map(|(db, keys)| format!("{keys} in db {db}"))
        .collect();
    Err(format!(
        "already holds keys ({}); restore needs an empty server so that it ends up equal to the backup: empty it \
         with FLUSHALL (after stopping the applications that write to it) or restore into a fresh server",
        held.join(", ")
    ))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn cancelled() -> Error {
    Error::Cancelled("the restore was stopped by a signal".into())
}

/// Reads the whole backup: complete, intact, and nothing in it that RESTORE cannot carry.
pub(super) fn first_pass(input: Box<dyn Read + Send>, cancel: &Cancel) -> Result<Plan> {
    let damaged = |e: rdb::RdbError| {
        let what = match e.kind {
            ErrorKind::Unknown => "holds something this db-backup cannot restore over the network",
            _ => "is not a complete, intact RDB",
        };
        Error::Other(format!(
            "the backup {what}: {e}; nothing was written to Redis{}",
            if e.kind == ErrorKind::Unknown {
                " (restore --to-file PATH writes the RDB for a file-based restore)"
            } else {
                ""
            }
        ))
    };
    let mut reader = Reader::new(input, false).map_err(damaged)?;
    let mut plan = Plan {
        version: reader.version(),
        ..Plan::default()
    };
    let now = now_ms();
    while let Some(item) = reader.next_item().map_err(damaged)? {
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        match item {
            Item::Key(entry) => {
                if let Some(module) = &entry.module {
                    return Err(Error::Other(format!(
                        "key {} in db {} holds a value of module {module} (type {}), which RESTORE cannot carry \
                         without the module; nothing was written to Redis. Restore with --to-file PATH and load the \
                         file into a Redis that has the module",
                        entry.key_label(),
                        entry.db,
                        entry.value_type
                    )));
                }
                if entry.expire_ms.is_some_and(|at| at <= now) {
                    plan.expired += 1;
                } else {
                    *plan.keys.entry(entry.db).or_default() += 1;
                }
            }
            Item::ModuleAux { module } => {
                return Err(Error::Other(format!(
                    "the backup holds global data of module {module}, which cannot be restored over the network; \
                     nothing was written to Redis. Restore with --to-file PATH and load the file into a Redis that \
                     has the module"
                )));
            }
            Item::Function { .. } => plan.functions += 1,
            Item::Aux { .. } | Item::SelectDb(_) => {}
        }
    }
    Ok(plan)
}

/// Counts of what the second pass wrote.
#[derive(Debug, Default)]
struct Restored {
    keys: u64,
    expired: u64,
    functions: u64,
}

/// One pipeline of commands and, for each, what it restores (for an error message).
struct Batch {
    pipe: redis::Pipeline,
    labels: Vec<String>,
    bytes: usize,
}

impl Batch {
    fn new() -> Batch {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        Batch {
            pipe,
            labels: Vec::new(),
            bytes: 0,
        }
    }

    fn full(&self) -> bool {
        self.labels.len() >= BATCH_COMMANDS || self.bytes >= BATCH_BYTES
    }
}

/// The DUMP payload format: the serialized value, the RDB version (little-endian) and a CRC-64 of both.
fn payload(mut serialized: Vec<u8>, version: u16) -> Vec<u8> {
    serialized.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&serialized);
    serialized.extend_from_slice(&crc.to_le_bytes());
    serialized
}

fn replay(
    conn: &mut redis::Connection,
    cfg: &RedisConfig,
    input: Box<dyn Read + Send>,
    version: u16,
    cancel: &Cancel,
) -> Result<Restored> {
    let mut reader = Reader::new(input, true)
        .map_err(|e| Error::Other(format!("the backup could not be read again: {e}")))?;
    let mut restored = Restored::default();
    let mut batch = Batch::new();
    let mut selected: Option<u64> = None;
    let mut sent: u64 = 0;
    loop {
        if cancel.is_cancelled() {
            return Err(partial(cancelled(), sent));
        }
        let item = reader.next_item().map_err(|e| {
            partial(
                Error::Other(format!("the backup could not be read again: {e}")),
                sent,
            )
        })?;
        let Some(item) = item else { break };
        match item {
            Item::Key(entry) => {
                if entry.expire_ms.is_some_and(|at| at <= now_ms()) {
                    restored.expired += 1;
                    continue;
                }
                if selected != Some(entry.db) {
                    batch.pipe.cmd("SELECT").arg(entry.db);
                    batch.labels.push(format!("SELECT {}", entry.db));
                    selected = Some(entry.db);
                }
                batch.labels.push(format!(
                    "RESTORE of key {} in db {}",
                    entry.key_label(),
                    entry.db
                ));
                push_restore(&mut batch, entry, version);
                restored.keys += 1;
            }
            Item::Function { serialized } => {
                let payload = payload(serialized, version);
                batch.bytes += payload.len();
                batch
                    .pipe
                    .cmd("FUNCTION")
                    .arg("RESTORE")
                    .arg(payload)
                    .arg("REPLACE");
                batch.labels.push("FUNCTION RESTORE".into());
                restored.functions += 1;
            }
            Item::Aux { .. } | Item::SelectDb(_) | Item::ModuleAux { .. } => {}
        }
        if batch.full() {
            sent += send(conn, cfg, std::mem::replace(&mut batch, Batch::new()), sent)?;
        }
    }
    send(conn, cfg, batch, sent)?;
    Ok(restored)
}

fn push_restore(batch: &mut Batch, entry: Entry, version: u16) {
    let cmd = batch.pipe.cmd("RESTORE").arg(&entry.key);
    let payload = payload(entry.serialized, version);
    batch.bytes += payload.len() + entry.key.len();
    match entry.expire_ms {
        Some(at) => cmd.arg(at).arg(payload).arg("REPLACE").arg("ABSTTL"),
        None => cmd.arg(0).arg(payload).arg("REPLACE"),
    };
    if let Some(idle) = entry.idle {
        cmd.arg("IDLETIME").arg(idle);
    } else if let Some(freq) = entry.freq {
        cmd.arg("FREQ").arg(freq);
    }
}

/// Sends a batch; fails naming the first command the server refused. Returns how many keys it carried.
fn send(conn: &mut redis::Connection, cfg: &RedisConfig, batch: Batch, sent: u64) -> Result<u64> {
    if batch.labels.is_empty() {
        return Ok(0);
    }
    let replies: Vec<Value> = batch.pipe.query(conn).map_err(|e| {
        Error::Server {
            server: server::label(cfg),
            message: format!(
                "the restore stopped: {}; the server may now hold part of the backup: empty it with FLUSHALL \
                 before trying again",
                server::describe(cfg, &e)
            ),
        }
    })?;
    let is_restore = |label: &String| label.starts_with("RESTORE");
    let written = batch
        .labels
        .iter()
        .zip(&replies)
        .filter(|(label, reply)| is_restore(label) && !matches!(reply, Value::ServerError(_)))
        .count() as u64;
    for (label, reply) in batch.labels.iter().zip(&replies) {
        if let Value::ServerError(e) = reply {
            let e: redis::RedisError = e.clone().into();
            return Err(partial(
                Error::Server {
                    server: server::label(cfg),
                    message: match acl::missing_rule(&e, &cfg.conn.user) {
                        Some(rule) => format!(
                            "{label} failed: {}; allow it with {rule}",
                            server::describe(cfg, &e)
                        ),
                        None => format!("{label} failed: {}", server::describe(cfg, &e)),
                    },
                },
                sent + written,
            ));
        }
    }
    Ok(written)
}

/// An error after keys were written: says so, and what to do.
fn partial(e: Error, sent: u64) -> Error {
    if sent == 0 {
        return e;
    }
    Error::Other(format!(
        "{e}; {sent} keys had been restored before, so the server now holds part of the backup: empty it with \
         FLUSHALL before trying again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_match_what_redis_dump_returns() {
        // `DUMP foo` of the string "bar" on Redis 7.0.15.
        let from_redis = b"\x00\x03bar\x0a\x00\xe6\xbe\x49\x60\xee\x66\xfd\x17";
        assert_eq!(payload(b"\x00\x03bar".to_vec(), 10), from_redis);
    }

    #[test]
    fn a_server_with_keys_is_refused_naming_them() {
        let mut info = ServerInfo::default();
        assert!(refuse_unless_empty(&info).is_ok());
        info.keyspace.insert(0, 3);
        info.keyspace.insert(4, 1);
        let message = refuse_unless_empty(&info).unwrap_err();
        assert!(message.contains("3 in db 0, 1 in db 4"), "{message}");
        assert!(message.contains("FLUSHALL"), "{message}");
    }
}
