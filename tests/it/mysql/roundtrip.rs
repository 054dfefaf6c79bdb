//! MySQL/MariaDB round trips: back up a rich database, restore it into another, and get the same dump back.

use std::path::Path;

use crate::support::files::{self, backup_dir, run_tool};
use crate::support::mariadb::{self, MariaDb};
use crate::support::my_fixture;

/// What every MySQL backup file must satisfy: mode 0600 (checksum too), `sha256sum -c` accepts it, gzip
/// accepts it, and the content is a dump that closes with its trailer and names no database.
pub fn check_artifacts(dir: &Path, name: &str) {
    assert_eq!(
        files::mode(&dir.join(name)),
        0o600,
        "{name} must be mode 0600"
    );
    let checksum = format!("{name}.sha256");
    assert_eq!(files::mode(&dir.join(&checksum)), 0o600);
    let said = run_tool(dir, "sha256sum", &["-c", &checksum]);
    assert_eq!(said.trim(), format!("{name}: OK"));
    if name.ends_with(".gz") {
        run_tool(dir, "gzip", &["-t", name]);
    }
    let text = String::from_utf8(files::decompress(&dir.join(name))).expect("UTF-8 dump");
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        last.starts_with("-- Dump completed"),
        "{name} does not end with the trailer: {last:?}"
    );
    assert!(
        !text.contains("\nUSE `") && !text.contains("CREATE DATABASE"),
        "{name} must not name its database, or it could not be restored under another name"
    );
}

#[test]
fn everything_comes_back_in_a_new_database() {
    if !mariadb::available() {
        return;
    }
    let my = MariaDb::start();
    let source = my_fixture::create(&my, "app");
    assert_eq!(my_fixture::facts(&my, "app"), my_fixture::FACTS);
    let dir = backup_dir();
    let cmd = my.db_backup("app", dir.path());

    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "my");
    assert!(name.ends_with(".sql.gz"), "{name}");
    check_artifacts(dir.path(), &name);
    cmd.run(&["verify", "latest"]).expect_success();

    assert!(!my.db_exists("copy"));
    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    my_fixture::assert_same_dump(&my.dump("copy"), &source);
    assert_eq!(my_fixture::facts(&my, "copy"), my_fixture::FACTS);

    // A second restore into the now non-empty copy is refused and changes nothing.
    let again = cmd.run(&["restore", "latest", "--database", "copy"]);
    again.expect_code(1).expect_stderr_mentions(&["not empty"]);
    my_fixture::assert_same_dump(&my.dump("copy"), &source);
}

/// A user of MariaDB's `ed25519` authentication (the connection check and the client tools both need its
/// plugin), zstd, and an existing empty database used as it is (so a user can create it first with the
/// character set they want).
#[test]
fn ed25519_user_zstd_and_an_existing_empty_database() {
    if !mariadb::available() || !crate::support::tools::available(&["zstd"]) {
        return;
    }
    let my = MariaDb::start();
    let source = my_fixture::create(&my, "app");
    let password = "ed-pw-\"#x";
    my.sql(
        None,
        &format!(
            "INSTALL SONAME 'auth_ed25519';
             CREATE USER 'edu'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD({pw});
             GRANT ALL ON *.* TO 'edu'@'127.0.0.1';",
            pw = mariadb::quote_literal(password)
        ),
    );
    let dir = backup_dir();
    let cmd = my
        .db_backup("app", dir.path())
        .env("DB_USER", "edu")
        .env("DB_PASSWORD", password)
        .env("BACKUP_COMPRESSION", "zstd");
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "my");
    assert!(name.ends_with(".sql.zst"), "{name}");

    my.sql(None, "CREATE DATABASE copy CHARACTER SET utf8mb4");
    cmd.run(&["restore", &name, "--database", "copy"])
        .expect_success();
    my_fixture::assert_same_dump(&my.dump("copy"), &source);
    assert_eq!(my_fixture::facts(&my, "copy"), my_fixture::FACTS);
}
