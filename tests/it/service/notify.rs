//! What `backup-service` tells the world: `/metrics` and `/healthz` on `METRICS_PORT`, healthchecks.io-style
//! pings, and the failure webhook, received by a small HTTP server in the test.

use std::time::Duration;

use crate::support::files::backup_dir;
use crate::support::service::{Recorder, free_port, http_get, wait_until};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

/// The value of an unlabelled metric in Prometheus text.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_pings_and_the_failure_webhook() {
    require_tools!(PG_SERVER);
    let mut pg = PgServer::start();
    pg.create_db("app");
    let dir = backup_dir();
    let recorder = Recorder::start();
    let metrics_port = free_port();
    let service = DbBackup::for_server(&pg, "app", dir.path())
        .env("DB_BACKUP_INTERVAL", "1")
        .env("BACKUP_RETRIES", "0")
        .env("DB_WAIT_TIMEOUT", "1")
        .env("METRICS_PORT", &metrics_port.to_string())
        .env("HEALTHCHECK_PING_URL", &recorder.url("/ping/5f0c-uuid"))
        .env("NOTIFY_WEBHOOK_URL", &recorder.url("/hook/t0ken"))
        .spawn(&["backup-service"]);

    // A run starts with /start and ends with the success ping, in that order.
    let pinged = wait_until(Duration::from_secs(10), || {
        !recorder.to("/ping/5f0c-uuid").is_empty()
    });
    assert!(
        pinged,
        "no success ping: {:?}\n{}",
        recorder.received(),
        service.stderr_so_far()
    );
    let paths: Vec<String> = recorder.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths[..2],
        ["/ping/5f0c-uuid/start", "/ping/5f0c-uuid"],
        "{paths:?}"
    );
    assert!(
        recorder.to("/hook/t0ken").is_empty(),
        "NOTIFY_ON=failure: no webhook for a success"
    );

    let (status, text) = http_get(metrics_port, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200, "{text}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let last_success = metric(&text, "db_backup_last_success_timestamp_seconds")
        .unwrap_or_else(|| panic!("no last success in\n{text}"));
    assert!(
        (now - last_success).abs() < 30.0,
        "{last_success} vs {now}\n{text}"
    );
    assert!(
        metric(&text, "db_backup_runs_total{result=\"success\"}").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        metric(&text, "db_backup_last_size_bytes").is_some_and(|n| n > 0.0),
        "{text}"
    );
    assert!(
        metric(&text, "db_backup_last_duration_seconds").is_some(),
        "{text}"
    );
    assert!(
        metric(&text, "db_backup_next_run_timestamp_seconds").is_some_and(|t| t > now - 5.0),
        "{text}"
    );
    assert_eq!(metric(&text, "db_backup_healthy"), Some(1.0), "{text}");
    assert_eq!(http_get(metrics_port, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(http_get(metrics_port, "/nope").map(|r| r.0), Some(404));

    pg.stop();
    let hooked = wait_until(Duration::from_secs(10), || {
        !recorder.to("/hook/t0ken").is_empty() && !recorder.to("/ping/5f0c-uuid/fail").is_empty()
    });
    assert!(
        hooked,
        "no failure webhook and ping: {:?}\n{}",
        recorder.received(),
        service.stderr_so_far()
    );
    let hook = &recorder.to("/hook/t0ken")[0];
    assert_eq!(hook.method, "POST");
    let body: serde_json::Value = serde_json::from_str(&hook.body).expect("webhook body is JSON");
    assert_eq!(body["status"], "failure", "{body}");
    assert_eq!(body["series"], "pg", "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains(&pg.port().to_string())),
        "the error says which server failed: {body}"
    );
    assert!(
        body["duration_seconds"].is_number() && body["attempts"] == 1,
        "{body}"
    );
    let fail_ping = &recorder.to("/ping/5f0c-uuid/fail")[0];
    assert!(
        !fail_ping.body.is_empty(),
        "the failure ping carries the reason"
    );
    for r in recorder.received() {
        assert!(
            !r.body.contains(pg.password())
                && !r.body.contains("t0ken")
                && !r.body.contains("5f0c"),
            "a notification carries a secret: {r:?}"
        );
    }

    let (status, reason) = http_get(metrics_port, "/healthz").expect("GET /healthz");
    assert_eq!(status, 503, "{reason}");
    assert!(
        reason.starts_with("unhealthy: the last backup failed"),
        "{reason}"
    );
    let (_, text) = http_get(metrics_port, "/metrics").expect("GET /metrics");
    assert!(
        metric(&text, "db_backup_last_failure_timestamp_seconds").is_some(),
        "{text}"
    );
    assert_eq!(metric(&text, "db_backup_healthy"), Some(0.0), "{text}");

    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(15));
    run.expect_success();
    assert!(
        !run.all_output().contains("t0ken") && !run.all_output().contains("5f0c"),
        "{run}"
    );
    assert!(!run.all_output().contains(pg.password()), "{run}");
}
