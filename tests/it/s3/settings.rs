//! S3 settings that the store sees: path-style chosen by itself for an IP endpoint (against moto and s3s-fs),
//! and a session token sent (and signed) with every request but never shown in the output, not even in the
//! store's refusal (moto only: see the test).

use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::DbBackup;
use crate::support::files::backup_dir;
use crate::support::s3::{Faults, Kind, Proxy, S3Server, require_s3, s3_test};

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

s3_test! {
fn an_ip_endpoint_gets_path_style_without_being_told(kind: Kind) {
    require_s3!(kind);
    let s3 = S3Server::of(kind);
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
}

/// Against moto only: it checks session tokens (and refuses one its own STS did not issue, which shows the token
/// reached it), while s3s-fs ignores the header.
#[test]
fn the_session_token_is_sent_signed_and_never_shown() {
    require_s3!(Kind::Moto);
    let s3 = S3Server::start();
    s3.bucket("temp");
    let proxy = Proxy::start(s3.port(), Faults::default());
    let token = "FwoGZXIvYXdzEXAMPLE-session-token-4f1d";
    // The key pair and its token from the AWS names.
    let vars: Vec<(String, String)> = s3
        .env_via("S3_", "temp", "", &proxy.endpoint())
        .into_iter()
        .map(|(k, v)| match k.as_str() {
            "S3_ACCESS_KEY" => ("AWS_ACCESS_KEY_ID".to_string(), v),
            "S3_SECRET_KEY" => ("AWS_SECRET_ACCESS_KEY".to_string(), v),
            _ => (k, v),
        })
        .chain([("AWS_SESSION_TOKEN".to_string(), token.to_string())])
        .collect();
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let cmd = sqlite_backup(&data, dir.path(), &vars).env("LOG_LEVEL", "debug");
    let config = cmd.run(&["config"]);
    config.expect_success();
    assert!(
        config.stdout.contains("session_token=[redacted]"),
        "{config}"
    );
    // moto takes tokens of its own STS only, so it refuses this one: which shows the token reached it. The
    // proxy shows how it was sent.
    let backup = cmd.run(&["backup-db"]);
    assert!(
        backup.stderr.contains("InvalidToken") && backup.stderr.contains("AWS_SESSION_TOKEN"),
        "{backup}"
    );
    let heads = proxy.request_heads();
    assert!(!heads.is_empty(), "no request reached the store");
    for head in &heads {
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains(&format!(
                "x-amz-security-token: {}",
                token.to_ascii_lowercase()
            )),
            "{head}"
        );
        assert!(
            lower.contains(";x-amz-security-token,"),
            "not signed: {head}"
        );
    }
    for run in [&config, &backup] {
        assert!(
            !run.stdout.contains(token) && !run.stderr.contains(token),
            "{run}"
        );
    }
}
