//! MariaDB with `require_secure_transport=ON` and certificates made by the test: a verified round trip with a
//! client certificate, and the refusals that must name TLS or the certificate problem.

use std::path::Path;

use crate::support::certs::{Certs, OPENSSL};
use crate::support::files::{self, backup_dir};
use crate::support::mariadb::{self, MariaDb};
use crate::support::{my_fixture, tools};

fn path(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

/// The round trip through a server that refuses TCP connections without TLS, for a user that must present a
/// client certificate (`REQUIRE X509`): db-backup's own connection and mariadb-dump and mariadb (through the
/// option file's ssl lines) all present it and check the server's certificate and name.
#[test]
fn require_secure_transport_round_trip_with_verify_full_and_a_client_certificate() {
    if !mariadb::available() || !tools::available(OPENSSL) {
        return;
    }
    let certs = Certs::new();
    let (cert, key) = certs.client("root");
    let my = MariaDb::start_requiring_tls(&certs);
    my.sql(None, "ALTER USER 'root'@'127.0.0.1' REQUIRE X509");
    let source = my_fixture::create(&my, "app");
    let dir = backup_dir();
    // The server's certificate names `localhost` only: verify-full needs DB_HOST to be that name.
    let cmd = my
        .db_backup("app", dir.path())
        .env("DB_HOST", "localhost")
        .env("DB_SSLMODE", "verify-full")
        .env("DB_SSL_CA_FILE", &path(&certs.ca()))
        .env("DB_SSL_CERT_FILE", &path(&cert))
        .env("DB_SSL_KEY_FILE", &path(&key));
    // Without the client certificate the user may not log in.
    cmd.clone()
        .without("DB_SSL_CERT_FILE")
        .without("DB_SSL_KEY_FILE")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["client certificate", "DB_SSL_CERT_FILE"]);

    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "my");
    crate::mysql::roundtrip::check_artifacts(dir.path(), &name);
    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    my_fixture::assert_same_dump(&my.dump("copy"), &source);
}

#[test]
fn require_secure_transport_refusals_name_tls_and_the_certificate() {
    if !mariadb::available() || !tools::available(OPENSSL) {
        return;
    }
    let certs = Certs::new();
    let my = MariaDb::start_requiring_tls(&certs);
    my.create_db("app");
    my.sql(
        Some("app"),
        "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)",
    );
    let dir = backup_dir();
    let base = my.db_backup("app", dir.path());

    // A plain connection: the server refuses it for want of TLS, and the message says so.
    base.clone()
        .env("DB_SSLMODE", "disable")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["accepts only TLS", "DB_SSLMODE=require"]);

    // verify-full to a name the certificate does not hold.
    base.clone()
        .env("DB_HOST", "127.0.0.1")
        .env("DB_SSLMODE", "verify-full")
        .env("DB_SSL_CA_FILE", &path(&certs.ca()))
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["not valid for the host name 127.0.0.1"]);
    let left = files::backups(dir.path());
    assert!(left.is_empty(), "a refused backup leaves no file: {left:?}");

    // verify-ca checks the chain only; require encrypts without checking; the default (prefer) uses TLS.
    base.clone()
        .env("DB_HOST", "127.0.0.1")
        .env("DB_SSLMODE", "verify-ca")
        .env("DB_SSL_CA_FILE", &path(&certs.ca()))
        .run(&["backup-db"])
        .expect_success();
    base.clone()
        .env("DB_SSLMODE", "require")
        .run(&["backup-db"])
        .expect_success();
    base.run(&["backup-db"]).expect_success();
}
