//! Is the service healthy? The rule behind the `healthcheck` command (the image's `HEALTHCHECK`), `/healthz`
//! and the `db_backup_healthy` metric, as a pure function of the state, the schedule and the time.
//!
//! Unhealthy when the last run failed (after its retries), when the last restore drill failed (until one
//! passes), or when backups are overdue: no success for about
//! two schedule periods (one missed run is tolerated, two are not), plus the time a backup takes and a minute
//! of slack. The clock starts at the later of the last success and the service's start, so a fresh (or
//! restarted) service is healthy until its first run is due and has had time to finish.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::state::{RunStatus, State};
use crate::config::Config;
use crate::error::EXIT_FAILED;
use crate::scheduler::Schedule;
use crate::storage::ScratchDir;

/// Slack on top of two periods and the last backup's duration, so that a run that starts a little late
/// does not flap the health check.
const SLACK: Duration = Duration::from_secs(60);

/// The verdict, with a one-line reason for `docker inspect` and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub healthy: bool,
    pub reason: String,
}

impl Verdict {
    fn healthy(reason: String) -> Verdict {
        Verdict {
            healthy: true,
            reason,
        }
    }

    fn unhealthy(reason: String) -> Verdict {
        Verdict {
            healthy: false,
            reason,
        }
    }

    /// `healthy: ...` or `unhealthy: ...`.
    pub fn line(&self) -> String {
        let word = if self.healthy { "healthy" } else { "unhealthy" };
        format!("{word}: {}", self.reason)
    }
}

/// Judges `state` at `now`.
pub fn evaluate(state: &State, schedule: &Schedule, tz: Tz, now: DateTime<Utc>) -> Verdict {
    let Some(started) = state.service_started_at else {
        return Verdict::unhealthy("backup-service has not started (its state is empty)".into());
    };
    if let Some(stopped) = state.stopped_at {
        return Verdict::unhealthy(format!(
            "backup-service stopped {} ago (at {})",
            human(now - stopped),
            local(stopped, tz)
        ));
    }
    if let Some(run) = &state.last_run
        && run.status == RunStatus::Failure
    {
        let attempts = match run.attempts {
            1 => String::new(),
            n => format!(" after {n} attempts"),
        };
        return Verdict::unhealthy(format!(
            "the last backup failed {} ago (at {}){attempts}: {}",
            human(now - run.finished_at),
            local(run.finished_at, tz),
            run.error.as_deref().unwrap_or("no reason recorded")
        ));
    }

    if let Some(drill) = &state.last_drill
        && !drill.passed
    {
        return Verdict::unhealthy(format!(
            "the last restore drill failed {} ago (at {}, of {}): {}",
            human(now - drill.at),
            local(drill.at, tz),
            drill.file,
            drill.summary
        ));
    }
    let last_success = state.last_success.as_ref();
    let since = last_success.map_or(started, |r| r.finished_at.max(started));
    let period = schedule.period(now, tz);
    let run_time = last_success.map(|r| r.duration()).unwrap_or_default();
    let allowed = period
        .saturating_mul(2)
        .saturating_add(run_time)
        .saturating_add(SLACK);
    let quiet = (now - since).to_std().unwrap_or_default();
    let next = state
        .next_run_at
        .map(|n| format!("; next backup at {}", local(n, tz)))
        .unwrap_or_default();
    if quiet > allowed {
        let what = match last_success {
            Some(r) => format!(
                "the last successful backup finished {} ago (at {})",
                human(now - r.finished_at),
                local(r.finished_at, tz)
            ),
            None => format!(
                "no backup has succeeded since the service started {} ago",
                human(now - started)
            ),
        };
        let running = state
            .running_since
            .map(|r| {
                format!(
                    "; a backup has been running for {}",
                    human(now - r.max(started))
                )
            })
            .unwrap_or_default();
        return Verdict::unhealthy(format!(
            "backups are overdue: {what}, and the schedule ({}) expects one about every {}{running}",
            schedule.describe_in(tz),
            human_std(period)
        ));
    }
    Verdict::healthy(match last_success {
        Some(r) => format!(
            "the last backup succeeded {} ago (at {}, {} file(s), {} bytes){next}",
            human(now - r.finished_at),
            local(r.finished_at, tz),
            r.backups.len(),
            r.size()
        ),
        None => format!(
            "no backup yet (the service started {} ago){next}",
            human(now - started)
        ),
    })
}

/// The `healthcheck` command over the configurations the engine could still be (see
/// `Config::without_probe`): the one whose service has written its state, else the first.
pub fn command_any(configs: &[Config]) -> u8 {
    let chosen = configs
        .iter()
        .find(|c| ScratchDir::of(c).state_file(c).exists())
        .or(configs.first());
    match chosen {
        Some(cfg) => command(cfg),
        None => {
            println!("unhealthy: no configuration");
            EXIT_FAILED
        }
    }
}

/// The `healthcheck` command: prints one line and returns the exit code (0 healthy, 1 not).
pub fn command(cfg: &Config) -> u8 {
    let path = ScratchDir::of(cfg).state_file(cfg);
    let verdict = match super::state::load(&path) {
        Ok(Some(state)) => evaluate(&state, &cfg.service.schedule, cfg.naming.tz, Utc::now()),
        Ok(None) => Verdict::unhealthy(format!(
            "{} does not exist: backup-service is not running with this BACKUP_DIR and DB_CONTAINER (or has \
             not started yet, or is still waiting for its database to answer: see its log)",
            path.display()
        )),
        Err(e) => Verdict::unhealthy(e.to_string()),
    };
    println!("{}", verdict.line());
    if verdict.healthy { 0 } else { EXIT_FAILED }
}

/// A time in the schedule's zone, for messages.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// A span of time for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn human(d: chrono::TimeDelta) -> String {
    human_std(d.to_std().unwrap_or_default())
}

fn human_std(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::super::state::{BackupFile, RunRecord};
    use super::*;
    use chrono::{TimeDelta, TimeZone};
    use chrono_tz::UTC;

    fn t(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, d, h, m, 0).unwrap()
    }

    fn daily() -> Schedule {
        Schedule::parse(Some("0 3 * * *"), None).unwrap()
    }

    fn run(status: RunStatus, start: DateTime<Utc>, minutes: i64) -> RunRecord {
        RunRecord {
            status,
            started_at: start,
            finished_at: start + TimeDelta::minutes(minutes),
            attempts: 3,
            backups: vec![BackupFile {
                series: "pg".into(),
                file: "f".into(),
                size: 10,
            }],
            error: (status == RunStatus::Failure)
                .then(|| "127.0.0.1:5432: connection refused".into()),
        }
    }

    fn started(at: DateTime<Utc>) -> State {
        State::starting(None, at, "cron 0 3 * * * (UTC)".into())
    }

    #[test]
    fn a_fresh_service_is_healthy_until_its_first_run_is_due() {
        let s = started(t(4, 12, 0));
        let v = evaluate(&s, &daily(), UTC, t(4, 12, 5));
        assert!(v.healthy, "{v:?}");
        assert!(v.reason.contains("no backup yet"), "{v:?}");
        // Two periods (and slack) later without any run: overdue.
        let v = evaluate(&s, &daily(), UTC, t(6, 12, 2));
        assert!(!v.healthy, "{v:?}");
        assert!(
            v.reason.contains("overdue") && v.reason.contains("no backup has succeeded"),
            "{v:?}"
        );
    }

    #[test]
    fn one_missed_run_is_tolerated_two_are_not() {
        let mut s = started(t(1, 0, 0));
        s.record(run(RunStatus::Success, t(4, 3, 0), 10), 0);
        // The 5 June run was missed: 47 h after the success, still healthy.
        assert!(evaluate(&s, &daily(), UTC, t(6, 2, 10)).healthy);
        // 48 h + the 10 min the backup takes + 1 min slack: overdue.
        assert!(evaluate(&s, &daily(), UTC, t(6, 3, 20)).healthy);
        let v = evaluate(&s, &daily(), UTC, t(6, 3, 22));
        assert!(!v.healthy, "{v:?}");
        assert!(v.reason.contains("2025-06-04 03:10:00 UTC"), "{v:?}");
        assert!(v.reason.contains("cron 0 3 * * * (UTC)"), "{v:?}");
    }

    #[test]
    fn the_last_failure_makes_it_unhealthy_until_a_success() {
        let mut s = started(t(1, 0, 0));
        s.record(run(RunStatus::Success, t(4, 3, 0), 1), 0);
        s.record(run(RunStatus::Failure, t(5, 3, 0), 2), 2);
        let v = evaluate(&s, &daily(), UTC, t(5, 3, 5));
        assert!(!v.healthy);
        assert_eq!(
            v.line(),
            "unhealthy: the last backup failed 3 min ago (at 2025-06-05 03:02:00 UTC) after 3 attempts: \
             127.0.0.1:5432: connection refused"
        );
        s.record(run(RunStatus::Success, t(6, 3, 0), 1), 0);
        assert!(evaluate(&s, &daily(), UTC, t(6, 3, 5)).healthy);
    }

    #[test]
    fn a_failed_drill_makes_it_unhealthy_until_one_passes_even_after_a_restart() {
        use super::super::state::DrillRun;
        let mut s = started(t(1, 0, 0));
        s.record(run(RunStatus::Success, t(4, 3, 0), 1), 0);
        let drill = |passed, at| DrillRun {
            at,
            file: "pg-x.sql.gz".into(),
            passed,
            summary: "table public.t holds 0 rows after the restore, the dump held 2".into(),
        };
        s.record_drill(drill(false, t(4, 3, 2)));
        let v = evaluate(&s, &daily(), UTC, t(4, 3, 5));
        assert!(!v.healthy);
        assert!(
            v.reason.contains("restore drill failed") && v.reason.contains("public.t"),
            "{v:?}"
        );
        let s2 = State::starting(Some(s.clone()), t(4, 4, 0), "x".into());
        assert!(!evaluate(&s2, &daily(), UTC, t(4, 4, 1)).healthy);
        s.record_drill(drill(true, t(5, 3, 2)));
        assert!(evaluate(&s, &daily(), UTC, t(5, 3, 5)).healthy);
        assert_eq!(s.last_drill_success_at, Some(t(5, 3, 2)));
    }

    #[test]
    fn a_cancelled_run_is_not_a_failure() {
        let mut s = started(t(1, 0, 0));
        s.record(run(RunStatus::Success, t(4, 3, 0), 1), 0);
        s.record(run(RunStatus::Cancelled, t(5, 3, 0), 1), 0);
        assert!(evaluate(&s, &daily(), UTC, t(5, 4, 0)).healthy);
    }

    #[test]
    fn a_restart_gives_a_new_first_period_but_forgets_no_success() {
        let mut old = started(t(1, 0, 0));
        old.record(run(RunStatus::Success, t(1, 3, 0), 1), 0);
        old.record(run(RunStatus::Failure, t(2, 3, 0), 1), 0);
        // Restarted days later (e.g. after fixing the password): the old failure belonged to the old
        // process, and the clock starts again from the restart.
        let s = State::starting(Some(old), t(5, 12, 0), "x".into());
        let v = evaluate(&s, &daily(), UTC, t(5, 12, 1));
        assert!(v.healthy, "{v:?}");
        assert!(v.reason.contains("2025-06-01 03:01:00 UTC"), "{v:?}");
        assert!(!evaluate(&s, &daily(), UTC, t(7, 12, 30)).healthy);
    }

    #[test]
    fn a_stopped_service_is_unhealthy() {
        let mut s = started(t(1, 0, 0));
        s.stopped_at = Some(t(1, 1, 0));
        let v = evaluate(&s, &daily(), UTC, t(1, 1, 1));
        assert!(!v.healthy && v.reason.contains("stopped"), "{v:?}");
        assert!(!evaluate(&State::default(), &daily(), UTC, t(1, 1, 1)).healthy);
    }

    #[test]
    fn a_seconds_schedule_uses_its_own_period() {
        let every2 = Schedule::parse(Some("*/2 * * * * *"), None).unwrap();
        let start = t(4, 12, 0);
        let mut s = started(start);
        let mut ok = run(RunStatus::Success, start, 0);
        ok.finished_at = start + TimeDelta::seconds(1);
        s.record(ok, 0);
        assert!(evaluate(&s, &every2, UTC, start + TimeDelta::seconds(60)).healthy);
        assert!(!evaluate(&s, &every2, UTC, start + TimeDelta::seconds(70)).healthy);
    }

    #[test]
    fn spans_read_like_a_person_wrote_them() {
        assert_eq!(human(TimeDelta::seconds(5)), "5 s");
        assert_eq!(human(TimeDelta::seconds(-5)), "0 s");
        assert_eq!(human(TimeDelta::minutes(12)), "12 min");
        assert_eq!(human(TimeDelta::minutes(185)), "3 h 5 min");
        assert_eq!(human(TimeDelta::hours(52)), "2 d 4 h");
        assert_eq!(
            local(t(4, 3, 0), chrono_tz::Europe::Berlin),
            "2025-06-04 05:00:00 CEST"
        );
    }
}
