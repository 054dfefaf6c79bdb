//! The server session of a dump tool that was stopped. A killed `mariadb-dump` leaves its query waiting on the
//! server while it waits for a lock (it notices the closed connection only once the lock is granted), so when
//! a dump is stopped db-backup kills, over its own connection, the sessions the dump opened: those of the same
//! user, on the dumped database, running a query, that connected after the dump started (connection ids only
//! grow; the highest one is read just before the tool starts). A user may see and kill its own sessions
//! without any grant. With a backup user of its own (as the README advises) these are the dump's sessions.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use tokio::runtime::Handle;

use crate::cancel::Cancel;
use crate::engine::{Dump, ToolDump};
use crate::error::Result;

/// How long the killed sessions may take to leave the server's process list.
const END_WAIT: Duration = Duration::from_secs(5);

const SESSIONS: &str = "SELECT ID FROM information_schema.PROCESSLIST \
     WHERE ID > ? AND ID <> CONNECTION_ID() AND USER = SUBSTRING_INDEX(USER(), '@', 1) AND DB = ? \
     AND COMMAND = 'Query'";

/// The sessions one run of the dump tool may open.
pub struct DumpSessions {
    conn: Arc<Mutex<Conn>>,
    runtime: Handle,
    database: String,
    /// The highest connection id on the server before the tool started.
    after: u64,
}

impl DumpSessions {
    /// Reads the highest connection id now, before the dump tool for `database` starts.
    pub fn before_start(
        conn: Arc<Mutex<Conn>>,
        runtime: Handle,
        database: &str,
    ) -> std::result::Result<DumpSessions, String> {
        let after = {
            let mut guard = conn.lock().map_err(|_| "the connection was poisoned")?;
            runtime
                .block_on(guard.query_first::<Option<u64>, _>(
                    "SELECT GREATEST(MAX(ID), CONNECTION_ID()) FROM information_schema.PROCESSLIST",
                ))
                .map_err(|e| e.to_string())?
                .flatten()
                .unwrap_or(0)
        };
        Ok(DumpSessions {
            conn,
            runtime,
            database: database.to_string(),
            after,
        })
    }

    /// Kills the stopped dump's sessions still on the server and waits (up to [`END_WAIT`]) for them to be
    /// gone. A failure is logged: the backup has failed already, and the session ends once it gets its lock.
    pub fn end(&self) {
        let ended = match self.conn.lock() {
            Ok(mut conn) => self.runtime.block_on(async {
                tokio::time::timeout(
                    END_WAIT + Duration::from_secs(5),
                    kill_all(&mut conn, self.after, &self.database),
                )
                .await
            }),
            Err(_) => Ok(Err("the connection was poisoned by a panic".to_string())),
        };
        match ended {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(
                sessions = n,
                database = %self.database,
                "the stopped dump's server sessions were killed"
            ),
            Ok(Err(e)) => tracing::warn!(
                database = %self.database,
                error = %e,
                "the stopped dump's server sessions could not be killed; they end when their lock is released"
            ),
            Err(_) => tracing::warn!(
                database = %self.database,
                "the server did not answer in time when asked to kill the stopped dump's sessions"
            ),
        }
    }
}

/// Kills the sessions newer than `after` of this user on `database` that run a query, and waits for them to
/// leave the process list; returns how many there were.
async fn kill_all(
    conn: &mut Conn,
    after: u64,
    database: &str,
) -> std::result::Result<usize, String> {
    let ids: Vec<u64> = conn
        .exec(SESSIONS, (after, database))
        .await
        .map_err(|e| e.to_string())?;
    for id in &ids {
        match conn.query_drop(format!("KILL {id}")).await {
            // Unknown thread id: it is gone already.
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
            Err(e) => return Err(e.to_string()),
            Ok(()) => {}
        }
    }
    let list = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    let started = tokio::time::Instant::now();
    while !ids.is_empty() && started.elapsed() < END_WAIT {
        let left: Option<u64> = conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE FIND_IN_SET(ID, ?)",
                (list.as_str(),),
            )
            .await
            .map_err(|e| e.to_string())?;
        if left == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(ids.len())
}

/// A database dump whose server sessions are killed when it is stopped.
pub struct StoppableDump {
    pub dump: ToolDump,
    pub sessions: Option<DumpSessions>,
    pub cancel: Cancel,
}

impl Read for StoppableDump {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.dump.read(buf)
    }
}

impl Dump for StoppableDump {
    fn finish(self: Box<Self>) -> Result<()> {
        let StoppableDump {
            dump,
            sessions,
            cancel,
        } = *self;
        let finished = Box::new(dump).finish();
        if cancel.is_cancelled()
            && let Some(s) = &sessions
        {
            // Stopped: the tool was killed, and its query waiting on a lock would stay on the server.
            s.end();
        }
        finished
    }

    fn abort(self: Box<Self>) -> String {
        let said = Box::new(self.dump).abort();
        if let Some(s) = &self.sessions {
            s.end();
        }
        said
    }
}
