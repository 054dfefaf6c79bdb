//! PostgreSQL round trips: back up a rich database, restore it into another, and get exactly the same dump back.

use std::time::Duration;

use crate::support::files::{self, backup_dir, check_artifacts};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// Backs up the fixture database `app` with `env`; restores `latest` into a new database `copy`;
/// checks the file's name and artifacts, and that the copy's dump and facts equal the source's.
fn round_trip(env: &[(&str, &str)], series: &str, suffix: &str) {
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = env.iter().fold(
        DbBackup::for_server(&pg, "app", dir.path()),
        |cmd, (k, v)| cmd.env(k, v),
    );

    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), series);
    assert!(name.ends_with(suffix), "{name} should end with {suffix}");
    check_artifacts(dir.path(), &name);

    assert!(!pg.db_exists("copy"));
    fixture::assert_latest_restores_as(&cmd, &pg, &source);
    assert_eq!(fixture::facts(&pg, "copy"), fixture::FACTS);
}

#[test]
fn gzip_plain_round_trip() {
    require_tools!(PG_SERVER, &["sha256sum", "gzip"]);
    round_trip(&[], "pg", ".sql.gz");
}

#[test]
fn zstd_round_trip() {
    require_tools!(PG_SERVER, &["sha256sum", "zstd"]);
    round_trip(
        &[
            ("BACKUP_COMPRESSION", "zstd"),
            ("BACKUP_COMPRESSION_LEVEL", "5"),
        ],
        "pg",
        ".sql.zst",
    );
}

#[test]
fn uncompressed_round_trip_with_prefix() {
    require_tools!(PG_SERVER, &["sha256sum"]);
    round_trip(
        &[
            ("BACKUP_COMPRESSION", "none"),
            ("DB_BACKUP_PREFIX", "nightly-"),
        ],
        "nightly-pg",
        ".sql",
    );
}

#[test]
fn custom_format_round_trip() {
    require_tools!(PG_SERVER, &["sha256sum", "gzip", "pg_restore"]);
    round_trip(&[("PG_DUMP_FORMAT", "custom")], "pg", ".dump.gz");
}

/// Over the Unix socket, where the server trusts local users, no password is set: backup and restore work,
/// and the series is still named by DB_CONTAINER.
#[test]
fn socket_without_a_password() {
    require_tools!(PG_SERVER, &["sha256sum", "gzip"]);
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .without("DB_PASSWORD")
        .env("DB_HOST", pg.socket_dir().to_str().expect("UTF-8 path"));
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");
    check_artifacts(dir.path(), &name);
    fixture::assert_latest_restores_as(&cmd, &pg, &source);
}

#[test]
fn pg_aliases_configure_the_connection() {
    require_tools!(PG_SERVER, &["sha256sum", "gzip"]);
    let pg = PgServer::start();
    let port = pg.port().to_string();
    let env = [
        ("PGHOST", "127.0.0.1"),
        ("PGPORT", port.as_str()),
        ("PGUSER", "postgres"),
        ("PGPASSWORD", pg.password()),
    ];
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = env.iter().fold(
        DbBackup::for_server(&pg, "app", dir.path())
            .without("DB_HOST")
            .without("DB_PORT")
            .without("DB_USER")
            .without("DB_PASSWORD"),
        |cmd, (k, v)| cmd.env(k, v),
    );
    cmd.run(&["backup-db"]).expect_success();
    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    assert_eq!(pg.dump("copy"), source);
}

#[test]
fn restore_into_existing_empty_database() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    let source = fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();

    pg.create_db("copy");
    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    assert_eq!(pg.dump("copy"), source);
    assert_eq!(fixture::facts(&pg, "copy"), fixture::FACTS);
}

/// Two backups a second apart: a name restores the older one, `latest` the newer, a path works too.
#[test]
fn restore_by_file_name_path_and_latest() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    let first = fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let first_name = files::only_backup(dir.path(), "pg");

    pg.psql(
        "app",
        "INSERT INTO people (name) VALUES ('added after the first backup')",
    );
    let second = pg.dump("app");
    std::thread::sleep(Duration::from_millis(1100)); // names have a resolution of one second
    cmd.run(&["backup-db"]).expect_success();
    assert_eq!(
        files::backups(dir.path()).len(),
        2,
        "{:?}",
        files::names(dir.path())
    );

    cmd.run(&["restore", &first_name, "--database", "by_name"])
        .expect_success();
    assert_eq!(pg.dump("by_name"), first);
    let path = dir.path().join(&first_name);
    cmd.run(&[
        "restore",
        path.to_str().expect("UTF-8 path"),
        "--database",
        "by_path",
    ])
    .expect_success();
    assert_eq!(pg.dump("by_path"), first);
    cmd.run(&["restore", "latest", "--database", "newest"])
        .expect_success();
    assert_eq!(pg.dump("newest"), second);
    assert_ne!(first, second);
}
