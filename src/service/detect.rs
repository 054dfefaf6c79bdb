//! `backup-service` without `DB_TYPE`: a sidecar often starts before its database (the usual compose race), so
//! instead of exiting on a failed detection the service keeps running, says what it is waiting for, and detects
//! the engine once a server answers; a stop signal while it waits ends it cleanly.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::Result;
use crate::jobs;

/// How often the server is asked again.
const RETRY: Duration = Duration::from_secs(2);
/// How often the wait is logged again (the first attempt is always logged).
const SAY_EVERY: Duration = Duration::from_secs(30);

/// Waits until a server at `host` answers the detection probe, then runs the service with the configuration
/// detected from it. Only an answer ends the wait: nothing answering is the database not being up yet.
pub async fn run(host: String) -> Result<()> {
    let shutdown = super::signals::install()?;
    let started = Instant::now();
    let mut said: Option<Instant> = None;
    loop {
        let asked = host.clone();
        let answer =
            jobs::blocking("detection probe", move || Config::probe_answers(&asked)).await?;
        match answer {
            Ok(()) => {
                // `from_env` probes again and decides; several servers answering is an error waiting cannot fix.
                let cfg = jobs::blocking("detection probe", Config::from_env).await??;
                if said.is_some() {
                    tracing::info!(
                        host = %host,
                        waited_s = started.elapsed().as_secs(),
                        reason = %cfg.conn.reason,
                        "the database answers: engine detected"
                    );
                }
                return super::run_with(&cfg, shutdown).await;
            }
            Err(why) => {
                if said.is_none_or(|t| t.elapsed() >= SAY_EVERY) {
                    tracing::warn!(
                        host = %host,
                        waited_s = started.elapsed().as_secs(),
                        "waiting for the database server at {host} to answer (DB_TYPE is not set, so the engine \
                         is detected once it does): {why}"
                    );
                    said = Some(Instant::now());
                }
                if !shutdown.sleep(RETRY).await {
                    tracing::info!(
                        "stop requested while waiting for the database; no backup was due"
                    );
                    return Ok(());
                }
            }
        }
    }
}
