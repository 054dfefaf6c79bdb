//! Telling the outside world about runs: healthchecks.io-style pings (`<url>/start`, `<url>`, `<url>/fail`)
//! and a JSON webhook after a run.
//!
//! Requests go out from one worker thread, in order (a `/start` never arrives after its success ping), with
//! short timeouts and one retry. The service only queues a message: a slow or dead endpoint never delays or
//! fails a backup, and a full queue drops the message with a warning. URLs appear in logs only as scheme and
//! host (their paths hold tokens), and payloads carry no secrets: no URL, no password, no configuration.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;

use super::state::{DrillRun, RunRecord, RunStatus};
use crate::config::{Config, Databases, NotifyOn, Secret, redact_url};

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The wait before the one retry of a failed request.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// Messages waiting to be sent; more are dropped (an endpoint that slow is down anyway).
const QUEUE: usize = 32;
/// The most of an error message a failure ping carries.
const PING_BODY_MAX: usize = 10_000;

/// One request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    /// For logs: the URL without its token, and what the request is for.
    pub label: String,
    pub content_type: Option<&'static str>,
    pub body: Option<String>,
}

/// Queues pings and webhooks for the worker thread.
pub struct Notifier {
    ping_url: Option<Secret>,
    webhook_url: Option<Secret>,
    notify_on: NotifyOn,
    /// What the webhook says about the configuration: engine and series (no secrets).
    engine: String,
    series: String,
    tx: Option<SyncSender<Request>>,
    done: Option<Receiver<()>>,
    worker: Option<JoinHandle<()>>,
}

impl Notifier {
    /// Starts the worker when pings or a webhook are configured.
    pub fn start(cfg: &Config) -> Notifier {
        let settings = &cfg.service;
        let mut notifier = Notifier {
            ping_url: settings.ping_url.clone(),
            webhook_url: settings.webhook_url.clone(),
            notify_on: settings.notify_on,
            engine: cfg.conn.kind.name().to_string(),
            series: configured_series(cfg),
            tx: None,
            done: None,
            worker: None,
        };
        if notifier.ping_url.is_none() && notifier.webhook_url.is_none() {
            return notifier;
        }
        let (tx, rx) = mpsc::sync_channel::<Request>(QUEUE);
        let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);
        let worker = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                let agent = agent();
                for request in rx {
                    send_with_retry(&agent, &request);
                }
                let _ = done_tx.send(());
            });
        match worker {
            Ok(handle) => {
                notifier.tx = Some(tx);
                notifier.done = Some(done_rx);
                notifier.worker = Some(handle);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the notification thread; pings and webhooks are off")
            }
        }
        notifier
    }

    /// A run is starting: `<ping url>/start`.
    pub fn run_started(&self) {
        if let Some(url) = &self.ping_url {
            self.queue(ping(url.expose(), "/start", None));
        }
    }

    /// A run finished: the success or failure ping, and the webhook when `NOTIFY_ON` asks for it. A cancelled
    /// run (the service is stopping) sends nothing: it is neither, and a dead-man switch will notice.
    pub fn run_finished(&self, run: &RunRecord) {
        if let Some(url) = &self.ping_url {
            match run.status {
                RunStatus::Success => self.queue(ping(url.expose(), "", None)),
                RunStatus::Failure => self.queue(ping(url.expose(), "/fail", run.error.as_deref())),
                RunStatus::Cancelled => {}
            }
        }
        if let Some(url) = &self.webhook_url {
            let wanted = match run.status {
                RunStatus::Failure => true,
                RunStatus::Success => self.notify_on == NotifyOn::Always,
                RunStatus::Cancelled => false,
            };
            if wanted {
                let body = webhook_payload(run, &self.engine, &self.series, &hostname());
                self.queue(Request {
                    method: "POST",
                    url: url.expose().to_string(),
                    label: format!("webhook {}", redact_url(url.expose())),
                    content_type: Some("application/json"),
                    body: Some(body.to_string()),
                });
            }
        }
    }

    /// A restore drill of a new backup failed: told like a failed backup (the failure ping, and the webhook
    /// with `"event": "drill"`).
    pub fn drill_failed(&self, drill: &DrillRun) {
        let message = format!(
            "the restore drill of {} failed: {}",
            drill.file, drill.summary
        );
        if let Some(url) = &self.ping_url {
            self.queue(ping(url.expose(), "/fail", Some(&message)));
        }
        if let Some(url) = &self.webhook_url {
            let host = hostname();
            let text = format!("db-backup on {host}: {message}");
            let body = json!({
                "status": "failure",
                "event": "drill",
                "host": host,
                "engine": self.engine,
                "series": self.series,
                "file": drill.file,
                "finished_at": drill.at,
                "error": drill.summary,
                "text": text,
                "content": text,
            });
            self.queue(Request {
                method: "POST",
                url: url.expose().to_string(),
                label: format!("webhook {}", redact_url(url.expose())),
                content_type: Some("application/json"),
                body: Some(body.to_string()),
            });
        }
    }

    fn queue(&self, request: Request) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(r)) => {
                tracing::warn!(to = %r.label, "notification dropped: too many are waiting to be sent")
            }
            Err(TrySendError::Disconnected(r)) => {
                tracing::warn!(to = %r.label, "notification dropped: the notification thread has stopped")
            }
        }
    }

    /// Lets queued notifications go out for at most `timeout`, then gives up on them.
    pub fn close(mut self, timeout: Duration) {
        drop(self.tx.take());
        let Some(done) = self.done.take() else { return };
        match done.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(worker) = self.worker.take() {
                    let _ = worker.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!("notifications still pending at exit were not sent");
            }
        }
    }
}

/// A ping request: `suffix` after the URL's path, before its query.
fn ping(url: &str, suffix: &str, error: Option<&str>) -> Request {
    let what = match suffix {
        "/start" => "start",
        "/fail" => "failure",
        _ => "success",
    };
    Request {
        method: if error.is_some() { "POST" } else { "GET" },
        url: ping_url(url, suffix),
        label: format!("{what} ping {}", redact_url(url)),
        content_type: error.map(|_| "text/plain; charset=utf-8"),
        body: error.map(|e| e.chars().take(PING_BODY_MAX).collect()),
    }
}

/// `https://hc-ping.com/<uuid>?rid=1` + `/start` = `https://hc-ping.com/<uuid>/start?rid=1`.
pub fn ping_url(url: &str, suffix: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = format!("{}{suffix}", base.trim_end_matches('/'));
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// The series this configuration backs up, for the webhook when a run failed before it found its targets.
fn configured_series(cfg: &Config) -> String {
    match &cfg.naming.databases {
        Databases::List(names) => names
            .iter()
            .map(|n| cfg.series_for(n))
            .collect::<Vec<_>>()
            .join(","),
        Databases::All => format!("{}-*", cfg.naming.container),
        _ => cfg.naming.container.clone(),
    }
}

/// The webhook's JSON. `text` makes it readable as is by Slack, Mattermost, Rocket.Chat and Google Chat
/// incoming webhooks; `content` does the same for Discord.
pub fn webhook_payload(
    run: &RunRecord,
    engine: &str,
    configured_series: &str,
    host: &str,
) -> serde_json::Value {
    let series = if run.backups.is_empty() {
        configured_series.to_string()
    } else {
        run.backups
            .iter()
            .map(|b| b.series.as_str())
            .collect::<Vec<_>>()
            .join(",")
    };
    let duration = run.duration().as_secs_f64();
    let text = match run.status {
        RunStatus::Success => format!(
            "db-backup on {host}: backup of {series} succeeded in {duration:.1} s ({} bytes)",
            run.size()
        ),
        RunStatus::Failure => format!(
            "db-backup on {host}: backup of {series} FAILED after {} attempt(s): {}",
            run.attempts,
            run.error.as_deref().unwrap_or("unknown error")
        ),
        RunStatus::Cancelled => format!("db-backup on {host}: backup of {series} was cancelled"),
    };
    json!({
        "status": run.status.name(),
        "event": "backup",
        "host": host,
        "engine": engine,
        "series": series,
        "file": run.backups.first().map(|b| b.file.clone()),
        "size": (!run.backups.is_empty()).then(|| run.size()),
        "files": run.backups,
        "duration_seconds": (duration * 1000.0).round() / 1000.0,
        "attempts": run.attempts,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "text": text,
        "content": text,
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .http_status_as_error(true)
        .user_agent(concat!("db-backup/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

fn send_with_retry(agent: &ureq::Agent, request: &Request) {
    let started = Instant::now();
    let first = send(agent, request);
    let result = match first {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::debug!(to = %request.label, error = %e, "notification failed; retrying once");
            std::thread::sleep(RETRY_DELAY);
            send(agent, request)
        }
    };
    match result {
        Ok(()) => {
            tracing::debug!(to = %request.label, ms = started.elapsed().as_millis() as u64, "notification sent")
        }
        Err(e) => {
            tracing::warn!(to = %request.label, error = %e, "notification failed (the backup is not affected)")
        }
    }
}

/// Makes one request. The error never holds the URL: ureq's messages can quote it, so it is cut out.
fn send(agent: &ureq::Agent, request: &Request) -> Result<(), String> {
    let result = match (request.method, &request.body) {
        ("POST", Some(body)) => agent
            .post(&request.url)
            .header(
                "Content-Type",
                request.content_type.unwrap_or("application/octet-stream"),
            )
            .send(body.as_str()),
        ("POST", None) => agent.post(&request.url).send_empty(),
        _ => agent.get(&request.url).call(),
    };
    result.map(drop).map_err(|e| {
        e.to_string()
            .replace(&request.url, &redact_url(&request.url))
    })
}

/// The host name (the container id in Docker), so that a notification says which sidecar sent it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::state::BackupFile;
    use super::*;
    use chrono::{TimeDelta, TimeZone, Utc};

    #[test]
    fn ping_urls_put_the_suffix_before_the_query() {
        assert_eq!(
            ping_url("https://hc-ping.com/abc", "/start"),
            "https://hc-ping.com/abc/start"
        );
        assert_eq!(
            ping_url("https://hc-ping.com/abc/", ""),
            "https://hc-ping.com/abc"
        );
        assert_eq!(
            ping_url("https://hc-ping.com/abc?create=1", "/fail"),
            "https://hc-ping.com/abc/fail?create=1"
        );
        let p = ping("https://hc-ping.com/abc", "/fail", Some("boom"));
        assert_eq!((p.method, p.body.as_deref()), ("POST", Some("boom")));
        assert_eq!(p.label, "failure ping https://hc-ping.com/[redacted]");
        assert_eq!(ping("https://h/x", "/start", None).method, "GET");
    }

    fn record(status: RunStatus) -> RunRecord {
        let start = Utc.with_ymd_and_hms(2025, 6, 4, 3, 0, 0).unwrap();
        RunRecord {
            status,
            started_at: start,
            finished_at: start + TimeDelta::milliseconds(2500),
            attempts: if status == RunStatus::Success { 1 } else { 3 },
            backups: if status == RunStatus::Success {
                vec![BackupFile {
                    series: "pg".into(),
                    file: "pg-2025-06-04T03-00-00.sql.gz".into(),
                    size: 4096,
                }]
            } else {
                vec![]
            },
            error: (status == RunStatus::Failure)
                .then(|| "pg: password authentication failed".into()),
        }
    }

    #[test]
    fn failure_payload_has_status_series_and_error() {
        let v = webhook_payload(&record(RunStatus::Failure), "postgres", "pg", "box");
        assert_eq!(v["status"], "failure");
        assert_eq!(v["series"], "pg");
        assert_eq!(v["file"], serde_json::Value::Null);
        assert_eq!(v["size"], serde_json::Value::Null);
        assert_eq!(v["attempts"], 3);
        assert_eq!(v["duration_seconds"], 2.5);
        assert_eq!(v["error"], "pg: password authentication failed");
        assert_eq!(v["started_at"], "2025-06-04T03:00:00Z");
        let text = v["text"].as_str().unwrap();
        assert!(text.contains("FAILED") && text.contains("box"), "{text}");
    }

    #[test]
    fn success_payload_names_the_file_and_size() {
        let v = webhook_payload(&record(RunStatus::Success), "postgres", "ignored", "box");
        assert_eq!(v["status"], "success");
        assert_eq!(v["series"], "pg");
        assert_eq!(v["file"], "pg-2025-06-04T03-00-00.sql.gz");
        assert_eq!(v["size"], 4096);
        assert_eq!(v["files"][0]["size"], 4096);
        assert_eq!(v["error"], serde_json::Value::Null);
    }
}
