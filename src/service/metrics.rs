//! `METRICS_PORT`: `/metrics` in the Prometheus text format and `/healthz` (200 or 503 with the reason).
//!
//! The server is a few dozen lines of HTTP/1.1 on tokio's `TcpListener` rather than a framework: it answers
//! two GETs from a scraper and a probe, one request per connection, so a request line is all it needs to
//! read; hyper would add a stack of crates for nothing those two clients use.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::health::{self, Verdict};
use super::state::State;
use crate::config::Config;
use crate::error::{Error, Result};

/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest request head read; a scraper's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// Connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 16;

/// Binds `0.0.0.0:port` (a scraper in another container must reach it). Fails when the port is taken.
pub async fn bind(port: u16) -> Result<TcpListener> {
    TcpListener::bind(("0.0.0.0", port)).await.map_err(|e| {
        Error::Other(format!(
            "METRICS_PORT={port}: cannot listen on port {port}: {e}; choose a free port or unset METRICS_PORT"
        ))
    })
}

/// Serves requests until the task is dropped.
pub async fn serve(listener: TcpListener, state: Arc<Mutex<State>>, cfg: Arc<Config>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (state, cfg) = (state.clone(), cfg.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = respond(stream, &state, &cfg).await {
                tracing::debug!(error = %e, "metrics: request failed");
            }
        });
    }
}

async fn respond(mut stream: TcpStream, state: &Mutex<State>, cfg: &Config) -> std::io::Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "request too slow"))??;
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let (status, content_type, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "only GET and HEAD\n".to_string(),
        )
    } else {
        let now = Utc::now();
        let snapshot = state.lock().map(|s| s.clone()).unwrap_or_default();
        let verdict = health::evaluate(&snapshot, &cfg.service.schedule, cfg.naming.tz, now);
        match path {
            "/metrics" => (
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                render(&snapshot, &verdict),
            ),
            "/healthz" if verdict.healthy => ("200 OK", "text/plain", verdict.line() + "\n"),
            "/healthz" => (
                "503 Service Unavailable",
                "text/plain",
                verdict.line() + "\n",
            ),
            "/" => (
                "200 OK",
                "text/plain",
                "db-backup: /metrics, /healthz\n".to_string(),
            ),
            _ => (
                "404 Not Found",
                "text/plain",
                "not found; try /metrics or /healthz\n".to_string(),
            ),
        }
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Reads until the end of the request head (or the size limit); returns its first line.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while buf.len() < MAX_REQUEST && !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// The metrics in the Prometheus text exposition format.
pub fn render(state: &State, verdict: &Verdict) -> String {
    let mut out = String::new();
    let ts = |t: DateTime<Utc>| t.timestamp_millis() as f64 / 1000.0;
    let mut gauge = |name: &str, help: &str, value: Option<f64>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        if let Some(v) = value {
            let _ = writeln!(out, "{name} {v}");
        }
    };
    let success = state.last_success.as_ref();
    gauge(
        "db_backup_last_success_timestamp_seconds",
        "When the last successful backup run finished (Unix time).",
        success.map(|r| ts(r.finished_at)),
    );
    gauge(
        "db_backup_last_failure_timestamp_seconds",
        "When the last failed backup run finished (Unix time).",
        state.last_failure_at.map(ts),
    );
    gauge(
        "db_backup_last_duration_seconds",
        "How long the last successful backup run took, retries included.",
        success.map(|r| r.duration().as_secs_f64()),
    );
    gauge(
        "db_backup_last_size_bytes",
        "Bytes stored by the last successful backup run, all databases together.",
        success.map(|r| r.size() as f64),
    );
    gauge(
        "db_backup_next_run_timestamp_seconds",
        "When the next scheduled backup run starts (Unix time).",
        state.next_run_at.map(ts),
    );
    gauge(
        "db_backup_running",
        "1 while a backup run is in progress.",
        Some(if state.running_since.is_some() {
            1.0
        } else {
            0.0
        }),
    );
    gauge(
        "db_backup_healthy",
        "1 when the service is healthy (the rule of the healthcheck command).",
        Some(if verdict.healthy { 1.0 } else { 0.0 }),
    );
    gauge(
        "db_backup_last_drill_success_timestamp_seconds",
        "When a restore drill (BACKUP_TEST_RESTORE) last passed (Unix time).",
        state.last_drill_success_at.map(ts),
    );
    gauge(
        "db_backup_last_drill_passed",
        "1 when the last restore drill passed, 0 when it failed; absent before the first drill.",
        state
            .last_drill
            .as_ref()
            .map(|d| if d.passed { 1.0 } else { 0.0 }),
    );
    gauge(
        "db_backup_service_start_timestamp_seconds",
        "When this backup-service process started (Unix time).",
        state.service_started_at.map(ts),
    );
    let _ = writeln!(
        out,
        "# HELP db_backup_runs_total Finished backup runs since the service started, by result."
    );
    let _ = writeln!(out, "# TYPE db_backup_runs_total counter");
    for (result, n) in [
        ("success", state.runs.success),
        ("failure", state.runs.failure),
        ("cancelled", state.runs.cancelled),
    ] {
        let _ = writeln!(out, "db_backup_runs_total{{result=\"{result}\"}} {n}");
    }
    for (name, help, n) in [
        (
            "db_backup_retries_total",
            "Failed attempts that were retried.",
            state.runs.retries,
        ),
        (
            "db_backup_skipped_runs_total",
            "Scheduled runs skipped because the previous backup was still running.",
            state.runs.skipped,
        ),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} counter");
        let _ = writeln!(out, "{name} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::state::{BackupFile, RunRecord, RunStatus};
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    #[test]
    fn metrics_show_the_last_success_and_counts() {
        let start = Utc.with_ymd_and_hms(2025, 6, 4, 3, 0, 0).unwrap();
        let mut state = State::starting(None, start, "x".into());
        let mut verdict = Verdict {
            healthy: true,
            reason: String::new(),
        };
        let empty = render(&state, &verdict);
        assert!(empty.contains("# TYPE db_backup_last_success_timestamp_seconds gauge\n# HELP"));
        assert!(!empty.contains("\ndb_backup_last_drill_success_timestamp_seconds "));
        let mut drilled = state.clone();
        drilled.record_drill(super::super::state::DrillRun {
            at: start,
            file: "pg-x.sql.gz".into(),
            passed: true,
            summary: String::new(),
        });
        let text = render(&drilled, &verdict);
        assert!(
            text.contains("\ndb_backup_last_drill_success_timestamp_seconds 1749006000\n"),
            "{text}"
        );
        assert!(text.contains("\ndb_backup_last_drill_passed 1\n"), "{text}");
        assert!(empty.contains("db_backup_runs_total{result=\"success\"} 0\n"));

        state.record(
            RunRecord {
                status: RunStatus::Success,
                started_at: start,
                finished_at: start + TimeDelta::milliseconds(1500),
                attempts: 2,
                backups: vec![BackupFile {
                    series: "pg".into(),
                    file: "f".into(),
                    size: 2048,
                }],
                error: None,
            },
            1,
        );
        state.next_run_at = Some(start + TimeDelta::hours(24));
        verdict.healthy = false;
        let text = render(&state, &verdict);
        for line in [
            "db_backup_last_success_timestamp_seconds 1749006001.5\n",
            "db_backup_last_duration_seconds 1.5\n",
            "db_backup_last_size_bytes 2048\n",
            "db_backup_next_run_timestamp_seconds 1749092400\n",
            "db_backup_runs_total{result=\"success\"} 1\n",
            "db_backup_retries_total 1\n",
            "db_backup_healthy 0\n",
            "db_backup_running 0\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("\ndb_backup_last_failure_timestamp_seconds "));
    }
}
