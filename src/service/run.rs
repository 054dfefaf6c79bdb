//! One scheduled run: the backup job supervised until it ends, retried with backoff when it failed and a retry
//! can help, waited out when another backup holds the directory's lock, and abandoned cleanly on a stop.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use tokio::time::{Instant, timeout};

use super::state::{BackupFile, RunRecord, RunStatus};
use crate::cancel::Cancel;
use crate::error::{Error, Kind, Result};
use crate::scheduler::{backoff, unit_random, with_jitter};

/// The first retry's delay; each later one doubles, up to [`MAX_RETRY_DELAY`] or half a schedule period.
const BASE_RETRY_DELAY: Duration = Duration::from_secs(30);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10 * 60);
/// How often the lock is tried again while another backup holds it.
pub(super) const LOCK_POLL: Duration = Duration::from_millis(500);
/// The shortest time a run waits for another backup to release the lock.
const MIN_LOCK_WAIT: Duration = Duration::from_secs(30);
/// After the stop grace period: how long the job has to notice the cancel flag, and then to die once its
/// children are killed. Together with the default `BACKUP_STOP_TIMEOUT` of 8 s this stays inside Docker's 10 s.
const CANCEL_WAIT: Duration = Duration::from_millis(700);
const KILL_WAIT: Duration = Duration::from_millis(300);
/// The reason recorded for a run that a stop signal ended.
const STOPPED: &str = "the service was stopped before the backup finished";

/// How runs are retried and stopped.
#[derive(Debug, Clone)]
pub struct RunPolicy {
    /// Retries after a failed attempt (`BACKUP_RETRIES`).
    pub retries: u32,
    /// Cap of one retry delay.
    pub max_retry_delay: Duration,
    /// How long to wait for a backup that another process is running in the same directory.
    pub lock_wait: Duration,
    /// How long a running backup may go on after a stop signal (`BACKUP_STOP_TIMEOUT`).
    pub stop_timeout: Duration,
}

impl RunPolicy {
    /// The policy for a schedule whose runs are `period` apart: retries never wait longer than half of it
    /// (a retry of the 3 a.m. backup at noon helps nobody), nor less than a second.
    pub fn new(retries: u32, stop_timeout: Duration, period: Duration) -> RunPolicy {
        RunPolicy {
            retries,
            max_retry_delay: (period / 2).clamp(Duration::from_secs(1), MAX_RETRY_DELAY),
            lock_wait: period.max(MIN_LOCK_WAIT),
            stop_timeout,
        }
    }

    /// The delay before retry number `attempt` (from 0), spread by `unit_random` in `[0, 1]`.
    pub fn retry_delay(&self, attempt: u32, unit_random: f64) -> Duration {
        with_jitter(
            backoff(attempt, BASE_RETRY_DELAY, self.max_retry_delay),
            unit_random,
        )
    }
}

/// How the job is made to stop once its grace period is over.
pub trait Stopper: Sync {
    /// Asks the job to stop at its next chunk and clean up (remove its temporary file).
    fn cancel(&self);
    /// The job did not stop: end the child processes it waits on, so that it can.
    fn kill(&self);
}

/// A finished run and what it took.
#[derive(Debug)]
pub struct Finished {
    pub record: RunRecord,
    /// Attempts that failed and were retried.
    pub retries: u32,
    /// The job could not be stopped: the process must exit without waiting for it.
    pub stuck: bool,
}

/// How one attempt ended.
enum Attempt {
    Done(Result<Vec<BackupFile>>),
    /// Stopped by a stop signal after its grace period; `stuck` when it did not even end when told to.
    Abandoned {
        stuck: bool,
    },
}

/// Runs `job` until it succeeds, fails for good or the service stops.
pub async fn run_once<J, F>(
    policy: &RunPolicy,
    shutdown: &Cancel,
    stopper: &dyn Stopper,
    job: J,
) -> Finished
where
    J: Fn() -> F,
    F: Future<Output = Result<Vec<BackupFile>>> + Send + 'static,
{
    let started_at = Utc::now();
    let lock_deadline = Instant::now() + policy.lock_wait;
    let mut failed = 0u32;
    let mut waiting_for_lock = false;
    let finish = |status, attempts, retries, backups, error: Option<String>, stuck| Finished {
        record: RunRecord {
            status,
            started_at,
            finished_at: Utc::now(),
            attempts,
            backups,
            error,
        },
        retries,
        stuck,
    };
    // A stop while an attempt ran or waited: the attempt in hand counts.
    let stopped = |failed: u32, stuck| {
        let message = Some(STOPPED.to_string());
        finish(
            RunStatus::Cancelled,
            failed + 1,
            failed,
            vec![],
            message,
            stuck,
        )
    };
    // Giving up after `failed` attempts, the last failing with `message`.
    let give_up = |failed: u32, message: String| {
        finish(
            RunStatus::Failure,
            failed,
            failed - 1,
            vec![],
            Some(message),
            false,
        )
    };
    loop {
        let result = match supervise(job(), policy.stop_timeout, shutdown, stopper).await {
            Attempt::Done(result) => result,
            Attempt::Abandoned { stuck } => return stopped(failed, stuck),
        };
        let error = match result {
            Ok(backups) => {
                return finish(RunStatus::Success, failed + 1, failed, backups, None, false);
            }
            Err(e) => e,
        };
        if error.kind() == Kind::LockBusy {
            if !waiting_for_lock {
                tracing::warn!(
                    "another backup is running in BACKUP_DIR (a `backup-db` started by hand?): this run waits for it"
                );
                waiting_for_lock = true;
            }
            if Instant::now() >= lock_deadline {
                let message = format!(
                    "another backup held the lock in BACKUP_DIR for more than {} s, so this run could not start: \
                     {error}",
                    policy.lock_wait.as_secs()
                );
                return give_up(failed + 1, message);
            }
            if !shutdown.sleep(LOCK_POLL).await {
                return stopped(failed, false);
            }
            continue;
        }
        failed += 1;
        let permanent = !error.retryable();
        if shutdown.is_cancelled() || permanent || failed > policy.retries {
            if permanent && failed <= policy.retries {
                tracing::warn!("not retried: retrying cannot fix this error");
            }
            return give_up(failed, error.to_string());
        }
        let delay = policy.retry_delay(failed - 1, unit_random());
        tracing::warn!(
            attempt = failed,
            of = policy.retries + 1,
            error = %error,
            retry_in_ms = delay.as_millis() as u64,
            "backup attempt failed; retrying"
        );
        if !shutdown.sleep(delay).await {
            return give_up(failed, error.to_string());
        }
    }
}

/// Runs one attempt as its own task. When a stop is requested while it runs, it gets `grace` to finish (a
/// backup that completes in time is kept); then it is cancelled, and if that does not end it, its children
/// are killed; if even that fails it is left behind.
async fn supervise<F>(job: F, grace: Duration, shutdown: &Cancel, stopper: &dyn Stopper) -> Attempt
where
    F: Future<Output = Result<Vec<BackupFile>>> + Send + 'static,
{
    let mut task = tokio::spawn(job);
    let joined = |r: std::result::Result<Result<Vec<BackupFile>>, tokio::task::JoinError>| {
        r.unwrap_or_else(|e| Err(Error::Other(format!("the backup task failed: {e}"))))
    };
    tokio::select! {
        r = &mut task => return Attempt::Done(joined(r)),
        _ = shutdown.cancelled() => {}
    }
    tracing::info!(
        grace_s = grace.as_secs(),
        "a backup is running: it may finish within BACKUP_STOP_TIMEOUT"
    );
    if let Ok(r) = timeout(grace, &mut task).await {
        return Attempt::Done(joined(r));
    }
    tracing::warn!(
        "the backup did not finish within BACKUP_STOP_TIMEOUT: abandoning it (dump stopped, temporary file removed)"
    );
    stopper.cancel();
    if timeout(CANCEL_WAIT, &mut task).await.is_ok() {
        return Attempt::Abandoned { stuck: false };
    }
    tracing::warn!("the backup did not stop when told to: killing its dump process");
    stopper.kill();
    if timeout(KILL_WAIT, &mut task).await.is_ok() {
        return Attempt::Abandoned { stuck: false };
    }
    tracing::error!(
        "the backup could not be stopped; its temporary file is removed at the next run"
    );
    task.abort();
    Attempt::Abandoned { stuck: true }
}

/// The stopper of real backups: the run's cancel token, which stops the streams and then kills the tools the
/// run started.
pub struct JobStopper(pub Cancel);

impl Stopper for JobStopper {
    fn cancel(&self) {
        self.0.cancel();
    }

    fn kill(&self) {
        self.0.kill_tools();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    struct FlagStopper(Arc<AtomicBool>);

    impl Stopper for FlagStopper {
        fn cancel(&self) {
            self.0.store(true, Ordering::SeqCst);
        }
        fn kill(&self) {}
    }

    /// A stop token and a clone of it to cancel it with.
    fn manual() -> (Cancel, Cancel) {
        let shutdown = Cancel::new();
        (shutdown.clone(), shutdown)
    }

    fn policy(retries: u32) -> RunPolicy {
        RunPolicy::new(retries, Duration::from_secs(8), Duration::from_secs(3600))
    }

    fn file() -> Vec<BackupFile> {
        vec![BackupFile {
            series: "pg".into(),
            file: "pg-x.sql.gz".into(),
            size: 1,
        }]
    }

    /// What a test job returns.
    type JobFuture = std::pin::Pin<Box<dyn Future<Output = Result<Vec<BackupFile>>> + Send>>;

    /// A job that fails `failures` times with `error`, then succeeds; counts its calls.
    fn flaky(failures: u32, error: fn() -> Error) -> (Arc<AtomicU32>, impl Fn() -> JobFuture) {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let job = move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if n < failures {
                    Err(error())
                } else {
                    Ok(file())
                }
            }) as JobFuture
        };
        (calls, job)
    }

    fn down() -> Error {
        Error::Server {
            server: "127.0.0.1:5432".into(),
            message: "connection refused".into(),
        }
    }

    fn disk_full() -> Error {
        Error::io(
            "/backups/x",
            std::io::Error::from_raw_os_error(libc::ENOSPC),
        )
    }

    fn busy() -> Error {
        Error::LockBusy {
            path: format!("/backups/{}", crate::storage::LOCK_FILE).into(),
            message: "another backup is running".into(),
        }
    }

    #[test]
    fn retry_delays_double_and_stay_within_half_a_period() {
        let p = policy(5);
        let delays: Vec<u64> = (0..6).map(|a| p.retry_delay(a, 1.0).as_secs()).collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 600]);
        assert_eq!(p.retry_delay(0, 0.0), Duration::from_secs(15));
        let seconds = RunPolicy::new(2, Duration::ZERO, Duration::from_secs(2));
        assert_eq!(seconds.retry_delay(3, 1.0), Duration::from_secs(1));
        assert_eq!(seconds.lock_wait, MIN_LOCK_WAIT);
        let r = unit_random();
        assert!((0.0..1.0).contains(&r));
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_attempt_is_retried_with_backoff() {
        let shutdown = Cancel::new();
        let (calls, job) = flaky(2, down);
        let started = Instant::now();
        let f = run_once(&policy(2), &shutdown, &FlagStopper(Default::default()), job).await;
        assert_eq!(f.record.status, RunStatus::Success);
        assert_eq!((f.record.attempts, f.retries), (3, 2));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        // Three 1 s attempts and two delays of 15-30 s and 30-60 s.
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(48) && took <= Duration::from_secs(93),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_run_out_into_a_failure() {
        let shutdown = Cancel::new();
        let (calls, job) = flaky(10, down);
        let f = run_once(&policy(1), &shutdown, &FlagStopper(Default::default()), job).await;
        assert_eq!(f.record.status, RunStatus::Failure);
        assert_eq!((f.record.attempts, f.retries), (2, 1));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(f.record.error.unwrap().contains("connection refused"));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_a_retry_cannot_fix_are_not_retried() {
        let shutdown = Cancel::new();
        let (calls, job) = flaky(10, disk_full);
        let f = run_once(&policy(3), &shutdown, &FlagStopper(Default::default()), job).await;
        assert_eq!(f.record.status, RunStatus::Failure);
        assert_eq!((f.record.attempts, f.retries), (1, 0));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_refused_login_and_a_full_disk_are_not_retried() {
        let refused = Error::AuthRefused {
            server: "PostgreSQL at db:5432".into(),
            message: "authentication failed for user app: password authentication failed".into(),
        };
        assert!(!Error::retryable(&refused));
        assert!(!Error::retryable(&disk_full()));
        let rewrapped = Error::io(
            "/backups/.x.partial",
            std::io::Error::new(std::io::ErrorKind::StorageFull, "writing the backup failed"),
        );
        assert!(!Error::retryable(&rewrapped));
        // As `backup-db` reports one target's failure among several.
        let of_a_target = Error::Target {
            target: "database app".into(),
            cause: Box::new(rewrapped),
        };
        assert!(!Error::retryable(&of_a_target));
        // As `backup-db` reports a stream that every destination refused for a full disk.
        let every_destination = Error::Write {
            path: "/backups/.x.partial".into(),
            kind: Kind::StorageFull,
            message: "writing the backup failed: every destination failed".into(),
        };
        assert!(!every_destination.retryable());
        assert!(Error::retryable(&down()));
        assert!(Error::retryable(&busy()));
        // Copies were made and a store is out of reach after its own retries: a retry would copy again.
        let partial = Error::Partial("s3: cannot be reached; the backup went to local".into());
        assert!(!Error::retryable(&partial));
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_lock_is_waited_for_without_counting_as_a_failure() {
        let shutdown = Cancel::new();
        let (calls, job) = flaky(4, busy);
        let f = run_once(&policy(0), &shutdown, &FlagStopper(Default::default()), job).await;
        assert_eq!(f.record.status, RunStatus::Success);
        assert_eq!((f.record.attempts, f.retries), (1, 0));
        assert_eq!(calls.load(Ordering::SeqCst), 5);

        // Held for longer than the wait: the run fails and says why.
        let (_, job) = flaky(u32::MAX, busy);
        let mut p = policy(0);
        p.lock_wait = Duration::from_secs(10);
        let f = run_once(&p, &shutdown, &FlagStopper(Default::default()), job).await;
        assert_eq!(f.record.status, RunStatus::Failure);
        assert!(f.record.error.unwrap().contains("held the lock"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_lets_a_backup_finish_within_the_grace_period() {
        let (trigger, shutdown) = manual();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stopper = FlagStopper(cancelled.clone());
        let job = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(file())
        };
        let stop = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            trigger.cancel();
        };
        let p = policy(2);
        let (f, ()) = tokio::join!(run_once(&p, &shutdown, &stopper, job), stop);
        assert_eq!(f.record.status, RunStatus::Success);
        assert!(!cancelled.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_cancels_a_backup_that_outlasts_the_grace_period() {
        let (trigger, shutdown) = manual();
        let cancelled = Arc::new(AtomicBool::new(false));
        let stopper = FlagStopper(cancelled.clone());
        let flag = cancelled.clone();
        let job = move || {
            let flag = flag.clone();
            async move {
                // A dump that checks the cancel flag between chunks, as the pipeline does.
                while !flag.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(Error::Other("cancelled by a stop signal".into()))
            }
        };
        let started = Instant::now();
        let stop = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            trigger.cancel();
        };
        let p = policy(2);
        let (f, ()) = tokio::join!(run_once(&p, &shutdown, &stopper, job), stop);
        assert_eq!(f.record.status, RunStatus::Cancelled);
        assert!(!f.stuck);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(9) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_that_ignores_every_stop_is_left_behind() {
        let (trigger, shutdown) = manual();
        trigger.cancel();
        let job = || std::future::pending::<Result<Vec<BackupFile>>>();
        let mut p = policy(0);
        p.stop_timeout = Duration::from_secs(1);
        let f = run_once(&p, &shutdown, &FlagStopper(Default::default()), job).await;
        assert_eq!(f.record.status, RunStatus::Cancelled);
        assert!(f.stuck);
    }
}
