//! `NOTIFY_URLS`: messages for people through ntfy, Gotify, Slack, Discord, Telegram, generic webhooks and
//! email, received by local stand-ins (an HTTP recorder, an SMTP sink with STARTTLS), and services that are
//! down. The backups are of SQLite databases (no server to start): a missing file makes a run fail at once.

mod down;
mod email;
mod http;

use std::path::Path;
use std::time::Duration;

use crate::support::DbBackup;
use crate::support::runner::Running;
use crate::support::service::{path_str, wait_until};

/// A service backing up the SQLite database at `db` (series `notifytest`) into `dir`, once at start and then
/// hourly, without retries.
pub fn service(db: &Path, dir: &Path) -> DbBackup {
    DbBackup::bare()
        .env("DB_TYPE", "sqlite")
        .env("DB_PATH", path_str(db))
        .env("DB_CONTAINER", "notifytest")
        .env("BACKUP_DIR", path_str(dir))
        .env("DB_BACKUP_INTERVAL", "3600")
        .env("BACKUP_ON_START", "true")
        .env("BACKUP_RETRIES", "0")
        .env("DB_WAIT_TIMEOUT", "1")
        .env("TZ", "UTC")
}

/// A small SQLite database at `path`.
pub fn create_db(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open the database");
    conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
        .expect("fill the database");
}

/// Waits up to 20 s for `condition`, failing with the service's log.
pub fn expect(service: &Running, what: &str, condition: impl FnMut() -> bool) {
    assert!(
        wait_until(Duration::from_secs(20), condition),
        "{what}; the service said:\n{}",
        service.stderr_so_far()
    );
}

/// Stops the service; it exits 0 and its output holds none of `secrets`.
pub fn stop(service: Running, secrets: &[&str]) -> String {
    service.signal(libc::SIGTERM);
    let run = service.wait(Duration::from_secs(15));
    run.expect_success();
    let output = run.all_output();
    for secret in secrets {
        assert!(
            !output.contains(secret),
            "the log shows {secret}:\n{output}"
        );
    }
    output
}
