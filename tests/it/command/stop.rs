//! A stop signal during a `BACKUP_CMD` whose shell started children of its own: the run ends within seconds,
//! the shell and what it started are gone, and nothing that looks like a backup is left.

use std::time::{Duration, Instant};

use crate::support::files::{self, backup_dir};
use crate::support::service::{alive, children_of};
use crate::support::{DbBackup, require_tools};

/// Every process under `pid`, children first found, with their names.
fn descendants(pid: u32) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        for (child, name) in children_of(p) {
            todo.push(child);
            found.push((child, name));
        }
    }
    found
}

#[test]
fn a_stop_signal_ends_a_command_whose_shell_started_children() {
    require_tools!(&["sh", "head", "sleep"][..]);
    let dir = backup_dir();
    // The shell stays; each `head` is its child, writing into the dump pipe.
    let running = DbBackup::bare()
        .env(
            "BACKUP_CMD",
            "while :; do head -c 131072 /dev/urandom; sleep 0.05; done",
        )
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.path().to_str().expect("UTF-8 path"))
        .spawn(&["backup-db"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let started = loop {
        let below = descendants(running.id());
        if below.iter().any(|(_, name)| name == "sh") && !files::names(dir.path()).is_empty() {
            break below;
        }
        assert!(
            Instant::now() < deadline,
            "the command never started:\n{}",
            running.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(500));
    let started: Vec<(u32, String)> = started
        .into_iter()
        .chain(descendants(running.id()))
        .collect();
    running.signal(libc::SIGTERM);
    let run = running.wait(Duration::from_secs(20));
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.elapsed < Duration::from_secs(15), "{run}");
    let deadline = Instant::now() + Duration::from_secs(10);
    for (pid, name) in &started {
        while alive(*pid, name) {
            assert!(
                Instant::now() < deadline,
                "{name} ({pid}) outlived the stopped backup:\n{run}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    assert!(
        files::backups(dir.path()).is_empty(),
        "{:?}",
        files::names(dir.path())
    );
}
