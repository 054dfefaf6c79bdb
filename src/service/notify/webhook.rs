//! healthchecks.io-style pings (`<url>/start`, `<url>`, `<url>/fail`) and the JSON webhook
//! (`NOTIFY_WEBHOOK_URL`): machine-readable news of a run.

use serde_json::json;

use super::super::state::{RunRecord, RunStatus};
use super::http::Request;
use crate::config::{Config, Databases, redact_url};

/// The most of an error message a failure ping carries.
const PING_BODY_MAX: usize = 10_000;

/// A ping request: `suffix` after the URL's path, before its query.
pub fn ping(url: &str, suffix: &str, error: Option<&str>) -> Request {
    let what = match suffix {
        "/start" => "start",
        "/fail" => "failure",
        _ => "success",
    };
    let mut request = Request::new(
        if error.is_some() { "POST" } else { "GET" },
        ping_url(url, suffix),
        format!("{what} ping {}", redact_url(url)),
    );
    request.content_type = error.map(|_| "text/plain; charset=utf-8".to_string());
    request.body = error.map(|e| e.chars().take(PING_BODY_MAX).collect());
    request
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
pub fn configured_series(cfg: &Config) -> String {
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
    let series = run.series_or(configured_series);
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

/// The host name (the container id in Docker), so that a notification says which sidecar sent it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".to_string())
}

#[cfg(test)]
mod tests {
    use super::super::message::tests::record_with;
    use super::*;

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
        record_with(status, "pg", 4096, "pg: password authentication failed")
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
