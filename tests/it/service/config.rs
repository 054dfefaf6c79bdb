//! `backup-service` refuses a bad configuration before it does anything; `healthcheck` without a service says
//! so; `config` shows the service settings without the tokens in URLs.

use std::net::TcpListener;

use crate::support::DbBackup;
use crate::support::files::{self, backup_dir};
use crate::support::service::healthcheck;

#[test]
fn a_bad_schedule_stops_the_service_with_status_2_naming_it() {
    let dir = backup_dir();
    let links = tempfile::tempdir().expect("temp dir");
    let link = links.path().join("backup-service");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_db-backup"), &link).expect("symlink");
    for (cmd, args) in [
        (DbBackup::offline(dir.path()), &["backup-service"][..]),
        (DbBackup::offline(dir.path()).program(&link), &[][..]),
    ] {
        let run = cmd.env("BACKUP_SCHEDULE", "61 * * * *").run(args);
        run.expect_code(2)
            .expect_stderr_mentions(&["BACKUP_SCHEDULE", "61 * * * *"]);
        assert!(
            run.elapsed.as_secs() < 5,
            "a configuration error must stop at once:\n{run}"
        );
    }
    DbBackup::offline(dir.path())
        .env("BACKUP_SCHEDULE", "@daily")
        .env("DB_BACKUP_INTERVAL", "60")
        .run(&["backup-service"])
        .expect_code(2)
        .expect_stderr_mentions(&["BACKUP_SCHEDULE", "DB_BACKUP_INTERVAL"]);
    DbBackup::offline(dir.path())
        .env("BACKUP_STOP_TIMEOUT", "soon")
        .run(&["backup-service"])
        .expect_code(2)
        .expect_stderr_mentions(&["BACKUP_STOP_TIMEOUT"]);
    assert!(
        files::names(dir.path()).is_empty(),
        "nothing may be written: {:?}",
        files::names(dir.path())
    );
}

#[test]
fn healthcheck_without_a_running_service_is_unhealthy() {
    let dir = backup_dir();
    let run = healthcheck(&DbBackup::offline(dir.path()));
    run.expect_code(1);
    assert!(
        run.stdout.starts_with("unhealthy: ") && run.stdout.contains("backup-service"),
        "{run}"
    );
    assert_eq!(run.stdout.lines().count(), 1, "one line:\n{run}");
}

#[test]
fn healthcheck_says_unhealthy_with_1_never_2_for_a_bad_configuration_or_option() {
    // Docker reserves a health check's exit code 2; every unhealthy answer is 1.
    let dir = backup_dir();
    let run = healthcheck(&DbBackup::offline(dir.path()).env("BACKUP_SCHEDULE", "61 * * * *"));
    run.expect_code(1);
    assert!(
        run.stdout.starts_with("unhealthy: configuration error")
            && run.stdout.contains("BACKUP_SCHEDULE"),
        "{run}"
    );
    let run = DbBackup::offline(dir.path()).run(&["healthcheck", "--no-such-option"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["--no-such-option"]);
    // Other commands keep 2 for a usage error.
    DbBackup::offline(dir.path())
        .run(&["list", "--no-such-option"])
        .expect_code(2);
}

#[test]
fn a_taken_metrics_port_stops_the_service_naming_it() {
    let dir = backup_dir();
    let taken = TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let run = DbBackup::offline(dir.path())
        .env("METRICS_PORT", &port.to_string())
        .run(&["backup-service"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["METRICS_PORT", &port.to_string()]);
}

#[test]
fn config_shows_the_service_settings_without_url_tokens() {
    let dir = backup_dir();
    let run = DbBackup::offline(dir.path())
        .env("BACKUP_SCHEDULE", "*/30 * * * * *")
        .env("BACKUP_RETRIES", "4")
        .env("METRICS_PORT", "9187")
        .env(
            "HEALTHCHECK_PING_URL",
            "https://hc-ping.com/0b5e-secret-uuid",
        )
        .env(
            "NOTIFY_WEBHOOK_URL",
            "https://hooks.example.com/services/T0/B0/tok3n",
        )
        .env("NOTIFY_ON", "always")
        .run(&["config"]);
    run.expect_success();
    for line in [
        "BACKUP_SCHEDULE=cron */30 * * * * * (UTC)",
        "BACKUP_ON_START=false",
        "BACKUP_RETRIES=4",
        "BACKUP_STOP_TIMEOUT=8",
        "METRICS_PORT=9187",
        "HEALTHCHECK_PING_URL=https://hc-ping.com/[redacted]",
        "NOTIFY_WEBHOOK_URL=https://hooks.example.com/[redacted]",
        "NOTIFY_ON=always",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "missing {line:?}:\n{run}"
        );
    }
    let all = run.all_output();
    assert!(
        !all.contains("secret-uuid") && !all.contains("tok3n"),
        "{run}"
    );
}
