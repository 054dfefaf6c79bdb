//! What `backup-service` remembers about its runs, kept in a small JSON file in `BACKUP_DIR` so that the
//! `healthcheck` command (a separate process, started by `docker exec`) can judge the service.
//!
//! The file is `.db-backup-state-<prefix><series>.json`, named by [`crate::storage::ScratchDir::state_file`]: a
//! dotfile starting with `.db-backup`, so `list`, `prune` and the sweep of leftovers never take it for a backup,
//! and one per instance, so that instances sharing a directory (each with its own `DB_CONTAINER` or prefix) do
//! not overwrite each other's state. It is written atomically ([`crate::storage::atomic`]): a reader sees the old
//! or the new state, never half of one.

use std::fs;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::storage::atomic::{self, Temp};

/// The version of the file's layout; a reader ignores fields it does not know and defaults missing ones.
const FORMAT_VERSION: u32 = 1;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every configured database was backed up.
    Success,
    /// The run failed, after its retries.
    Failure,
    /// A stop signal ended the run before it finished; not a failure of the backup.
    Cancelled,
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Success => "success",
            RunStatus::Failure => "failure",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

/// One backup a successful run committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupFile {
    pub series: String,
    pub file: String,
    /// Bytes stored (after compression).
    pub size: u64,
}

/// One scheduled run, retries included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Attempts made (1 when the first one succeeded).
    pub attempts: u32,
    /// The backups committed (empty unless the run succeeded).
    #[serde(default)]
    pub backups: Vec<BackupFile>,
    /// What went wrong (for a failure or a cancelled run).
    #[serde(default)]
    pub error: Option<String>,
}

impl RunRecord {
    /// The series the run backed up, comma-separated; `configured` when it failed before it found any.
    pub fn series_or(&self, configured: &str) -> String {
        if self.backups.is_empty() {
            return configured.to_string();
        }
        self.backups
            .iter()
            .map(|b| b.series.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn duration(&self) -> Duration {
        (self.finished_at - self.started_at)
            .to_std()
            .unwrap_or_default()
    }

    /// Bytes stored by the run, all backups together.
    pub fn size(&self) -> u64 {
        self.backups.iter().map(|b| b.size).sum()
    }
}

/// One restore drill of a new backup (`BACKUP_TEST_RESTORE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRun {
    pub at: DateTime<Utc>,
    /// The backup drilled.
    pub file: String,
    pub passed: bool,
    /// What was checked, or what was wrong.
    pub summary: String,
}

/// Counts of runs by result, since the service started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCounts {
    pub success: u64,
    pub failure: u64,
    pub cancelled: u64,
    /// Scheduled times that passed while a backup was still running.
    pub skipped: u64,
    /// Attempts that failed and were retried.
    pub retries: u64,
}

/// The state of one `backup-service` instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub version: u32,
    /// When this service process started; `None` only in a state that was never written by a service.
    pub service_started_at: Option<DateTime<Utc>>,
    pub pid: Option<u32>,
    /// The schedule as the log shows it, e.g. `cron 0 3 * * * (UTC)`.
    pub schedule: String,
    /// The next scheduled run; `None` once the service has stopped.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Set while a run is in progress.
    pub running_since: Option<DateTime<Utc>>,
    /// The last finished run of this service process.
    pub last_run: Option<RunRecord>,
    /// The last successful run, kept across restarts.
    pub last_success: Option<RunRecord>,
    /// When a run last failed, kept across restarts.
    pub last_failure_at: Option<DateTime<Utc>>,
    pub runs: RunCounts,
    /// Set when the service stopped on a signal.
    pub stopped_at: Option<DateTime<Utc>>,
    /// The last restore drill, kept across restarts: a failed one keeps the service unhealthy until one passes.
    pub last_drill: Option<DrillRun>,
    /// When a restore drill last passed, kept across restarts.
    pub last_drill_success_at: Option<DateTime<Utc>>,
}

impl State {
    /// The state of a service starting now: what earlier runs taught (the last success and failure) is kept,
    /// what described the old process (its last run, its counts, its next run) is not.
    pub fn starting(previous: Option<State>, now: DateTime<Utc>, schedule: String) -> State {
        let previous = previous.unwrap_or_default();
        State {
            version: FORMAT_VERSION,
            service_started_at: Some(now),
            pid: Some(std::process::id()),
            schedule,
            next_run_at: None,
            running_since: None,
            last_run: None,
            last_success: previous.last_success,
            last_failure_at: previous.last_failure_at,
            runs: RunCounts::default(),
            stopped_at: None,
            last_drill: previous.last_drill,
            last_drill_success_at: previous.last_drill_success_at,
        }
    }

    /// Records a finished restore drill.
    pub fn record_drill(&mut self, drill: DrillRun) {
        if drill.passed {
            self.last_drill_success_at = Some(drill.at);
        }
        self.last_drill = Some(drill);
    }

    /// Records a finished run.
    pub fn record(&mut self, run: RunRecord, retries: u32) {
        self.running_since = None;
        self.runs.retries += u64::from(retries);
        match run.status {
            RunStatus::Success => {
                self.runs.success += 1;
                self.last_success = Some(run.clone());
            }
            RunStatus::Failure => {
                self.runs.failure += 1;
                self.last_failure_at = Some(run.finished_at);
            }
            RunStatus::Cancelled => self.runs.cancelled += 1,
        }
        self.last_run = Some(run);
    }
}

/// Reads a state file; `Ok(None)` when there is none.
pub fn load(path: &Path) -> Result<Option<State>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::file(path, format!("is not a valid state file: {e}")))
}

/// Writes the state atomically, mode 0600. The temporary file is `<name>.tmp`, which also starts with
/// `.db-backup`, so that nothing takes it for a backup.
pub fn save(path: &Path, state: &State) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(state)
        .map_err(|e| Error::Other(format!("cannot encode the service state: {e}")))?;
    json.push(b'\n');
    atomic::write(path, Temp::Reused, &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 4, h, m, s).unwrap()
    }

    fn run(status: RunStatus, start: DateTime<Utc>, secs: i64) -> RunRecord {
        RunRecord {
            status,
            started_at: start,
            finished_at: start + chrono::TimeDelta::seconds(secs),
            attempts: 1,
            backups: if status == RunStatus::Success {
                vec![BackupFile {
                    series: "pg".into(),
                    file: "pg-2025-06-04T03-00-00.sql.gz".into(),
                    size: 1234,
                }]
            } else {
                vec![]
            },
            error: (status != RunStatus::Success).then(|| "server down".to_string()),
        }
    }

    #[test]
    fn recording_runs_counts_and_remembers() {
        let mut s = State::starting(None, at(1, 0, 0), "every 60 s".into());
        assert_eq!(s.service_started_at, Some(at(1, 0, 0)));
        s.running_since = Some(at(3, 0, 0));
        s.record(run(RunStatus::Success, at(3, 0, 0), 12), 0);
        assert_eq!(s.running_since, None);
        s.record(run(RunStatus::Failure, at(4, 0, 0), 3), 2);
        assert_eq!(s.runs.success, 1);
        assert_eq!(s.runs.failure, 1);
        assert_eq!(s.runs.retries, 2);
        assert_eq!(
            s.last_run.as_ref().map(|r| r.status),
            Some(RunStatus::Failure)
        );
        assert_eq!(
            s.last_success.as_ref().map(|r| r.started_at),
            Some(at(3, 0, 0))
        );
        assert_eq!(s.last_success.as_ref().map(RunRecord::size), Some(1234));
        assert_eq!(
            s.last_success.as_ref().map(RunRecord::duration),
            Some(Duration::from_secs(12))
        );
        assert_eq!(s.last_failure_at, Some(at(4, 0, 3)));

        // A restart keeps what was learnt about backups, not what described the old process.
        let restarted = State::starting(Some(s.clone()), at(5, 0, 0), "every 60 s".into());
        assert_eq!(restarted.last_success, s.last_success);
        assert_eq!(restarted.last_failure_at, s.last_failure_at);
        assert_eq!(restarted.last_run, None);
        assert_eq!(restarted.runs, RunCounts::default());
        assert_eq!(restarted.service_started_at, Some(at(5, 0, 0)));
    }

    #[test]
    fn saved_state_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".db-backup-state-pg.json");
        assert_eq!(load(&path).unwrap(), None);
        let mut s = State::starting(None, at(1, 0, 0), "cron 0 3 * * * (UTC)".into());
        s.record(run(RunStatus::Success, at(3, 0, 0), 5), 0);
        save(&path, &s).unwrap();
        save(&path, &s).unwrap();
        assert_eq!(load(&path).unwrap(), Some(s));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(
            names,
            [".db-backup-state-pg.json"],
            "no temporary file left"
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_missing_ones_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(
            &path,
            r#"{"version": 7, "from_the_future": true, "pid": 9}"#,
        )
        .unwrap();
        let s = load(&path).unwrap().unwrap();
        assert_eq!(s.pid, Some(9));
        assert_eq!(s.last_run, None);
        fs::write(&path, "{ not json").unwrap();
        assert!(
            load(&path)
                .unwrap_err()
                .to_string()
                .contains("not a valid state file")
        );
    }
}
