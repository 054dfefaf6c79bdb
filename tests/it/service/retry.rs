//! The service decides retries by the kind of the error, not its words: a login the server refuses is final at
//! once (a retry would only count against the server's lockout), while a server that does not answer is tried
//! again. Both with `BACKUP_RETRIES=2`, so that a retry would happen if the kind allowed it.

use std::time::Duration;

use crate::support::files::backup_dir;
use crate::support::pg::random_hex;
use crate::support::service::{free_port, wait_until};
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, require_tools};

/// What the service logs when it retries a failed attempt.
const RETRIED: &str = "backup attempt failed; retrying";

/// Runs the service (one backup at start) until its first attempt failed for good or was retried, then stops it.
fn first_attempt(cmd: DbBackup) -> Run {
    let service = cmd
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_RETRIES", "2")
        .spawn(&["backup-service"]);
    let ended = wait_until(Duration::from_secs(30), || {
        let said = service.stderr_so_far();
        said.contains("backup run failed") || said.contains(RETRIED)
    });
    let said = service.stderr_so_far();
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(30));
    assert!(ended, "the first attempt never ended:\n{said}");
    run.expect_success();
    run
}

#[test]
fn a_refused_login_is_not_retried() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let dir = backup_dir();
    let wrong = format!("wrong-{}", random_hex(8));
    let run =
        first_attempt(DbBackup::for_server(&pg, "app", dir.path()).env("DB_PASSWORD", &wrong));
    assert!(
        !run.stderr.contains(RETRIED),
        "a refused login was retried:\n{run}"
    );
    run.expect_stderr_mentions(&[
        "authentication failed",
        "not retried",
        "backup run failed",
        "attempts=1",
    ]);
}

#[test]
fn a_server_that_does_not_answer_is_retried() {
    let dir = backup_dir();
    let port = free_port();
    let run = first_attempt(
        DbBackup::offline(dir.path())
            .env("DB_PORT", &port.to_string())
            .env("DB_WAIT_TIMEOUT", "1"),
    );
    assert!(
        run.stderr.contains(RETRIED),
        "a server that did not answer was not retried:\n{run}"
    );
    assert!(!run.stderr.contains("not retried"), "{run}");
}
