//! Encryption settings are checked before anything happens: exit 2 naming the variable.

use crate::support::DbBackup;
use crate::support::files::{self, backup_dir};

fn refused(env: &[(&str, &str)], variable: &str) {
    let dir = backup_dir();
    let cmd = env
        .iter()
        .fold(DbBackup::offline(dir.path()), |cmd, (k, v)| cmd.env(k, v));
    cmd.run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&[variable]);
    assert!(files::names(dir.path()).is_empty());
}

#[test]
fn a_bad_recipient_is_refused() {
    refused(
        &[("BACKUP_ENCRYPTION_RECIPIENTS", "age1notakey")],
        "BACKUP_ENCRYPTION_RECIPIENTS",
    );
}

#[test]
fn recipients_and_passphrase_together_are_refused() {
    refused(
        &[
            (
                "BACKUP_ENCRYPTION_RECIPIENTS",
                "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            ),
            ("BACKUP_ENCRYPTION_PASSPHRASE", "x"),
        ],
        "BACKUP_ENCRYPTION_PASSPHRASE",
    );
}

#[test]
fn a_relative_identity_file_is_refused() {
    refused(
        &[("BACKUP_ENCRYPTION_IDENTITY_FILE", "keys/id.txt")],
        "BACKUP_ENCRYPTION_IDENTITY_FILE",
    );
}
