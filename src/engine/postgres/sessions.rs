//! The server sessions of a dump tool that was stopped. A killed `pg_dump` leaves its backend behind when that
//! backend waits on a lock (it notices the closed connection only when the lock is granted); so each dump tool
//! gets an `application_name` of its own (`PGAPPNAME`), and when the dump is stopped db-backup ends the
//! sessions with that name over its own connection (`pg_terminate_backend`; the same role may end its own
//! sessions, so the backup user needs no extra grant).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio_postgres::Client;

/// How long ending the sessions may take (the server waits up to this for them to exit, PostgreSQL 14+).
const END_WAIT: Duration = Duration::from_secs(5);

/// The sessions of one dump tool run.
pub struct DumpSessions {
    app_name: String,
    client: Arc<Client>,
    runtime: Handle,
    server_major: u32,
}

impl DumpSessions {
    /// A name unique to this process and run of `tool`, starting with the tool's own name.
    pub fn new(
        tool: &str,
        client: Arc<Client>,
        runtime: Handle,
        server_major: u32,
    ) -> DumpSessions {
        static RUNS: AtomicU64 = AtomicU64::new(1);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        DumpSessions {
            app_name: format!("{tool} (db-backup {}.{run})", std::process::id()),
            client,
            runtime,
            server_major,
        }
    }

    /// The `application_name` to give the tool (through `PGAPPNAME`).
    pub fn app_name(&self) -> &str {
        &self.app_name
    }

    /// Ends the tool's sessions still on the server; for a dump that was stopped (its tool killed). A failure
    /// is logged: the backup has failed already, and the session ends by itself once its lock is granted.
    pub fn end(&self) {
        // PostgreSQL 14 and later wait (up to the timeout, in ms) for each session to be gone.
        let sql = if self.server_major >= 14 {
            format!(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, {})) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
                END_WAIT.as_millis()
            )
        } else {
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1 AND pid <> pg_backend_pid()"
                .to_string()
        };
        let ended = self.runtime.block_on(async {
            tokio::time::timeout(
                END_WAIT + Duration::from_secs(5),
                self.client.query_one(sql.as_str(), &[&self.app_name]),
            )
            .await
        });
        match ended {
            Ok(Ok(row)) => {
                let n: i64 = row.get(0);
                if n > 0 {
                    tracing::info!(
                        sessions = n,
                        application_name = %self.app_name,
                        "the stopped dump's server sessions were ended"
                    );
                }
            }
            Ok(Err(e)) => tracing::warn!(
                application_name = %self.app_name,
                error = %e,
                "the stopped dump's server sessions could not be ended; they end when their lock is released"
            ),
            Err(_) => tracing::warn!(
                application_name = %self.app_name,
                "the server did not answer in time when asked to end the stopped dump's sessions"
            ),
        }
    }
}
