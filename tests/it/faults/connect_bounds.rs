//! The connect step is bounded and stoppable: a server that accepts the connection and never answers fails
//! every engine within `DB_WAIT_TIMEOUT` with a message that says so, a stop signal ends a run stuck there, and
//! an engine pointed at another engine's port says what answered.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::certs::{Certs, OPENSSL};
use crate::support::files::{self, backup_dir};
use crate::support::mariadb::{self, MariaDb};
use crate::support::redis::{REDIS_SERVER, RedisServer};
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, require_tools};

/// A TCP port that accepts every connection and never says a byte. The returned receiver hears of each accepted
/// connection; the connections stay open for as long as the test runs.
fn silent_server() -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a silent port");
    let port = listener.local_addr().expect("its address").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            let _ = tx.send(());
        }
    });
    (port, rx)
}

fn against(engine: &str, port: u16, dir: &std::path::Path) -> DbBackup {
    DbBackup::offline(dir)
        .env("DB_TYPE", engine)
        .env("DB_PORT", &port.to_string())
        .env("DB_USER", "backup")
        .env("DB_PASSWORD", "secret")
        .env("DB_WAIT_TIMEOUT", "3")
}

/// Each network engine, pointed at a port that accepts and never answers, fails (instead of hanging, as the
/// PostgreSQL engine did) with a message naming what happened and the wait. (The runner fails the test if a run
/// hangs.)
#[test]
fn a_server_that_accepts_and_never_answers_fails_every_engine_within_the_wait() {
    let (port, _accepted) = silent_server();
    let dir = backup_dir();
    for engine in ["postgres", "mysql", "redis"] {
        let run = against(engine, port, dir.path()).run(&["backup-db"]);
        run.expect_code(1).expect_stderr_mentions(&[
            "accepted the connection but never answered",
            "DB_WAIT_TIMEOUT=3",
        ]);
        // It waited for an answer (about 3 s) before giving up.
        assert!(
            run.elapsed >= Duration::from_millis(2500),
            "{engine}: {run}"
        );
    }
}

/// A PostgreSQL restore into a database other than `postgres`, against a port that accepts and never answers,
/// gives up after one `DB_WAIT_TIMEOUT` (4 s here), not after a second wait on the maintenance database.
#[test]
fn a_postgres_restore_against_a_silent_server_gives_up_after_one_wait() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql("app", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    let dir = backup_dir();
    DbBackup::for_server(&pg, "app", dir.path())
        .run(&["backup-db"])
        .expect_code(0);
    let (port, _accepted) = silent_server();
    let run = against("postgres", port, dir.path())
        .env("DB_NAME", "app")
        .env("DB_WAIT_TIMEOUT", "4")
        .run(&["restore", "latest"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "accepted the connection but never answered",
        "DB_WAIT_TIMEOUT=4",
    ]);
    // It waited once (about 4 s), and not twice (8 s and more).
    assert!(run.elapsed >= Duration::from_millis(3500), "{run}");
    assert!(run.elapsed < Duration::from_millis(6500), "{run}");
}

/// SIGTERM to a backup stuck connecting (with a long wait allowed) ends it at once, with a message that says it
/// was stopped.
#[test]
fn a_stop_signal_ends_a_backup_stuck_connecting() {
    let (port, accepted) = silent_server();
    let dir = backup_dir();
    for engine in ["postgres", "mysql", "redis"] {
        let running = against(engine, port, dir.path())
            .env("DB_WAIT_TIMEOUT", "600")
            .spawn(&["backup-db"]);
        accepted
            .recv_timeout(Duration::from_secs(60))
            .expect("db-backup connects to the silent port");
        running.signal(libc::SIGTERM);
        let run = running.wait(Duration::from_secs(60));
        assert_ne!(run.code, Some(0), "{run}");
        assert!(
            run.stderr.contains("stopped by a signal"),
            "{engine}: the message says the run was stopped:\n{run}"
        );
        while accepted.try_recv().is_ok() {}
    }
}

/// Each engine pointed at another engine's port says which protocol answered there. MySQL, whose client waits
/// for a greeting that a PostgreSQL or Redis server never sends, says so soon after the greeting fails to come
/// (about 1.5 s), well inside its 30 s wait.
#[test]
fn an_engine_pointed_at_another_engines_port_says_what_answered() {
    require_tools!(PG_SERVER, REDIS_SERVER);
    if !mariadb::available() {
        return;
    }
    let redis = RedisServer::start();
    let pg = PgServer::start();
    let my = MariaDb::start();
    let dir = backup_dir();
    let redis_port: u16 = redis.port_string().parse().expect("a port");
    for engine in ["postgres", "mysql"] {
        let run = against(engine, redis_port, dir.path())
            .env("DB_WAIT_TIMEOUT", "30")
            .run(&["backup-db"]);
        run.expect_code(1)
            .expect_stderr_mentions(&["this port speaks the Redis protocol", "DB_TYPE=redis"]);
        assert_answered_in_time(engine, &run);
    }
    for engine in ["redis", "mysql"] {
        let run = against(engine, pg.port(), dir.path())
            .env("DB_WAIT_TIMEOUT", "30")
            .run(&["backup-db"]);
        run.expect_code(1).expect_stderr_mentions(&[
            "this port speaks the PostgreSQL protocol",
            "DB_TYPE=postgres",
        ]);
        assert_answered_in_time(engine, &run);
    }
    for engine in ["postgres", "redis"] {
        against(engine, my.port(), dir.path())
            .run(&["backup-db"])
            .expect_code(1)
            .expect_stderr_mentions(&["this port speaks the MySQL protocol", "DB_TYPE=mysql"]);
    }
    // A Redis TLS port answers neither PostgreSQL nor MySQL in their protocols.
    if !crate::support::tools::available(OPENSSL) {
        return;
    }
    let certs = Certs::new();
    let tls_redis = RedisServer::start_tls(&certs, None);
    let tls_port: u16 = tls_redis.port_string().parse().expect("a port");
    for engine in ["postgres", "mysql"] {
        let run = against(engine, tls_port, dir.path())
            .env("DB_WAIT_TIMEOUT", "30")
            .run(&["backup-db"]);
        run.expect_code(1)
            .expect_stderr_mentions(&["this port speaks TLS from the first byte"]);
        assert_answered_in_time(engine, &run);
    }
}

/// A MySQL run at a port whose server waits for the client to speak first gave up on the greeting (after
/// about 1.5 s) and said what answered, long before its 30 s wait ran out.
fn assert_answered_in_time(engine: &str, run: &Run) {
    if engine != "mysql" {
        return;
    }
    assert!(run.elapsed >= Duration::from_secs(1), "{engine}: {run}");
    assert!(run.elapsed < Duration::from_secs(15), "{engine}: {run}");
}

/// SIGTERM to a backup whose `pg_dump` waits on a lock (it has connected and sends nothing) ends the run at
/// once, leaving no backup, rather than when the lock is released; and the dump's session waiting on the
/// server is ended too, while the lock is still held.
#[test]
fn a_stop_signal_ends_a_backup_whose_dump_waits_on_a_lock() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql("app", "CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
    // A session that holds an exclusive lock on t until the test ends (its stdin stays open).
    let mut holder = pg
        .client("psql")
        .args(["-X", "-q", "-d", "app"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn psql");
    holder
        .stdin
        .as_mut()
        .expect("psql stdin")
        .write_all(b"BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE; SELECT 1;\n")
        .expect("write to psql");
    let locked = "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted \
                  AND relation = 't'::regclass";
    while pg.psql("app", locked) != "1" {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = backup_dir();
    let running = DbBackup::for_server(&pg, "app", dir.path()).spawn(&["backup-db"]);
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pg_dump (%' \
                   AND wait_event_type = 'Lock'";
    while pg.psql("app", waiting) != "1" {
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(libc::SIGTERM);
    let run = running.wait(Duration::from_secs(60));
    assert_ne!(run.code, Some(0), "{run}");
    assert!(files::backups(dir.path()).is_empty(), "no backup: {run}");
    // The lock is still held: a session of the killed pg_dump would still be waiting for it.
    assert_eq!(
        pg.dump_sessions("pg_dump"),
        0,
        "the stopped pg_dump's session stayed on the server:\n{run}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
}

/// SIGTERM to a Redis backup whose server is still preparing the snapshot (it sends only keep-alive newlines,
/// here for 60 s) ends the run at once rather than when the transfer would start.
#[test]
fn a_stop_signal_ends_a_redis_backup_waiting_for_the_snapshot() {
    require_tools!(REDIS_SERVER);
    let redis = RedisServer::start_with(&["--repl-diskless-sync-delay", "60"]);
    redis.cmd(&["SET", "k", "v"]);
    let dir = backup_dir();
    let running = redis.db_backup(dir.path()).spawn(&["backup-db"]);
    loop {
        let replicas = redis.cmd(&["CLIENT", "LIST", "TYPE", "replica"]);
        if matches!(&replicas, redis::Value::VerbatimString { text, .. } if text.contains("db-backup"))
            || matches!(&replicas, redis::Value::BulkString(b) if String::from_utf8_lossy(b).contains("db-backup"))
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(libc::SIGTERM);
    let run = running.wait(Duration::from_secs(30));
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("stopped by a signal"), "{run}");
    assert!(files::backups(dir.path()).is_empty(), "no backup: {run}");
}

/// SIGTERM to a MariaDB backup whose `mariadb-dump` waits on a table lock ends the run, leaving no backup,
/// and the dump's query waiting on the server is killed too, while the lock is still held.
#[test]
fn a_stop_signal_kills_the_query_of_a_mariadb_dump_waiting_on_a_lock() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    my.create_db("app");
    my.sql(
        Some("app"),
        "CREATE TABLE t (id INT); INSERT INTO t VALUES (1)",
    );
    // A session that holds a write lock on t until the test ends (its stdin stays open).
    let mut holder = my
        .client("mariadb")
        .args(["app"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mariadb");
    holder
        .stdin
        .as_mut()
        .expect("mariadb stdin")
        .write_all(b"LOCK TABLES t WRITE; SELECT 1;\n")
        .expect("write to mariadb");
    let waiting = "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                   WHERE STATE LIKE 'Waiting for table%lock' AND INFO LIKE '%FROM `t`%'";
    while my
        .sql(None, "SHOW OPEN TABLES FROM app WHERE In_use > 0")
        .is_empty()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = backup_dir();
    let running = my.db_backup("app", dir.path()).spawn(&["backup-db"]);
    while my.sql(None, waiting) != "1" {
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(libc::SIGTERM);
    let run = running.wait(Duration::from_secs(60));
    assert_ne!(run.code, Some(0), "{run}");
    assert!(files::backups(dir.path()).is_empty(), "no backup: {run}");
    assert_eq!(
        my.sql(None, waiting),
        "0",
        "the stopped dump's query stayed on the server:\n{run}"
    );
    let _ = holder.kill();
    let _ = holder.wait();
}
