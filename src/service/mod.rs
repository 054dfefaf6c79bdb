//! `backup-service`: the long-running mode. It runs backups on the schedule (`BACKUP_SCHEDULE` or
//! `DB_BACKUP_INTERVAL`) for months without attention, tells the world how they went, and stops cleanly when
//! Docker stops it.
//!
//! - [`signals`]: SIGTERM/SIGINT cancel the service's stop token; a second signal exits at once.
//! - [`detect`]: without `DB_TYPE`, waiting for the database to answer before the engine is detected.
//! - [`run`]: one scheduled run: the backup job supervised, retried with backoff, stopped cleanly.
//! - [`state`]: what the service remembers, in a dotfile in `BACKUP_DIR` that `healthcheck` reads.
//! - [`health`]: the rule that says healthy or not (the `healthcheck` command, `/healthz`).
//! - [`metrics`]: `/metrics` (Prometheus) and `/healthz` on `METRICS_PORT`.
//! - [`notify`]: healthchecks.io-style pings, the JSON webhook and the messages of `NOTIFY_URLS`.
//! - `drill`: with `BACKUP_TEST_RESTORE=true`, each new backup drilled after its run (see [`crate::drill`]).
//!
//! Runs never overlap: the loop waits for a run to end before it looks at the schedule again, and a scheduled
//! time that passed meanwhile is skipped with a warning. The service never exits because a backup failed.

pub mod detect;
mod drill;
pub mod health;
pub mod metrics;
pub mod notify;
pub mod run;
pub mod signals;
pub mod state;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use self::health::{human, local};
use self::notify::Notifier;
use self::run::{JobStopper, RunPolicy};
use self::state::{BackupFile, RunStatus, State};
use crate::cancel::Cancel;
use crate::config::{Config, redact_url};
use crate::error::{Error, Result};
use crate::jobs;
use crate::scheduler::Schedule;
use crate::storage::ScratchDir;

/// The longest single sleep while waiting for the next run: the wall clock is looked at again after it, so
/// that a clock step (NTP, a suspended host) delays a run by at most this much.
const MAX_NAP: Duration = Duration::from_secs(60);
/// How long queued notifications may take to go out when the service stops.
const NOTIFY_DRAIN: Duration = Duration::from_millis(500);

/// Runs the service until a stop signal; `Ok` after a clean stop.
pub async fn run(cfg: &Config) -> Result<()> {
    // First, so that a stop signal is never lost (and so that, as PID 1, the process reacts to it at all).
    let shutdown = signals::install()?;
    run_with(cfg, shutdown).await
}

/// Runs the service with the signal handlers already installed (`shutdown` is the token they cancel).
pub async fn run_with(cfg: &Config, shutdown: Cancel) -> Result<()> {
    let cfg = Arc::new(cfg.clone());
    let settings = &cfg.service;
    let schedule = &settings.schedule;
    let tz = cfg.naming.tz;
    crate::engine::check_settings(&cfg)?;
    let scratch = ScratchDir::of(&cfg);
    scratch.check()?;

    let state_path = scratch.state_file(&cfg);
    let previous = state::load(&state_path).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "the previous state is unreadable; starting afresh");
        None
    });
    let now = Utc::now();
    let mut starting = State::starting(previous, now, schedule.describe_in(tz));
    if !cfg.drill.after_backup {
        // Drills turned off: a failed one from before no longer keeps the service unhealthy.
        starting.last_drill = None;
    }
    let state = Arc::new(Mutex::new(starting));

    let metrics = match settings.metrics_port {
        Some(port) => {
            let listener = metrics::bind(port).await?;
            tracing::info!(port, "serving /metrics and /healthz");
            Some(tokio::spawn(metrics::serve(
                listener,
                state.clone(),
                cfg.clone(),
            )))
        }
        None => None,
    };
    let notifier = Notifier::start(&cfg);
    let policy = RunPolicy::new(
        settings.retries,
        settings.stop_timeout,
        schedule.period(now, tz),
    );
    tracing::info!(
        schedule = %schedule.describe_in(tz),
        on_start = settings.on_start,
        retries = settings.retries,
        stop_timeout_s = settings.stop_timeout.as_secs(),
        ping = %settings.ping_url.as_ref().map(|u| redact_url(u.expose())).unwrap_or_else(|| "off".into()),
        webhook = %settings.webhook_url.as_ref().map(|u| redact_url(u.expose())).unwrap_or_else(|| "off".into()),
        notify = %notify_labels(&settings.notify_urls),
        "backup-service started"
    );

    let mut due = if settings.on_start {
        now
    } else {
        next_run(schedule, tz, now)?
    };
    let mut stuck = false;
    loop {
        let now = Utc::now();
        update(&state, &state_path, |s| s.next_run_at = Some(due));
        if due > now {
            tracing::info!(
                "next backup at {} (in {})",
                local(due, tz),
                human(due - now)
            );
        }
        if !sleep_until(due, &shutdown).await {
            break;
        }

        update(&state, &state_path, |s| s.running_since = Some(Utc::now()));
        notifier.run_started();
        let job_cfg = cfg.clone();
        // The run's own token: cancelled (and its tools killed) only once the stop's grace period is over.
        let job_cancel = Cancel::new();
        let stopper = JobStopper(job_cancel.clone());
        let job = move || {
            let (cfg, cancel) = (job_cfg.clone(), job_cancel.clone());
            async move {
                let outcomes =
                    jobs::blocking("backup task", move || jobs::backup::run(&cfg, &cancel))
                        .await??;
                Ok(outcomes
                    .into_iter()
                    .map(|o| BackupFile {
                        series: o.series,
                        file: o.file_name,
                        size: o.stored_bytes,
                    })
                    .collect())
            }
        };
        let finished = run::run_once(&policy, &shutdown, &stopper, job).await;
        log_run(&finished.record);
        notifier.run_finished(&finished.record);
        stuck = finished.stuck;
        let made = if cfg.drill.after_backup && finished.record.status == RunStatus::Success {
            finished.record.backups.clone()
        } else {
            Vec::new()
        };
        update(&state, &state_path, |s| {
            s.record(finished.record, finished.retries)
        });
        if !made.is_empty() && !stuck {
            drill::after_run(
                &cfg,
                &made,
                policy.lock_wait,
                &shutdown,
                &notifier,
                &state,
                &state_path,
            )
            .await;
        }
        if shutdown.is_cancelled() {
            break;
        }

        let (next, skipped) = next_due(schedule, tz, due, Utc::now())?;
        if skipped > 0 {
            tracing::warn!(
                skipped,
                "scheduled run(s) skipped: the previous backup was still running"
            );
            update(&state, &state_path, |s| s.runs.skipped += skipped);
        }
        due = next;
    }

    update(&state, &state_path, |s| {
        s.next_run_at = None;
        s.running_since = None;
        s.stopped_at = Some(Utc::now());
    });
    if let Some(task) = metrics {
        task.abort();
    }
    notifier.close(NOTIFY_DRAIN);
    tracing::info!("backup-service stopped");
    if stuck {
        // The runtime would wait for the stuck backup thread forever; leave without it.
        std::process::exit(0);
    }
    Ok(())
}

/// The services of `NOTIFY_URLS` for the start-up line: scheme and host of each, or `off`.
fn notify_labels(urls: &[notify::urls::NotifyUrl]) -> String {
    if urls.is_empty() {
        return "off".into();
    }
    urls.iter()
        .map(|u| u.label.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The next run after `now`.
fn next_run(schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    schedule.next_after(now, tz).ok_or_else(|| {
        Error::Other(format!(
            "the schedule ({}) has no run after {}",
            schedule.describe_in(tz),
            local(now, tz)
        ))
    })
}

/// After a run that was due at `due` and ended at `now`: the next scheduled time after both, and how many
/// scheduled times passed while the run was going on (those are skipped, never made up for).
pub fn next_due(
    schedule: &Schedule,
    tz: Tz,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, u64)> {
    // Counting stops at a bound so that a very long run on a seconds schedule cannot keep the loop busy.
    const MAX_COUNTED: u64 = 100_000;
    let mut at = due;
    let mut skipped = 0;
    loop {
        let next = next_run(schedule, tz, at)?;
        if next > now {
            return Ok((next, skipped));
        }
        skipped += 1;
        if skipped >= MAX_COUNTED {
            return Ok((next_run(schedule, tz, now)?, skipped));
        }
        at = next;
    }
}

/// Sleeps until the wall clock reaches `due`; false when a stop was requested first.
async fn sleep_until(due: DateTime<Utc>, shutdown: &Cancel) -> bool {
    loop {
        let now = Utc::now();
        if now >= due {
            return !shutdown.is_cancelled();
        }
        // Rounded up to whole milliseconds, so that the wake-up is never before `due`.
        let wait = (due - now).to_std().unwrap_or_default() + Duration::from_micros(999);
        if !shutdown.sleep(wait.min(MAX_NAP)).await {
            return false;
        }
    }
}

/// Changes the shared state and writes it to the state file. A write that fails is logged: the health check
/// will see stale state and in time report backups overdue, which is the right alarm for a broken disk.
fn update(state: &Mutex<State>, path: &Path, change: impl FnOnce(&mut State)) {
    let snapshot = match state.lock() {
        Ok(mut s) => {
            change(&mut s);
            s.clone()
        }
        Err(poisoned) => {
            let mut s = poisoned.into_inner();
            change(&mut s);
            s.clone()
        }
    };
    if let Err(e) = state::save(path, &snapshot) {
        tracing::warn!(error = %e, "cannot write the service state (used by healthcheck)");
    }
}

fn log_run(run: &state::RunRecord) {
    let duration_ms = run.duration().as_millis() as u64;
    match run.status {
        RunStatus::Success => tracing::info!(
            files = run.backups.len(),
            size = run.size(),
            attempts = run.attempts,
            duration_ms,
            "backup run succeeded"
        ),
        RunStatus::Failure => tracing::error!(
            attempts = run.attempts,
            duration_ms,
            error = run.error.as_deref().unwrap_or(""),
            "backup run failed; the service keeps its schedule"
        ),
        RunStatus::Cancelled => tracing::warn!(duration_ms, "backup run stopped by a stop signal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use chrono_tz::UTC;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 4, h, m, s).unwrap()
    }

    #[test]
    fn a_run_shorter_than_the_period_skips_nothing() {
        let s = Schedule::parse(Some("*/2 * * * * *"), None).unwrap();
        let (next, skipped) = next_due(&s, UTC, at(10, 0, 0), at(10, 0, 1)).unwrap();
        assert_eq!((next, skipped), (at(10, 0, 2), 0));
        // Woken a hair early (the monotonic and wall clocks disagree): never the same run twice.
        let early = at(10, 0, 0) - TimeDelta::milliseconds(3);
        assert_eq!(
            next_due(&s, UTC, at(10, 0, 0), early).unwrap(),
            (at(10, 0, 2), 0)
        );
    }

    #[test]
    fn runs_that_overlap_the_next_times_skip_them() {
        let s = Schedule::parse(Some("*/2 * * * * *"), None).unwrap();
        // Due at :00, ended at :05: :02 and :04 were skipped, :06 is next.
        assert_eq!(
            next_due(&s, UTC, at(10, 0, 0), at(10, 0, 5)).unwrap(),
            (at(10, 0, 6), 2)
        );
        // Ending exactly on a scheduled time skips it too (it has passed).
        assert_eq!(
            next_due(&s, UTC, at(10, 0, 0), at(10, 0, 4)).unwrap(),
            (at(10, 0, 6), 2)
        );
        let hourly = Schedule::Interval(Duration::from_secs(3600));
        assert_eq!(
            next_due(&hourly, UTC, at(1, 0, 0), at(3, 30, 0)).unwrap(),
            (at(4, 0, 0), 2)
        );
    }

    #[test]
    fn a_run_at_start_counts_the_times_it_covered() {
        let daily = Schedule::parse(Some("0 3 * * *"), None).unwrap();
        // BACKUP_ON_START at 02:59:30, the backup ends at 03:00:30: 03:00 was skipped.
        let (next, skipped) = next_due(&daily, UTC, at(2, 59, 30), at(3, 0, 30)).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(next, Utc.with_ymd_and_hms(2025, 6, 5, 3, 0, 0).unwrap());
    }

    #[test]
    fn skipped_counting_is_bounded() {
        let s = Schedule::Interval(Duration::from_secs(1));
        let two_days_later = at(0, 0, 0) + TimeDelta::days(2);
        let (next, skipped) = next_due(&s, UTC, at(0, 0, 0), two_days_later).unwrap();
        assert_eq!(skipped, 100_000);
        assert_eq!(next, two_days_later + TimeDelta::seconds(1));
    }
}
