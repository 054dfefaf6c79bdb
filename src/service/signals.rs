//! Stopping: one shutdown flag raised by the first SIGTERM or SIGINT; a second signal exits at once.
//!
//! The handlers are installed explicitly (tokio's `signal` sets a real handler), which is what makes the
//! process react to signals as PID 1 in a container: the kernel ignores signals whose action is the default
//! for a namespace's init, but delivers those it has a handler for.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::error::{Error, Result};

/// A handle on the shutdown flag; cheap to clone.
#[derive(Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

/// Raises the flag by hand (tests, or a fatal condition).
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

impl Shutdown {
    /// A flag nobody raises but the returned trigger.
    pub fn manual() -> (Trigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (Trigger(tx), Shutdown { rx })
    }

    /// Installs the SIGTERM and SIGINT handlers. Must be called inside the runtime, first thing.
    pub fn install() -> Result<Shutdown> {
        let cannot =
            |e: std::io::Error| Error::Other(format!("cannot install the signal handlers: {e}"));
        let mut term = signal(SignalKind::terminate()).map_err(cannot)?;
        let mut int = signal(SignalKind::interrupt()).map_err(cannot)?;
        let (trigger, shutdown) = Shutdown::manual();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(
                signal = name,
                "stop requested: no new backups; a running backup may finish within BACKUP_STOP_TIMEOUT (a second signal stops at once)"
            );
            trigger.fire();
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

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        *self.rx.borrow()
    }

    /// Returns once a stop is requested.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the sender is gone, which only happens when the runtime shuts down: stop too.
        let _ = rx.wait_for(|stop| *stop).await;
    }

    /// Sleeps for `d`; false when a stop was requested first.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.requested(),
            _ = self.wait() => false,
        }
    }
}
