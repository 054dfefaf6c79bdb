//! Detection by probe, end to end: with nothing naming the engine, the binary probes `DB_HOST`; where no server
//! answers it stops with exit status 2 and asks for `DB_TYPE`. The probe runs in a network namespace of its own,
//! so it cannot reach any server this test did not start (the protocol recognisers and the decision are unit
//! tests in `src/config/probe.rs`).

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::files::backup_dir;

#[test]
fn nothing_answering_the_probe_is_a_configuration_error() {
    let dir = backup_dir();
    let isolated = Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !isolated {
        eprintln!(
            "SKIPPED: cannot make a network namespace (unshare -n needs root or user namespaces)"
        );
        return;
    }
    let started = Instant::now();
    let out = Command::new("unshare")
        .arg("-n")
        .arg(env!("CARGO_BIN_EXE_db-backup"))
        .arg("backup-db")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DB_HOST", "127.0.0.1")
        .env("DB_NAME", "app")
        .env("BACKUP_DIR", dir.path())
        .output()
        .expect("run db-backup in a network namespace");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("DB_TYPE") && stderr.contains("no database server answered on 127.0.0.1"),
        "{stderr}"
    );
    for port in ["5432", "3306", "6379"] {
        assert!(
            stderr.contains(port),
            "the message should list port {port}: {stderr}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "probing took {:?}",
        started.elapsed()
    );
    assert!(
        std::fs::read_dir(dir.path())
            .expect("read dir")
            .next()
            .is_none(),
        "BACKUP_DIR was touched"
    );
}
