//! A hot SQLite backup while a writer keeps committing, in WAL and in rollback-journal mode: the backup is
//! one consistent state of the database, it restores, and the writer is never refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::sqlite::roundtrip::{
    assert_no_strays, db_backups, integrity, restore_latest_into, sqlite_backup,
};
use crate::support::files::backup_dir;

/// Rows in the database before the writer starts (about 16 MB, 4000 pages: the copy takes several steps).
const INITIAL_ROWS: u64 = 2000;

fn hot_backup(journal_mode: &str) {
    let work = tempfile::tempdir().expect("temp dir");
    let source = work.path().join("app.db");
    {
        let conn = Connection::open(&source).expect("open source");
        conn.pragma_update(None, "journal_mode", journal_mode)
            .expect("journal mode");
        conn.execute_batch(&format!(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
             CREATE TABLE counter (n INTEGER NOT NULL);
             WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {INITIAL_ROWS})
             INSERT INTO events (payload) SELECT zeroblob(8000) FROM s;
             INSERT INTO counter VALUES ({INITIAL_ROWS});"
        ))
        .expect("initial rows");
    }

    // The application: one transaction after another, each adding a row and counting it.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes, source) = (stop.clone(), writes.clone(), source.clone());
        std::thread::spawn(move || -> Result<Duration, String> {
            let mut conn = Connection::open(&source).map_err(|e| e.to_string())?;
            conn.busy_timeout(Duration::from_secs(20))
                .map_err(|e| e.to_string())?;
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let tx = conn.transaction().map_err(|e| e.to_string())?;
                tx.execute_batch(
                    "INSERT INTO events (payload) VALUES (zeroblob(2000));
                     UPDATE counter SET n = n + 1;",
                )
                .map_err(|e| format!("write refused: {e}"))?;
                tx.commit().map_err(|e| format!("commit refused: {e}"))?;
                slowest = slowest.max(started.elapsed());
                writes.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(slowest)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while writes.load(Ordering::Relaxed) < 20 {
        assert!(Instant::now() < deadline, "the writer does not get going");
        std::thread::sleep(Duration::from_millis(5));
    }

    let dir = backup_dir();
    let writes_before = writes.load(Ordering::Relaxed);
    let run = sqlite_backup(&source, dir.path())
        .env("LOG_LEVEL", "debug")
        .run(&["backup-db"]);
    let writes_after = writes.load(Ordering::Relaxed);
    // Let the writer go on a little after the backup, then stop it.
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let slowest = writer.join().expect("writer thread");
    run.expect_success();
    let slowest = slowest.unwrap_or_else(|e| panic!("the application's write failed: {e}\n{run}"));
    assert!(
        writes_after > writes_before,
        "the writer made no progress while the backup ran ({writes_before} writes)"
    );
    eprintln!(
        "{journal_mode}: {} writes during the backup, slowest commit {slowest:?}, {} restarts logged, backup took {:?}",
        writes_after - writes_before,
        run.stderr.matches("restarted by a writer").count(),
        run.elapsed
    );
    assert_no_strays(dir.path());
    assert_eq!(db_backups(dir.path()).len(), 1);

    let copy = work.path().join("restored.db");
    restore_latest_into(&source, dir.path(), &copy);
    assert_eq!(integrity(&copy), "ok");
    let conn = Connection::open(&copy).expect("open copy");
    let (rows, counted): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM events), (SELECT n FROM counter)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("read copy");
    assert_eq!(
        rows, counted,
        "the copy is not one consistent state of the database"
    );
    assert!(
        // A commit is counted just after it happens: one may be in the copy and not yet counted.
        (INITIAL_ROWS + writes_before..=INITIAL_ROWS + writes_after + 1).contains(&(rows as u64)),
        "the copy holds {rows} rows; the database had {} when the backup started and {} when it ended",
        INITIAL_ROWS + writes_before,
        INITIAL_ROWS + writes_after
    );
}

#[test]
fn hot_backup_of_a_wal_database_under_writes() {
    hot_backup("wal");
}

#[test]
fn hot_backup_of_a_rollback_journal_database_under_writes() {
    hot_backup("delete");
}
