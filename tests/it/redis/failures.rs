//! Redis failures: a wrong password, a server that is down, one that refuses replication, and a transfer cut
//! half-way each fail the backup with a message naming the cause and leave no backup-looking file.

use std::time::{Duration, Instant};

use crate::support::files::{assert_failed_cleanly, backup_dir, plant_backup, snapshot};
use crate::support::redis::{REDIS_SERVER, RedisServer, fill_for_a_slow_transfer};
use crate::support::require_tools;

#[test]
fn a_wrong_password_fails_and_says_so() {
    require_tools!(REDIS_SERVER);
    let server = RedisServer::start_with(&["--requirepass", "right-Pw"]);
    let dir = backup_dir();
    plant_backup(dir.path(), "redis-2020-01-01T00-00-00.sql.gz");
    let before = snapshot(dir.path());
    let run = server
        .db_backup(dir.path())
        .env("DB_PASSWORD", "wrong-Pw")
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["authentication", "DB_PASSWORD"],
    );
    assert!(
        !run.stderr.contains("wrong-Pw"),
        "the password leaked:\n{run}"
    );

    let run = server
        .db_backup(dir.path())
        .without("DB_PASSWORD")
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["password"]);
}

#[test]
fn a_server_that_is_down_fails_after_the_wait() {
    require_tools!(REDIS_SERVER);
    let mut server = RedisServer::start();
    let cmd = server
        .db_backup(backup_dir().path())
        .env("DB_WAIT_TIMEOUT", "2");
    server.kill();
    let dir = backup_dir();
    let before = snapshot(dir.path());
    let run = cmd
        .env("BACKUP_DIR", dir.path().to_str().expect("UTF-8"))
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["cannot connect", "DB_HOST"]);
    assert!(
        run.elapsed >= Duration::from_secs(1) && run.elapsed < Duration::from_secs(15),
        "it should wait about DB_WAIT_TIMEOUT: {run}"
    );
}

#[test]
fn a_user_without_replication_rights_is_told_so() {
    require_tools!(REDIS_SERVER);
    let server = RedisServer::start();
    server.cmd(&[
        "ACL", "SETUSER", "app", "on", ">app-pw", "~*", "+@all", "-sync", "-psync",
    ]);
    let dir = backup_dir();
    let before = snapshot(dir.path());
    let run = server
        .db_backup(dir.path())
        .env("DB_USER", "app")
        .env("DB_PASSWORD", "app-pw")
        .run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["refused SYNC", "+sync"]);
}

#[test]
fn a_transfer_cut_half_way_leaves_no_backup() {
    require_tools!(REDIS_SERVER);
    let server = RedisServer::start();
    // Enough keys, each saved with a delay, that the transfer lasts a few seconds.
    let mut conn = server.conn();
    fill_for_a_slow_transfer(&mut conn, 20_000, 100);
    let dir = backup_dir();
    let before = snapshot(dir.path());
    let running = server.db_backup(dir.path()).spawn(&["backup-db"]);

    // Once the replica connection is there, let the transfer get going (it lasts about 4 s), then kill it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let connected = loop {
        let replicas: String = redis::cmd("CLIENT")
            .arg("LIST")
            .arg("TYPE")
            .arg("replica")
            .query(&mut conn)
            .expect("CLIENT LIST");
        if !replicas.trim().is_empty() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(connected, "the backup never connected as a replica");
    std::thread::sleep(Duration::from_millis(1000));
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("replica")
        .query(&mut conn)
        .expect("CLIENT KILL");
    assert_eq!(killed, 1);
    let run = running.wait(Duration::from_secs(60));
    assert_failed_cleanly(&run, dir.path(), &before, &["stopped after"]);
}
