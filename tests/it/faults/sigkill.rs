//! Killed at a random moment, many times: `backup-db` gets SIGKILL after a random delay (from a seeded RNG; the
//! seed is printed, `FAULT_SEED=<seed>` replays it), at any point of its run: before the lock, while dumping,
//! while committing, while pruning. After every kill, only complete backups carry final names (each with a
//! matching `.sha256`, each passing `gzip -t`); the lock the killed process held never blocks the next run;
//! and the next successful run sweeps what the kills left (no `.partial`, no orphan `.sha256`). Killing the
//! `pg_dump` child instead must fail the run cleanly.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::files::{self, assert_failed_cleanly, backup_dir, run_tool};
use crate::support::service::{alive, children_of};
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, require_tools};

/// Rows of 32 hex characters: about 12 MB of plain dump, a backup of a second or two.
const ROWS: u32 = 300_000;
const KILLS: usize = 15;
/// A successful run after every this many kills; the kills in between pile up their leftovers.
const SWEEP_EVERY: usize = 3;
const PG_DUMP_KILLS: usize = 5;

/// splitmix64: small, seedable, good enough to spread delays.
struct Rng(u64);

impl Rng {
    /// Seeded from `FAULT_SEED` when set (to replay a failure), else from the clock; prints the seed.
    fn from_env(test: &str) -> Rng {
        let seed = std::env::var("FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("{test}: seed {seed} (FAULT_SEED={seed} replays it)");
        eprintln!("{test}: seed {seed} (FAULT_SEED={seed} replays it)");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A duration in `[0, max)`.
    fn below(&mut self, max: Duration) -> Duration {
        let unit = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        max.mul_f64(unit)
    }
}

/// A server whose database `app` takes a second or two to back up.
fn big_server() -> PgServer {
    let pg = PgServer::start();
    pg.create_db("app");
    pg.add_big_table("app", ROWS);
    pg
}

/// What a killed run may leave besides complete backups.
#[derive(Debug, Default)]
struct Leftovers {
    partials: Vec<String>,
    orphan_checksums: Vec<String>,
    other: Vec<String>,
}

impl Leftovers {
    fn is_empty(&self) -> bool {
        self.partials.is_empty() && self.orphan_checksums.is_empty() && self.other.is_empty()
    }
}

/// Every backup under its final name is complete and checked (mode, `sha256sum -c`, `gzip -t`, the dump's
/// trailer; each once, `checked` remembers them); everything else is sorted into what a killed run may leave.
/// Anything that fits neither fails.
fn check_dir(dir: &Path, checked: &mut BTreeSet<String>) -> Leftovers {
    let mut left = Leftovers::default();
    for name in files::names(dir) {
        if files::is_backup_name(&name) {
            assert!(
                dir.join(format!("{name}.sha256")).exists(),
                "{name} has a final name but no checksum: {:?}",
                files::names(dir)
            );
            if checked.insert(name.clone()) {
                check_complete(dir, &name);
            }
        } else if let Some(data) = name
            .strip_suffix(".sha256")
            .or_else(|| name.strip_suffix(".manifest.json"))
            && files::is_backup_name(data)
        {
            if !dir.join(data).exists() {
                left.orphan_checksums.push(name);
            }
        } else if name.starts_with('.') && name.ends_with(".partial") {
            left.partials.push(name);
        } else if name == ".db-backup.lock" {
        } else if name.starts_with(".db-backup-probe-") {
            // The writability probe, if the kill fell between its creation and its removal.
            left.other.push(name);
        } else {
            panic!("unexpected file {name} in {:?}", files::names(dir));
        }
    }
    left
}

/// What a kill in each narrow window leaves: a checksum whose backup never got its name, a checksum being
/// written, and the writability probe of a process that is gone (pids never exceed 2^22).
fn plant_leftovers(dir: &Path) {
    for name in [
        "pg-2001-02-03T04-05-06.sql.gz.sha256",
        ".pg-2001-02-03T04-05-07.sql.gz.sha256.partial",
        ".pg-2001-02-03T04-05-08.sql.gz.partial",
        ".db-backup-probe-4194305",
    ] {
        fs::write(dir.join(name), "left by a killed run").expect("plant a leftover");
    }
}

/// What [`files::check_artifacts`] checks, with the system's tools (much faster than a debug build's
/// decompression): mode 0600, `sha256sum -c`, `gzip -t`, and the dump's trailer at the end.
fn check_complete(dir: &Path, name: &str) {
    let checksum = format!("{name}.sha256");
    assert_eq!(
        files::mode(&dir.join(name)),
        0o600,
        "{name} must be mode 0600"
    );
    assert_eq!(
        files::mode(&dir.join(&checksum)),
        0o600,
        "{checksum} must be mode 0600"
    );
    let said = run_tool(dir, "sha256sum", &["-c", &checksum]);
    assert_eq!(said.trim(), format!("{name}: OK"));
    run_tool(dir, "gzip", &["-t", name]);
    let tail = run_tool(
        dir,
        "sh",
        &["-c", "gzip -dc \"$1\" | tail -c 200", "sh", name],
    );
    assert!(
        tail.contains("-- PostgreSQL database dump complete"),
        "{name} lacks the dump trailer: {tail:?}"
    );
}

/// A run never waits for or trips over the lock of a killed one.
fn assert_not_blocked(run: &Run) {
    assert!(
        !run.stderr.contains("another backup is running"),
        "the lock of a killed run blocked the next one:\n{run}"
    );
}

#[test]
fn backup_db_killed_at_random_moments_leaves_only_complete_backups() {
    require_tools!(PG_SERVER, &["gzip", "sha256sum"]);
    let mut rng = Rng::from_env("backup_db_killed_at_random_moments");
    let started = Instant::now();
    let pg = big_server();
    let dir = backup_dir();
    // Few enough kept that retention deletes in most successful runs: kills land in pruning too.
    let cmd = DbBackup::for_server(&pg, "app", dir.path()).env("DB_BACKUP_MAX_N", "3");

    // One run first, to know how long a backup takes here; every run that completes refines it (the
    // shortest seen: the machine may be busier at the start than later).
    let first = cmd.run(&["backup-db"]);
    first.expect_success();
    let mut duration = first.elapsed;

    let mut checked = BTreeSet::new();
    let mut killed = 0;
    let mut leftovers_seen = 0;
    for round in 1..=KILLS {
        // Every third kill aims at the end of the run (commit, retention), the rest anywhere.
        let delay = if round % 3 == 0 {
            duration.mul_f64(0.8) + rng.below(duration.mul_f64(0.3))
        } else {
            rng.below(duration.mul_f64(1.1))
        };
        let running = cmd.spawn(&["backup-db"]);
        std::thread::sleep(delay);
        running.signal(libc::SIGKILL);
        let run = running.wait(Duration::from_secs(60));
        eprintln!(
            "kill {round}: after {delay:?}, {}",
            match run.code {
                None => "killed".to_string(),
                Some(code) => format!("had already exited with {code}"),
            }
        );
        assert_not_blocked(&run);
        if run.code.is_none() {
            killed += 1;
        } else {
            run.expect_success();
            duration = duration.min(run.elapsed);
        }
        let left = check_dir(dir.path(), &mut checked);
        if !left.is_empty() {
            eprintln!("  left: {left:?}");
            leftovers_seen += 1;
        }

        if round == SWEEP_EVERY {
            // Leftovers of every kind a kill can leave, in case the random kills did not leave them.
            plant_leftovers(dir.path());
        }
        if round % SWEEP_EVERY == 0 {
            let next = cmd.run(&["backup-db"]);
            next.expect_success();
            duration = duration.min(next.elapsed);
            assert_not_blocked(&next);
            let left = check_dir(dir.path(), &mut checked);
            assert!(
                left.is_empty(),
                "the run after kill {round} did not sweep: {left:?}\n{next}"
            );
        }
    }
    eprintln!(
        "{killed} of {KILLS} runs killed, {leftovers_seen} left something; {:?} in all",
        started.elapsed()
    );
    assert!(
        killed >= KILLS / 2,
        "most delays should land inside a run ({killed} of {KILLS} did)"
    );
    assert!(!files::backups(dir.path()).is_empty(), "no backup survived");
}

/// The `pg_dump` that the run `parent` started for the dump (not the `pg_dump --version` that picks the
/// client first).
fn wait_for_pg_dump(parent: u32, running: &crate::support::runner::Running) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // A process that has ended shows an empty command line: only a live one tells which it is.
        let dump = children_of(parent).into_iter().find(|(pid, name)| {
            name == "pg_dump"
                && fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                    !c.is_empty() && !String::from_utf8_lossy(&c).contains("--version")
                })
                && alive(*pid, "pg_dump")
        });
        if let Some((pid, _)) = dump {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "pg_dump never started:\n{}",
            running.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The backups in `dir` not in `known`, each checked complete.
fn check_new_backups(dir: &Path, known: &[String]) -> usize {
    let new: Vec<String> = files::backups(dir)
        .into_iter()
        .filter(|n| !known.contains(n))
        .collect();
    for name in &new {
        check_complete(dir, name);
    }
    new.len()
}

#[test]
fn pg_dump_killed_at_a_random_moment_fails_the_run_cleanly() {
    require_tools!(PG_SERVER, &["gzip", "sha256sum"]);
    let mut rng = Rng::from_env("pg_dump_killed_at_a_random_moment");
    let pg = big_server();
    let dir = backup_dir();
    files::plant_backup(dir.path(), "pg-2001-01-01T00-00-00.sql.gz");
    let cmd = DbBackup::for_server(&pg, "app", dir.path());

    // A run without a kill first, to know how long pg_dump lives here (it ends well before the backup: the
    // compression behind it takes longer); every kill that comes too late shortens the estimate.
    let running = cmd.spawn(&["backup-db"]);
    let pid = wait_for_pg_dump(running.id(), &running);
    let seen_at = Instant::now();
    while alive(pid, "pg_dump") {
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut life = seen_at.elapsed();
    running.wait(Duration::from_secs(60)).expect_success();
    let mut before = files::snapshot(dir.path());

    let (mut hits, mut rounds) = (0, 0);
    while hits < PG_DUMP_KILLS && rounds < 2 * PG_DUMP_KILLS {
        rounds += 1;
        let known = files::backups(dir.path());
        let running = cmd.spawn(&["backup-db"]);
        let pid = wait_for_pg_dump(running.id(), &running);
        let seen_at = Instant::now();
        let delay = rng.below(life.mul_f64(0.7));
        std::thread::sleep(delay);
        let alive_then = alive(pid, "pg_dump");
        if alive_then {
            // SAFETY: kill(2) on the pg_dump child of the db-backup this test started, seen alive just now.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
        let late = seen_at.elapsed();
        let run = running.wait(Duration::from_secs(60));
        eprintln!(
            "pg_dump kill {rounds}: after {delay:?} of an expected {life:?}: {}",
            match (alive_then, run.code) {
                (true, Some(0)) => "it ended as the kill was sent",
                (true, _) => "killed",
                (false, _) => "it had ended",
            }
        );
        if alive_then && run.code != Some(0) {
            hits += 1;
            assert_failed_cleanly(&run, dir.path(), &before, &["pg_dump"]);
        } else {
            // Too late: then the dump ended by itself, and the backup must be whole.
            run.expect_success();
            assert_eq!(check_new_backups(dir.path(), &known), 1, "{run}");
            before = files::snapshot(dir.path());
            life = life.min(late);
        }
    }
    assert!(
        hits >= 3,
        "pg_dump was killed in only {hits} of {rounds} runs"
    );
}
