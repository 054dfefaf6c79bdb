//! PostgreSQL that accepts only TLS (`ssl=on`, `pg_hba.conf` with only `hostssl` lines) and certificates made by
//! the test: a verified round trip, and the refusals that must name TLS or the certificate problem.

use std::path::PathBuf;

use crate::support::certs::{Certs, OPENSSL};
use crate::support::files::{self, backup_dir, check_artifacts};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// A server with the fixture in `app` that accepts only TLS; with `client_cert`, only with a client
/// certificate signed by the test's CA as well.
fn tls_server(certs: &Certs, client_cert: Option<(PathBuf, PathBuf)>) -> (PgServer, String) {
    let mut pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    pg.require_tls(certs, client_cert);
    (pg, source)
}

/// The round trip through a server that wants TLS and a client certificate: db-backup's own connection, and
/// pg_dump and psql (which get PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY), all present it.
#[test]
fn hostssl_only_server_round_trip_with_verify_full_and_a_client_certificate() {
    require_tools!(PG_SERVER, OPENSSL, &["sha256sum", "gzip"]);
    let certs = Certs::new();
    let (cert, key) = certs.client("postgres");
    let (pg, source) = tls_server(&certs, Some((cert.clone(), key.clone())));
    let dir = backup_dir();
    let ca = certs.ca();
    let path = |p: &PathBuf| p.to_str().expect("UTF-8 path").to_string();
    // The certificate names `localhost` only: verify-full needs DB_HOST to be that name. The libpq names are
    // accepted as aliases.
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .env("DB_HOST", "localhost")
        .env("DB_SSLMODE", "verify-full")
        .env("DB_SSL_CA_FILE", &path(&ca))
        .env("PGSSLCERT", &path(&cert))
        .env("DB_SSL_KEY_FILE", &path(&key));
    // Without the client certificate the server refuses.
    cmd.clone()
        .without("PGSSLCERT")
        .without("DB_SSL_KEY_FILE")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["wants a client certificate", "DB_SSL_CERT_FILE"]);
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");
    check_artifacts(dir.path(), &name);
    fixture::assert_latest_restores_as(&cmd, &pg, &source);
}

#[test]
fn hostssl_only_server_refusals_name_tls_and_the_certificate() {
    require_tools!(PG_SERVER, OPENSSL, &["sha256sum", "gzip"]);
    let certs = Certs::new();
    let (pg, _) = tls_server(&certs, None);
    let ca = certs.ca();
    let ca = ca.to_str().expect("UTF-8 path");
    let dir = backup_dir();
    let base = DbBackup::for_server(&pg, "app", dir.path());

    // A plain connection is refused by pg_hba.conf ("no encryption"): the message says TLS, not the password.
    base.clone()
        .env("DB_SSLMODE", "disable")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["accepts only TLS", "DB_SSLMODE=require"]);

    // verify-full to a name the certificate does not hold (it names only localhost).
    base.clone()
        .env("DB_HOST", "127.0.0.1")
        .env("DB_SSLMODE", "verify-full")
        .env("DB_SSL_CA_FILE", ca)
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["not valid for the host name 127.0.0.1", "verify-ca"]);

    // A CA that did not sign the server's certificate.
    let other = Certs::new();
    base.clone()
        .env("DB_HOST", "localhost")
        .env("DB_SSLMODE", "verify-ca")
        .env("DB_SSL_CA_FILE", other.ca().to_str().expect("UTF-8 path"))
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["not signed by a trusted CA", "DB_SSL_CA_FILE"]);
    let left = files::backups(dir.path());
    assert!(left.is_empty(), "a refused backup leaves no file: {left:?}");

    // verify-ca checks the chain only: the same address works; and the default (prefer) uses TLS.
    base.clone()
        .env("DB_HOST", "127.0.0.1")
        .env("DB_SSLMODE", "verify-ca")
        .env("DB_SSL_CA_FILE", ca)
        .run(&["backup-db"])
        .expect_success();
    base.run(&["backup-db"]).expect_success();
}

/// A server that offers TLS but whose pg_hba.conf takes only plain connections (`hostnossl`): the default,
/// prefer, falls back to a plain connection as libpq does (pg_dump's own libpq does the same), and require says
/// why it cannot connect.
#[test]
fn prefer_falls_back_to_plain_where_pg_hba_refuses_tls() {
    require_tools!(PG_SERVER, OPENSSL, &["sha256sum", "gzip"]);
    let certs = Certs::new();
    let mut pg = PgServer::start();
    pg.create_db("app");
    pg.offer_tls_but_accept_only_plain(&certs);
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    cmd.env("DB_SSLMODE", "require")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&[
            "accepts no TLS connection",
            "no pg_hba.conf entry",
            "SSL encryption",
        ]);
}
