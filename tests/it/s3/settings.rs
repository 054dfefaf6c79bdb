//! S3 settings that the store sees: path-style chosen by itself for an IP endpoint, and a session token sent
//! (and signed) with every request but never shown in the output.

use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::DbBackup;
use crate::support::files::backup_dir;
use crate::support::s3::{S3Server, require_s3};

/// A one-table SQLite database to back up, and the command set up for it with `vars` (without
/// `<group>FORCE_PATH_STYLE`).
fn sqlite_backup(data: &TempDir, backups: &std::path::Path, vars: &[(String, String)]) -> DbBackup {
    let db = data.path().join("app.db");
    let conn = Connection::open(&db).expect("create database");
    conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
        .expect("fill database");
    let cmd = DbBackup::bare()
        .env("DB_TYPE", "sqlite")
        .env("DB_PATH", db.to_str().expect("UTF-8 temp path"))
        .env("DB_CONTAINER", "app")
        .env("BACKUP_DIR", backups.to_str().expect("UTF-8 temp path"))
        .env("TZ", "UTC");
    vars.iter()
        .filter(|(k, _)| !k.ends_with("FORCE_PATH_STYLE"))
        .fold(cmd, |cmd, (k, v)| cmd.env(k, v))
}

#[test]
fn an_ip_endpoint_gets_path_style_without_being_told() {
    require_s3!();
    let s3 = S3Server::start();
    s3.bucket("auto");
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let cmd = sqlite_backup(&data, dir.path(), &s3.env("S3_", "auto", ""));
    let config = cmd.run(&["config"]);
    config.expect_success();
    assert!(
        config
            .stdout
            .contains("addressing=path-style (chosen: the endpoint has an IP address"),
        "{config}"
    );
    cmd.run(&["backup-db"]).expect_success();
    let keys = s3.keys("auto");
    assert!(
        keys.len() == 2 && keys[1] == format!("{}.sha256", keys[0]),
        "{keys:?}"
    );
}
