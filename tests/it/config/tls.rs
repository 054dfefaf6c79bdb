//! The TLS settings as a user meets them: bad values and unreadable files stop the run with exit status 2 naming
//! the variable, before any server is contacted; `config` says where trust comes from.

use std::fs;

use crate::support::DbBackup;
use crate::support::files::backup_dir;

#[test]
fn a_bad_mode_names_the_variable_and_the_allowed_values() {
    let dir = backup_dir();
    for (var, value) in [("DB_SSLMODE", "strict"), ("PGSSLMODE", "on")] {
        DbBackup::offline(dir.path())
            .env(var, value)
            .run(&["backup-db"])
            .expect_code(2)
            .expect_stderr_mentions(&[var, "disable, prefer, require, verify-ca, verify-full"]);
    }
}

/// The offline configuration points at port 1: a run that got as far as connecting would fail with status 1.
#[test]
fn files_that_cannot_be_used_stop_the_run_before_connecting() {
    let dir = backup_dir();
    let files = tempfile::tempdir().expect("temp dir");
    let not_pem = files.path().join("ca.txt");
    fs::write(&not_pem, "not a certificate\n").expect("write");
    let missing = files.path().join("missing.pem");
    let cases = [
        ("DB_SSL_CA_FILE", missing.clone(), "cannot read"),
        ("PGSSLROOTCERT", missing.clone(), "cannot read"),
        (
            "DB_SSL_CA_FILE",
            not_pem.clone(),
            "holds no PEM certificate",
        ),
    ];
    for (var, file, says) in cases {
        DbBackup::offline(dir.path())
            .env("DB_SSLMODE", "verify-full")
            .env(var, file.to_str().expect("UTF-8 path"))
            .run(&["backup-db"])
            .expect_code(2)
            .expect_stderr_mentions(&["DB_SSL_CA_FILE", says]);
    }
    DbBackup::offline(dir.path())
        .env("DB_SSL_CERT_FILE", "/etc/hostname")
        .run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&["DB_SSL_KEY_FILE", "is required with DB_SSL_CERT_FILE"]);
}

#[test]
fn config_shows_the_mode_and_where_trust_comes_from() {
    let dir = backup_dir();
    let run = DbBackup::offline(dir.path())
        .env("PGSSLMODE", "verify-full")
        .run(&["config"]);
    run.expect_success();
    assert!(run.stdout.contains("DB_SSLMODE=verify-full\n"), "{run}");
    assert!(
        run.stdout
            .contains("DB_SSL_CA_FILE=(the system trust store)\n"),
        "{run}"
    );
    let run = DbBackup::offline(dir.path()).run(&["config"]);
    assert!(run.stdout.contains("DB_SSLMODE=prefer\n"), "{run}");
}
