//! Services that are down or hang: the backup is made and counted a success all the same, each failure is
//! logged with the service's scheme and host (never its token), and a hanging service does not hold up a stop.

use std::time::{Duration, Instant};

use crate::support::files::{self, backup_dir};
use crate::support::service::{black_hole, free_port, healthcheck};

use super::{create_db, expect, service, stop};

#[test]
fn services_that_are_down_change_nothing_for_the_backup() {
    let dir = backup_dir();
    let db = dir.path().join("app.db");
    create_db(&db);
    let backups = backup_dir();
    let (closed_http, closed_smtp) = (free_port(), free_port());
    let (_hole, hole_port) = black_hole();
    let urls = format!(
        "ntfy://:tk_d0wn@127.0.0.1:{closed_http}/alerts?scheme=http,\
         smtp://u:m4il-d0wn@127.0.0.1:{closed_smtp}/?from=a@example.org&to=b@example.org&encryption=none,\
         generic+http://127.0.0.1:{hole_port}/hook?token=h4ng"
    );
    let cmd = service(&db, backups.path())
        .env("NOTIFY_URLS", &urls)
        .env("NOTIFY_ON", "always");
    let started = Instant::now();
    let running = cmd.spawn(&["backup-service"]);
    expect(&running, "the backup did not finish", || {
        running.stderr_so_far().contains("next backup at")
    });
    let backup_took = started.elapsed();
    let made: Vec<String> = files::names(backups.path())
        .into_iter()
        .filter(|n| n.starts_with("notifytest-") && n.ends_with(".db.gz"))
        .collect();
    assert_eq!(made.len(), 1, "{:?}", files::names(backups.path()));
    let health = healthcheck(&cmd);
    health.expect_success();
    assert!(health.stdout.starts_with("healthy"), "{health}");

    // Each refused service is retried once (2 s apart), then logged; the hanging one holds the thread.
    expect(&running, "the failures were not logged", || {
        let log = running.stderr_so_far();
        log.contains(&format!("to=ntfy 127.0.0.1:{closed_http}"))
            && log.contains(&format!("to=smtp 127.0.0.1:{closed_smtp}"))
    });
    let stopping = Instant::now();
    let log = stop(running, &["tk_d0wn", "m4il-d0wn", "h4ng"]);
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "the stop waited {:?} for a hanging service",
        stopping.elapsed()
    );
    assert_eq!(
        log.matches("notification failed (the backup is not affected)")
            .count(),
        2,
        "{log}"
    );
    assert!(
        log.contains("notifications still pending at exit were not sent"),
        "{log}"
    );
    assert!(
        backup_took < Duration::from_secs(15),
        "the backup took {backup_took:?}"
    );
}
