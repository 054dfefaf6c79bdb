//! Redis listening only on a TLS port (`--port 0 --tls-port N`) with certificates made by the test: a verified
//! round trip with a client certificate (both db-backup's command connection and its replication link present
//! it), and the refusals that must name TLS or the certificate problem.

use std::path::Path;
use std::time::Duration;

use crate::support::certs::{Certs, OPENSSL};
use crate::support::files::{self, backup_dir};
use crate::support::redis::{
    REDIS_SERVER, RedisServer, assert_same_data, fill_every_type, only_rdb_backup, snapshot,
};
use crate::support::require_tools;

/// TTLs move on between reading the source and the copy.
const TTL_SLACK: Duration = Duration::from_secs(30);

fn path(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

#[test]
fn tls_only_redis_round_trip_with_verify_full_and_a_client_certificate() {
    require_tools!(REDIS_SERVER, OPENSSL);
    let certs = Certs::new();
    let client = certs.client("db-backup");
    let source = RedisServer::start_tls(&certs, Some(client.clone()));
    fill_every_type(&source);
    let before = snapshot(&source);
    let dir = backup_dir();
    let with_tls = |server: &RedisServer| {
        server
            .db_backup(dir.path())
            .env("DB_HOST", "localhost")
            .env("DB_SSLMODE", "verify-full")
            .env("DB_SSL_CA_FILE", &path(&certs.ca()))
            .env("DB_SSL_CERT_FILE", &path(&client.0))
            .env("DB_SSL_KEY_FILE", &path(&client.1))
    };
    // Without the client certificate the server ends the handshake.
    with_tls(&source)
        .without("DB_SSL_CERT_FILE")
        .without("DB_SSL_KEY_FILE")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["client certificate", "DB_SSL_CERT_FILE"]);

    with_tls(&source).run(&["backup-db"]).expect_success();
    let name = only_rdb_backup(dir.path());
    files::run_tool(dir.path(), "sha256sum", &["-c", &format!("{name}.sha256")]);

    let target = RedisServer::start_tls(&certs, Some(client.clone()));
    with_tls(&target)
        .run(&["restore", "latest"])
        .expect_success();
    assert_same_data(&before, &snapshot(&target), TTL_SLACK);
}

#[test]
fn tls_only_redis_refusals_name_tls_and_the_certificate() {
    require_tools!(REDIS_SERVER, OPENSSL);
    let certs = Certs::new();
    let source = RedisServer::start_tls(&certs, None);
    source.cmd(&["SET", "k", "v"]);
    let dir = backup_dir();
    let base = source.db_backup(dir.path());

    // A plain connection to a TLS port (the default, prefer, is plain for Redis): the message says TLS.
    base.run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["accepts only TLS", "DB_SSLMODE=require"]);

    // verify-full to a name the certificate does not hold.
    base.clone()
        .env("DB_SSLMODE", "verify-full")
        .env("DB_SSL_CA_FILE", &path(&certs.ca()))
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["not valid for the host name 127.0.0.1"]);
    let left = files::backups(dir.path());
    assert!(left.is_empty(), "a refused backup leaves no file: {left:?}");

    // verify-ca checks the chain only; require encrypts without checking.
    base.clone()
        .env("DB_SSLMODE", "verify-ca")
        .env("DB_SSL_CA_FILE", &path(&certs.ca()))
        .run(&["backup-db"])
        .expect_success();
    base.clone()
        .env("DB_SSLMODE", "require")
        .run(&["backup-db"])
        .expect_success();
}
