//! A store behind TLS with a certificate of a private CA the test makes: refused at once (not retried) with a
//! hint at `S3_CA_FILE` while the CA is unknown, used once `S3_CA_FILE` (or `AWS_CA_BUNDLE`) names it. moto serves
//! TLS itself with the given certificate (`--ssl-cert`, `--ssl-key`); it checks no signature here.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use db_backup::config::{S3Settings, Secret};
use db_backup::storage::s3::Client;
use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::DbBackup;
use crate::support::certs::{Certs, OPENSSL};
use crate::support::files::backup_dir;
use crate::support::require_tools;
use crate::support::s3::{Kind, require_s3};

/// moto serving HTTPS on a free loopback port with the certificate of `certs` (for `localhost`).
struct TlsMoto {
    child: Child,
    port: u16,
}

impl TlsMoto {
    fn start(certs: &Certs) -> TlsMoto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let program = Kind::Moto.path().expect("moto_server");
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .arg("--ssl-cert")
            .arg(certs.server_cert())
            .arg("--ssl-key")
            .arg(certs.server_key())
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        TlsMoto { child, port }
    }

    fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.port)
    }
}

impl Drop for TlsMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_private_ca_is_trusted_once_named() {
    require_tools!(OPENSSL);
    require_s3!(Kind::Moto);
    let certs = Certs::new();
    let moto = TlsMoto::start(&certs);
    // The bucket, made by the library client trusting the CA (moto may still be starting: retried).
    let client = Client::new(S3Settings {
        name: "tls".into(),
        var_prefix: "S3_".into(),
        endpoint: moto.endpoint(),
        bucket: "private".into(),
        region: "us-east-1".into(),
        prefix: String::new(),
        path_style: true,
        addressing: String::new(),
        access_key: Secret::new("AKIATLSTEST"),
        secret_key: Secret::new("tls-test-secret"),
        source: None,
        ca_file: Some(certs.ca()),
        session_token: None,
        part_size: 5 << 20,
        retry_seconds: 20,
    });
    client.create_bucket().expect("create the bucket over TLS");

    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let db = data.path().join("app.db");
    Connection::open(&db)
        .and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);"))
        .expect("create database");
    let cmd = DbBackup::bare()
        .env("DB_TYPE", "sqlite")
        .env("DB_PATH", db.to_str().unwrap())
        .env("DB_CONTAINER", "app")
        .env("BACKUP_DIR", dir.path().to_str().unwrap())
        .env("TZ", "UTC")
        .env("S3_ENDPOINT", &moto.endpoint())
        .env("S3_BACKUP_BUCKET", "private")
        .env("S3_ACCESS_KEY", "AKIATLSTEST")
        .env("S3_SECRET_KEY", "tls-test-secret")
        .env("S3_RETRY_SECONDS", "30");

    let unknown = cmd.run(&["backup-db"]);
    unknown
        .expect_code(1)
        .expect_stderr_mentions(&["certificate is not trusted", "S3_CA_FILE"]);
    assert!(
        unknown.elapsed < Duration::from_secs(10) && !unknown.stderr.contains("retrying"),
        "an untrusted certificate must not be retried:\n{unknown}"
    );

    let ca = certs.ca();
    for var in ["S3_CA_FILE", "AWS_CA_BUNDLE"] {
        let trusted = cmd.clone().env(var, ca.to_str().unwrap());
        let config = trusted.run(&["config"]);
        config.expect_success();
        assert!(config.stdout.contains("ca_file="), "{config}");
        trusted.run(&["backup-db"]).expect_success();
    }
    let listed = client.list("").expect("list over TLS");
    assert!(listed.len() >= 2, "{listed:?}");

    let bad = cmd
        .clone()
        .env("S3_CA_FILE", db.to_str().unwrap())
        .run(&["config"]);
    bad.expect_code(2)
        .expect_stderr_mentions(&["S3_CA_FILE", "no PEM certificate"]);
}
