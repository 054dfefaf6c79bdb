//! The commands: backup, restore, verify, list and prune, and what they share. Every job is a plain blocking
//! function; async code runs one through [`blocking`].

pub mod backup;
mod latest;
pub mod list;
pub mod prune;
pub mod restore;
mod restore_file;
pub(crate) mod series;
pub mod verify;

use crate::error::{Error, Result};

/// Runs `job` on tokio's blocking pool and waits for it without holding a runtime worker: the one way async
/// code (the command line, the service) runs a job or another blocking call. `what` names it if the task
/// itself fails (a panic).
pub async fn blocking<T: Send + 'static>(
    what: &str,
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| Error::Other(format!("the {what} failed: {e}")))
}
