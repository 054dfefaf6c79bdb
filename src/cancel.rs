//! The cancel token: made where stop signals are handled and handed down to jobs, engines, the pipeline and
//! every [`crate::process::Tool`]; it stops streams at their next chunk and kills the tools it watches.
//!
//! Two steps, because a tool that says nothing (a dump waiting on a lock) never lets the job look at the flag:
//! [`Cancel::cancel`] asks the job to stop; [`Cancel::kill_tools`] also kills the child processes started under
//! the token, through the ids of the children we spawned and have not reaped (never a scan of `/proc`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::Notify;

/// A cancel token; cheap to clone, every clone sees the same state. A fresh token is not cancelled.
#[derive(Clone, Default)]
pub struct Cancel(Arc<Inner>);

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    killing: AtomicBool,
    notify: Notify,
    tools: Mutex<Vec<Weak<Watched>>>,
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Asks everything holding the token to stop: streams stop at their next chunk, waits end.
    pub fn cancel(&self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Cancels, and kills every tool started under the token that is still running, and any started later.
    pub fn kill_tools(&self) {
        self.cancel();
        self.0.killing.store(true, Ordering::SeqCst);
        let tools: Vec<Arc<Watched>> = lock(&self.0.tools)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for tool in tools {
            tool.kill();
        }
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Returns once the token is cancelled.
    pub async fn cancelled(&self) {
        let notified = self.0.notify.notified();
        tokio::pin!(notified);
        // Registered before the flag is read, so that a cancel in between is not missed.
        notified.as_mut().enable();
        if self.is_cancelled() {
            return;
        }
        notified.await;
    }

    /// Sleeps for `d`; false when the token was cancelled first.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_cancelled(),
            _ = self.cancelled() => false,
        }
    }

    /// Watches the child `pid` that the caller spawned and will reap: [`Cancel::kill_tools`] kills it until
    /// [`Watched::reaping`] says it is about to be reaped (after which its id may belong to another process).
    pub(crate) fn watch(&self, pid: u32) -> Arc<Watched> {
        let watched = Arc::new(Watched {
            pid,
            reaped: Mutex::new(false),
        });
        {
            let mut tools = lock(&self.0.tools);
            tools.retain(|w| w.strong_count() > 0);
            tools.push(Arc::downgrade(&watched));
        }
        if self.0.killing.load(Ordering::SeqCst) {
            watched.kill();
        }
        watched
    }
}

/// A child process under a token's watch.
pub(crate) struct Watched {
    pid: u32,
    /// Set, under this lock, just before the owner reaps the child; a kill holds the lock, so it never reaches
    /// a reused process id.
    reaped: Mutex<bool>,
}

impl Watched {
    /// Kills the child and the process group it leads (what it started), unless it was reaped.
    pub(crate) fn kill(&self) {
        let reaped = lock(&self.reaped);
        if !*reaped {
            let pid = self.pid as libc::pid_t;
            // SAFETY: kill(2) on our own child, which has not been reaped (the lock above keeps it so), and on
            // the group it leads: while the leader is unreaped its id cannot name another group.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }

    /// Called by the owner right before it reaps the child: no kill reaches the id afterwards.
    pub(crate) fn reaping(&self) {
        *lock(&self.reaped) = true;
    }
}

/// Locks a mutex whose data stays valid even if a holder panicked (a flag and a list of weak references).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_wake_on_cancel_and_a_late_waiter_returns_at_once() {
        let cancel = Cancel::new();
        assert!(!cancel.is_cancelled());
        let waiter = tokio::spawn({
            let c = cancel.clone();
            async move { c.cancelled().await }
        });
        tokio::task::yield_now().await;
        cancel.cancel();
        waiter.await.expect("waiter");
        assert!(cancel.is_cancelled());
        cancel.cancelled().await;
        assert!(!cancel.sleep(Duration::from_secs(3600)).await);
    }

    #[test]
    fn kill_reaches_a_watched_child_and_a_child_watched_later() {
        let cancel = Cancel::new();
        let mut first = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let _w = cancel.watch(first.id());
        cancel.kill_tools();
        let status = first.wait().expect("wait");
        assert!(!status.success());
        let mut later = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        let w = cancel.watch(later.id());
        w.reaping();
        let status = later.wait().expect("wait");
        assert!(!status.success());
    }
}
