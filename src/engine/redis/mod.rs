//! Redis: backs up by taking the RDB over the replication protocol (as `redis-cli --rdb` does), so the sidecar
//! needs no access to the server's disk; restores by replaying every key with `RESTORE` into a running server,
//! or (`restore --to-file`, handled by the restore job for every engine) by writing the plain RDB.

mod acl;
mod check;
mod crc64;
pub mod facts;
mod lzf;
pub mod rdb;
mod restore;
mod server;
pub mod settings;
mod sync;

use std::sync::Mutex;

use super::{Completeness, Dump, DumpTarget, Engine, Opener};
use crate::cancel::Cancel;
use crate::engine::redis::settings::RedisConfig;
use crate::error::{Error, Result};

pub use check::{RdbCheck, Summary, check};

/// The kind of file this engine writes: the RDB snapshot.
pub const KINDS: &[&str] = &["rdb"];

/// A reachable Redis server.
pub struct Redis {
    cfg: RedisConfig,
    conn: Mutex<redis::Connection>,
    /// Stops the connect step, the transfer and the restore.
    cancel: Cancel,
}

impl Redis {
    /// Waits for the server (bounded by `DB_WAIT_TIMEOUT`) and reads its version. The database argument of
    /// [`super::connect`] has no meaning here: a backup holds every logical database.
    pub fn connect(cfg: &RedisConfig, cancel: &Cancel) -> Result<Redis> {
        let mut conn = server::wait_for(cfg, cancel)?;
        let info = server::info(&mut conn, cfg)?;
        tracing::debug!(server = %server::label(cfg), version = %info.version, "Redis reached");
        Ok(Redis {
            cfg: cfg.clone(),
            conn: Mutex::new(conn),
            cancel: cancel.clone(),
        })
    }
}

impl Engine for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn targets(&self) -> Result<Vec<DumpTarget>> {
        Ok(vec![DumpTarget {
            database: None,
            series: self.cfg.naming.container.clone(),
            kind: "rdb".to_string(),
        }])
    }

    fn target_label(&self, _target: &DumpTarget) -> String {
        "the Redis server".to_string()
    }

    fn dump(&self, _target: &DumpTarget) -> Result<Box<dyn Dump>> {
        Ok(Box::new(sync::RdbDump::start(&self.cfg, &self.cancel)?))
    }

    fn completeness(&self, _target: &DumpTarget) -> Completeness {
        Completeness::Custom(Box::new(RdbCheck::start()))
    }

    fn prepare_restore(&self, _database: &str) -> Result<String> {
        Err(Error::Usage(
            "--database does not apply to Redis: a Redis backup holds the whole server (every logical database) \
             and is restored into the server that DB_HOST/DB_PORT name"
                .into(),
        ))
    }

    fn drill_rows(&self, _database: &str) -> Result<std::collections::BTreeMap<String, u64>> {
        self.keyspace()
    }

    /// Empties the scratch server (a drill restores only into a server it found empty).
    fn drop_database(&self, _database: &str) -> Result<()> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::Other("the Redis connection is unusable".into()))?;
        redis::cmd("FLUSHALL")
            .query::<()>(&mut *conn)
            .map_err(|e| server::error(&self.cfg, &e))
    }

    fn server_id(&self) -> Option<String> {
        let mut conn = self.conn.lock().ok()?;
        server::info(&mut conn, &self.cfg)
            .ok()
            .map(|i| i.run_id)
            .filter(|id| !id.is_empty())
    }

    fn restore(&self, _database: Option<&str>, _kind: &str, open: Opener) -> Result<()> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::Other("the Redis connection is unusable".into()))?;
        restore::run(&mut conn, &self.cfg, open, &self.cancel)
    }
}

/// For a restore drill: the keys per logical database in the RDB that `open` streams (keys already expired
/// left out), by the name `db<N>`.
pub fn keys_in_backup(
    open: Opener,
    cancel: &Cancel,
) -> Result<std::collections::BTreeMap<String, u64>> {
    let plan = restore::first_pass(open()?, cancel)?;
    Ok(plan
        .keys
        .into_iter()
        .map(|(db, n)| (format!("db{db}"), n))
        .collect())
}

impl Redis {
    /// The server's keys per logical database (`db<N>`), from INFO keyspace.
    fn keyspace(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::Other("the Redis connection is unusable".into()))?;
        let info = server::info(&mut conn, &self.cfg)?;
        Ok(info
            .keyspace
            .into_iter()
            .map(|(db, n)| (format!("db{db}"), n))
            .collect())
    }
}

/// How to check a stored backup of `kind`.
pub fn file_completeness(kind: &str) -> Option<Completeness> {
    (kind == "rdb").then(|| Completeness::Custom(Box::new(RdbCheck::start())))
}
