//! What a notification for people says about a run: a title naming the series, the host and the outcome, and
//! a short body with what failed (the run's error, which names the server, file or variable) and what to do.

use super::super::state::{DrillRun, RunRecord, RunStatus};

/// The most of an error a message quotes: chats cut long messages, and the log has the rest.
const ERROR_MAX: usize = 1500;

/// A run, told for people. Every field is free of secrets: the error texts are made that way.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub status: RunStatus,
    pub title: String,
    pub body: String,
    pub series: String,
    pub host: String,
    pub engine: String,
    pub error: Option<String>,
    /// The first file written, and the total size, on success.
    pub file: Option<String>,
    pub size: Option<u64>,
    pub duration_s: f64,
}

impl Note {
    /// The note for a finished run; `configured_series` stands in when the run failed before it found its
    /// databases.
    pub fn of(run: &RunRecord, engine: &str, configured_series: &str, host: &str) -> Note {
        let series = run.series_or(configured_series);
        let duration_s = run.duration().as_secs_f64();
        let at = run.finished_at.format("%Y-%m-%d %H:%M:%S UTC");
        let error = run.error.as_deref().map(|e| shorten(e.trim(), ERROR_MAX));
        let (title, body) = match run.status {
            RunStatus::Success => {
                let what = match run.backups.as_slice() {
                    [one] => format!("{} ({})", one.file, bytes(one.size)),
                    many => format!("{} files ({})", many.len(), bytes(run.size())),
                };
                (
                    format!("Backup of {series} on {host} succeeded"),
                    format!(
                        "The {engine} backup of {series} finished at {at} in {duration_s:.1} s: {what}."
                    ),
                )
            }
            RunStatus::Failure => (
                format!("Backup of {series} on {host} FAILED"),
                format!(
                    "The {engine} backup of {series} failed at {at} after {} attempt(s):\n{}\n\n\
                     What to do: fix what the error names (the container's log has the details), then run \
                     `backup-db` in the container to check. Until then no new backup is made; the service \
                     keeps its schedule and tries again at the next run.",
                    run.attempts,
                    error.as_deref().unwrap_or("unknown error"),
                ),
            ),
            RunStatus::Cancelled => (
                format!("Backup of {series} on {host} cancelled"),
                format!(
                    "The {engine} backup of {series} was stopped at {at} because the service is stopping."
                ),
            ),
        };
        Note {
            status: run.status,
            title: format!("db-backup: {title}"),
            body,
            series,
            host: host.to_string(),
            engine: engine.to_string(),
            error,
            file: run.backups.first().map(|b| b.file.clone()),
            size: (!run.backups.is_empty()).then(|| run.size()),
            duration_s,
        }
    }

    /// The note for a failed restore drill of the backup `drill.file`: told like a failed backup.
    pub fn of_drill(drill: &DrillRun, engine: &str, series: &str, host: &str) -> Note {
        let at = drill.at.format("%Y-%m-%d %H:%M:%S UTC");
        let error = shorten(drill.summary.trim(), ERROR_MAX);
        Note {
            status: RunStatus::Failure,
            title: format!("db-backup: Restore drill of {series} on {host} FAILED"),
            body: format!(
                "The backup {} was made, but restoring it into a scratch target at {at} did not give back what \
                 the dump held:\n{error}\n\nWhat to do: fix what the error names (a missing role, a scratch \
                 server's settings), then run `test-restore latest` in the container to check. Until a drill \
                 passes, the health check stays unhealthy.",
                drill.file
            ),
            series: series.to_string(),
            host: host.to_string(),
            engine: engine.to_string(),
            error: Some(error),
            file: Some(drill.file.clone()),
            size: None,
            duration_s: 0.0,
        }
    }

    pub fn failed(&self) -> bool {
        self.status == RunStatus::Failure
    }

    /// The title and the body as one text, for services with no title field.
    pub fn text(&self) -> String {
        format!("{}\n\n{}", self.title, self.body)
    }
}

/// `48213 bytes (47.1 KiB)`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{n} bytes, {value:.1} {}", UNITS[unit])
}

/// At most `max` characters, with an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push_str(" …");
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::super::state::BackupFile;
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    pub fn record(status: RunStatus) -> RunRecord {
        record_with(
            status,
            "app",
            48213,
            "PostgreSQL at db:5432: password authentication failed",
        )
    }

    /// A run of the series `series` at a fixed time: one file of `size` bytes on success, `error` on failure.
    pub fn record_with(status: RunStatus, series: &str, size: u64, error: &str) -> RunRecord {
        let start = Utc.with_ymd_and_hms(2025, 6, 4, 3, 0, 0).unwrap();
        RunRecord {
            status,
            started_at: start,
            finished_at: start + TimeDelta::milliseconds(2500),
            attempts: if status == RunStatus::Success { 1 } else { 3 },
            backups: if status == RunStatus::Success {
                vec![BackupFile {
                    series: series.into(),
                    file: format!("{series}-2025-06-04T03-00-00.sql.gz"),
                    size,
                }]
            } else {
                vec![]
            },
            error: (status == RunStatus::Failure).then(|| error.into()),
        }
    }

    #[test]
    fn a_failure_says_what_failed_and_what_to_do() {
        let n = Note::of(&record(RunStatus::Failure), "postgres", "app", "box");
        assert_eq!(n.title, "db-backup: Backup of app on box FAILED");
        assert!(n.body.contains("after 3 attempt(s)"), "{}", n.body);
        assert!(n.body.contains("db:5432: password authentication failed"));
        assert!(n.body.contains("What to do:"), "{}", n.body);
        assert!(n.failed() && n.file.is_none() && n.size.is_none());
    }

    #[test]
    fn a_success_names_the_file_and_size() {
        let n = Note::of(&record(RunStatus::Success), "postgres", "ignored", "box");
        assert_eq!(n.title, "db-backup: Backup of app on box succeeded");
        assert!(
            n.body
                .contains("app-2025-06-04T03-00-00.sql.gz (48213 bytes, 47.1 KiB)"),
            "{}",
            n.body
        );
        assert!(n.body.contains("in 2.5 s"), "{}", n.body);
        assert_eq!(n.size, Some(48213));
    }

    #[test]
    fn long_errors_are_cut() {
        let mut r = record(RunStatus::Failure);
        r.error = Some("x".repeat(5000));
        let n = Note::of(&r, "postgres", "app", "box");
        assert!(n.body.len() < 2000, "{}", n.body.len());
        assert!(n.error.unwrap().ends_with(" …"));
    }
}
