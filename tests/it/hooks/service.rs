//! In `backup-service`, a failing post-hook marks the run failed, naming the hook, without a retry (a retry would
//! make another backup); the backup it made stays.

use std::time::Duration;

use super::command_backup;
use crate::support::files::{self, backup_dir};
use crate::support::service::{healthcheck, wait_until};

#[test]
fn a_failing_post_hook_fails_the_service_run_without_a_retry() {
    let dir = backup_dir();
    let cmd = command_backup(dir.path())
        .env("BACKUP_POST_CMD", "exit 7")
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_RETRIES", "2");
    let service = cmd.spawn(&["backup-service"]);
    let ended = wait_until(Duration::from_secs(30), || {
        service.stderr_so_far().contains("backup run failed")
    });
    let said = service.stderr_so_far();
    let health = healthcheck(&cmd);
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(30));
    assert!(ended, "the run never ended:\n{said}");
    run.expect_success();
    let failed: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("backup run failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{run}");
    assert!(failed[0].contains("BACKUP_POST_CMD"), "{}", failed[0]);
    assert!(
        !run.stderr.contains("backup attempt failed; retrying") && failed[0].contains("attempts=1"),
        "a made backup must not be retried: {run}"
    );
    assert_eq!(files::backups(dir.path()).len(), 1, "{run}");
    health.expect_code(1);
    assert!(
        format!("{}{}", health.stdout, health.stderr).contains("BACKUP_POST_CMD"),
        "{health}"
    );
}
