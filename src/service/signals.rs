//! Stopping: the first SIGTERM or SIGINT cancels the service's stop token; a second signal exits at once.
//!
//! The handlers are installed explicitly (tokio's `signal` sets a real handler), which is what makes the
//! process react to signals as PID 1 in a container: the kernel ignores signals whose action is the default
//! for a namespace's init, but delivers those it has a handler for.

use tokio::signal::unix::{SignalKind, signal};

use crate::cancel::Cancel;
use crate::error::{Error, Result};

/// Installs the SIGTERM and SIGINT handlers and returns the token the first signal cancels. Must be called
/// inside the runtime, first thing. A running backup has a token of its own, cancelled by the service after
/// its grace period (see [`super::run::run_once`]).
pub fn install() -> Result<Cancel> {
    let cannot =
        |e: std::io::Error| Error::Other(format!("cannot install the signal handlers: {e}"));
    let mut term = signal(SignalKind::terminate()).map_err(cannot)?;
    let mut int = signal(SignalKind::interrupt()).map_err(cannot)?;
    let shutdown = Cancel::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(
            signal = name,
            "stop requested: no new backups; a running backup may finish within BACKUP_STOP_TIMEOUT (a second signal stops at once)"
        );
        trigger.cancel();
        let (name, code) = tokio::select! {
            _ = term.recv() => ("SIGTERM", 128 + libc::SIGTERM),
            _ = int.recv() => ("SIGINT", 128 + libc::SIGINT),
        };
        tracing::warn!(
            signal = name,
            "second stop signal: exiting now; a half-written backup is removed at the next run"
        );
        std::process::exit(code);
    });
    Ok(shutdown)
}
