//! The bad-input tour: every setting the README lists, given a wrong value, stops the program with exit
//! status 2 and a message naming the variable, before anything is touched; `restore` given a file that is not
//! there, a `.sha256` that does not match, or a backup another engine made refuses without touching a
//! database.

use std::fs;
use std::io::Write;
use std::time::Duration;

use crate::support::files::{self, backup_dir, write_with_checksum};
use crate::support::redis::craft_rdb;
use crate::support::{DbBackup, PG_SERVER, PgServer, Run, fixture, require_tools};

/// A valid age public key (the example of age's README), for the cases that need one.
const AGE_KEY: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
/// A valid S3 destination, for the cases that break one of its settings.
const S3: &[(&str, &str)] = &[
    ("S3_BACKUP_BUCKET", "backups"),
    ("S3_ACCESS_KEY", "access"),
    ("S3_SECRET_KEY", "secret"),
    ("S3_ENDPOINT", "http://127.0.0.1:1"),
    ("S3_FORCE_PATH_STYLE", "true"),
];

/// One wrong setting: the variable the message must name, what to set (and unset) on top of a valid
/// PostgreSQL configuration.
struct Case {
    names: &'static str,
    set: Vec<(&'static str, &'static str)>,
    unset: &'static [&'static str],
}

fn case(names: &'static str, set: &[(&'static str, &'static str)]) -> Case {
    Case {
        names,
        set: set.to_vec(),
        unset: &[],
    }
}

fn with_s3(names: &'static str, set: &[(&'static str, &'static str)]) -> Case {
    let mut all = S3.to_vec();
    all.retain(|(k, _)| !set.iter().any(|(s, _)| s == k));
    all.extend_from_slice(set);
    Case {
        names,
        set: all,
        unset: &[],
    }
}

fn cases() -> Vec<Case> {
    let command = [("DB_TYPE", "command"), ("BACKUP_CMD", "echo dump")];
    let with_command = |names, extra: &[(&'static str, &'static str)]| {
        let mut set = command.to_vec();
        set.extend_from_slice(extra);
        Case {
            names,
            set,
            unset: &[],
        }
    };
    let mut out = vec![
        with_command("BACKUP_NAME", &[("BACKUP_NAME", "tar.gz")]),
        with_command("BACKUP_USER", &[("BACKUP_USER", "no-such-user-here")]),
        with_command("BACKUP_CMD", &[("BACKUP_CMD", "")]),
    ];
    out.extend([
        // The connection and what to back up.
        case("DB_TYPE", &[("DB_TYPE", "oracle")]),
        case("DB_PORT", &[("DB_PORT", "99999")]),
        Case {
            names: "PGPORT",
            set: vec![("PGPORT", "0")],
            unset: &["DB_PORT"],
        },
        case("DB_NAME", &[("DB_NAME", "app,,other")]),
        case("DB_CONTAINER", &[("DB_CONTAINER", "../etc")]),
        case(
            "DB_PASSWORD_FILE",
            &[("DB_PASSWORD_FILE", "/nonexistent/pw")],
        ),
        case(
            "DB_PASSWORD",
            &[("DB_PASSWORD", "x"), ("DB_PASSWORD_FILE", "/etc/hostname")],
        ),
        case("DB_WAIT_TIMEOUT", &[("DB_WAIT_TIMEOUT", "soon")]),
        case("DB_PATH", &[("DB_TYPE", "sqlite")]),
        // Where and how backups are kept.
        case("BACKUP_DIR", &[("BACKUP_DIR", "backups")]),
        Case {
            names: "DB_BACKUP_DIR",
            set: vec![("DB_BACKUP_DIR", "relative/backups")],
            unset: &["BACKUP_DIR"],
        },
        case(
            "BACKUP_RETENTION_DAYS",
            &[("BACKUP_RETENTION_DAYS", "a week")],
        ),
        case("DB_BACKUP_MAX_N", &[("DB_BACKUP_MAX_N", "-1")]),
        case("DB_BACKUP_PREFIX", &[("DB_BACKUP_PREFIX", "a/b")]),
        case("DB_BACKUP_MAX_N", &[("DB_BACKUP_MAXN", "3")]), // the "did you mean"
        case("BACKUP_COMPRESSION", &[("BACKUP_COMPRESSION", "rar")]),
        case(
            "BACKUP_COMPRESSION_LEVEL",
            &[("BACKUP_COMPRESSION_LEVEL", "99")],
        ),
        case(
            "BACKUP_COMPRESSION_LEVEL",
            &[
                ("BACKUP_COMPRESSION", "zstd"),
                ("BACKUP_COMPRESSION_LEVEL", "20"),
            ],
        ),
        // The dump tools.
        case("PG_DUMP_FORMAT", &[("PG_DUMP_FORMAT", "tar")]),
        case("PG_DUMP_ARGS", &[("PG_DUMP_ARGS", "--file=/tmp/elsewhere")]),
        case("PG_DUMP_ARGS", &[("PG_DUMP_ARGS", "'unclosed")]),
        case("PG_BIN_DIR", &[("PG_BIN_DIR", "/nonexistent/bin")]),
        case("PG_RESTORE_JOBS", &[("PG_RESTORE_JOBS", "0")]),
        case(
            "MYSQLDUMP_ARGS",
            &[("DB_TYPE", "mysql"), ("MYSQLDUMP_ARGS", "--skip-comments")],
        ),
        case(
            "MYSQLDUMP_ARGS",
            &[("DB_TYPE", "mysql"), ("MYSQLDUMP_ARGS", "--result-file=/x")],
        ),
        case(
            "MYSQL_BIN_DIR",
            &[("DB_TYPE", "mysql"), ("MYSQL_BIN_DIR", "/nonexistent/bin")],
        ),
        // Time and logs.
        case("TZ", &[("TZ", "Mars/Olympus_Mons")]),
        case("LOG_FORMAT", &[("LOG_FORMAT", "xml")]),
        case("LOG_LEVEL", &[("LOG_LEVEL", "loud")]),
        // The service.
        case("BACKUP_SCHEDULE", &[("BACKUP_SCHEDULE", "61 * * * *")]),
        case("BACKUP_SCHEDULE", &[("BACKUP_SCHEDULE", "@sometimes")]),
        case(
            "BACKUP_SCHEDULE",
            &[("BACKUP_SCHEDULE", "@daily"), ("DB_BACKUP_INTERVAL", "60")],
        ),
        case("DB_BACKUP_INTERVAL", &[("DB_BACKUP_INTERVAL", "0")]),
        case("BACKUP_ON_START", &[("BACKUP_ON_START", "maybe")]),
        case("BACKUP_RETRIES", &[("BACKUP_RETRIES", "11")]),
        case("BACKUP_STOP_TIMEOUT", &[("BACKUP_STOP_TIMEOUT", "-5")]),
        case("METRICS_PORT", &[("METRICS_PORT", "70000")]),
        case(
            "HEALTHCHECK_PING_URL",
            &[("HEALTHCHECK_PING_URL", "ftp://hc.example/abc")],
        ),
        case(
            "HEALTHCHECK_PING_URL_FILE",
            &[("HEALTHCHECK_PING_URL_FILE", "/nonexistent/url")],
        ),
        case(
            "NOTIFY_WEBHOOK_URL",
            &[("NOTIFY_WEBHOOK_URL", "hooks.example/abc")],
        ),
        case(
            "NOTIFY_ON",
            &[
                ("NOTIFY_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
                ("NOTIFY_ON", "sometimes"),
            ],
        ),
        case("NOTIFY_ON", &[("NOTIFY_ON", "always")]), // without a webhook
        case(
            "NOTIFY_URLS",
            &[("NOTIFY_URLS", "ntfy://ntfy.sh/t,pushover://tok@user")],
        ),
        case(
            "NOTIFY_URLS",
            &[("NOTIFY_URLS", "telegram://123:abc@telegram")], // no chat
        ),
        case(
            "NOTIFY_URLS_FILE",
            &[("NOTIFY_URLS_FILE", "/nonexistent/urls")],
        ),
        case(
            "NOTIFY_TEMPLATE",
            &[
                ("NOTIFY_URLS", "generic+https://h/x"),
                ("NOTIFY_TEMPLATE", "{nope}"),
            ],
        ),
        // Encryption.
        case(
            "BACKUP_ENCRYPTION_RECIPIENTS",
            &[("BACKUP_ENCRYPTION_RECIPIENTS", "age1notakey")],
        ),
        case(
            "BACKUP_ENCRYPTION_RECIPIENTS",
            &[
                ("BACKUP_ENCRYPTION_RECIPIENTS", AGE_KEY),
                ("BACKUP_ENCRYPTION_PASSPHRASE", "both at once"),
            ],
        ),
        case(
            "BACKUP_ENCRYPTION_PASSPHRASE_FILE",
            &[("BACKUP_ENCRYPTION_PASSPHRASE_FILE", "/nonexistent/pass")],
        ),
        case(
            "BACKUP_ENCRYPTION_IDENTITY_FILE",
            &[("BACKUP_ENCRYPTION_IDENTITY_FILE", "keys/age.txt")],
        ),
        // S3.
        with_s3("S3_BACKUP_BUCKET", &[("S3_BACKUP_BUCKET", "Bad_Bucket")]),
        with_s3("S3_ENDPOINT", &[("S3_ENDPOINT", "ftp://store.example")]),
        with_s3("S3_REGION", &[("S3_REGION", "eu central!")]),
        with_s3("S3_PREFIX", &[("S3_PREFIX", "a/../b")]),
        with_s3("S3_FORCE_PATH_STYLE", &[("S3_FORCE_PATH_STYLE", "maybe")]),
        with_s3("S3_FORCE_PATH_STYLE", &[("S3_FORCE_PATH_STYLE", "false")]), // an IP endpoint
        with_s3("S3_PART_SIZE", &[("S3_PART_SIZE", "1MiB")]),
        with_s3("S3_RETRY_SECONDS", &[("S3_RETRY_SECONDS", "soon")]),
        with_s3("S3_SECRET_KEY", &[("S3_SECRET_KEY", "")]),
        with_s3(
            "S3_ACCESS_KEY_FILE",
            &[
                ("S3_ACCESS_KEY", ""),
                ("S3_ACCESS_KEY_FILE", "/nonexistent/k"),
            ],
        ),
        with_s3(
            "S3_2_BACKUP_BUCKET",
            &[("S3_2_ENDPOINT", "http://10.0.0.2:9000")],
        ),
        with_s3("S3_10_BACKUP_BUCKET", &[("S3_10_BACKUP_BUCKET", "more")]),
        case("S3_BACKUP_BUCKET", &[("S3_ACCESS_KEY", "only-a-key")]),
        case("BACKUP_LOCAL", &[("BACKUP_LOCAL", "maybe")]),
        case("BACKUP_LOCAL", &[("BACKUP_LOCAL", "false")]), // with no bucket
        case(
            "BACKUP_TEST_RESTORE",
            &[("BACKUP_TEST_RESTORE", "sometimes")],
        ),
        case("TEST_RESTORE_PORT", &[("TEST_RESTORE_PORT", "0")]),
        case(
            "TEST_RESTORE_PASSWORD_FILE",
            &[("TEST_RESTORE_PASSWORD_FILE", "/nonexistent/pw")],
        ),
    ]);
    out
}

/// Whether `text` names the variable `name` as a whole word: `DB_PASSWORD` inside `DB_PASSWORD_FILE` does not count.
fn names_variable(text: &str, name: &str) -> bool {
    let part_of_name = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    text.match_indices(name).any(|(at, _)| {
        !part_of_name(text[..at].chars().next_back())
            && !part_of_name(text[at + name.len()..].chars().next())
    })
}

#[test]
fn a_variable_is_named_only_as_a_whole_word() {
    assert!(names_variable("error: DB_PASSWORD is set", "DB_PASSWORD"));
    assert!(names_variable("DB_PASSWORD=", "DB_PASSWORD"));
    assert!(!names_variable(
        "error: DB_PASSWORD_FILE is set",
        "DB_PASSWORD"
    ));
    assert!(!names_variable("error: S3_DB_PASSWORD", "DB_PASSWORD"));
    assert!(names_variable(
        "DB_PASSWORD_FILE and DB_PASSWORD.",
        "DB_PASSWORD"
    ));
}

#[test]
fn every_setting_with_a_wrong_value_is_refused_naming_it() {
    let cases = cases();
    let named: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.names).collect();
    assert!(named.len() >= 25, "only {} variables covered", named.len());
    let mut wrong = Vec::new();
    for case in &cases {
        let dir = backup_dir();
        let mut cmd = DbBackup::offline(dir.path()).env("DB_WAIT_TIMEOUT", "1");
        for key in case.unset {
            cmd = cmd.without(key);
        }
        for (key, value) in &case.set {
            cmd = cmd.env(key, value);
        }
        let run = cmd.run(&["backup-db"]);
        let said = run.stderr.lines().last().unwrap_or("").to_string();
        let problem = if run.code != Some(2) {
            Some(format!("exit status {:?}", run.code))
        } else if !names_variable(&run.stderr, case.names) {
            Some(format!("stderr does not name {}", case.names))
        } else if !files::names(dir.path()).is_empty() {
            Some(format!(
                "BACKUP_DIR touched: {:?}",
                files::names(dir.path())
            ))
        } else if run.elapsed > Duration::from_secs(10) {
            Some(format!("took {:?}", run.elapsed))
        } else {
            None
        };
        if let Some(problem) = problem {
            wrong.push(format!("{:?}: {problem}: {said}", case.set));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} bad settings were not refused properly:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

/// A server with the fixture in `app` and one backup of it, a database `existing` with a row and an empty
/// database `empty`.
struct Scene {
    pg: PgServer,
    dir: tempfile::TempDir,
    cmd: DbBackup,
    backup: String,
}

fn scene() -> Scene {
    let (pg, dir, cmd, backup) = fixture::backed_up_beside_existing();
    pg.create_db("empty");
    Scene {
        pg,
        dir,
        cmd,
        backup,
    }
}

impl Scene {
    /// `restore <target>` into a new database, an empty one and one with data: every attempt fails naming
    /// one of `cause`, no database is created, and the others are as they were.
    fn assert_refused(&self, cmd: &DbBackup, target: &str, cause: &[&str]) -> Run {
        let existing = self.pg.dump("existing");
        let empty = self.pg.dump("empty");
        let mut last = None;
        for into in ["copy", "empty", "existing"] {
            let run = cmd.run(&["restore", target, "--database", into]);
            assert!(
                matches!(run.code, Some(1) | Some(2)),
                "restore {target} into {into}: expected a refusal:\n{run}"
            );
            run.expect_stderr_mentions_any(cause);
            last = Some(run);
        }
        assert!(
            !self.pg.db_exists("copy"),
            "restore {target}: a refused restore created the database"
        );
        assert_eq!(self.pg.dump("existing"), existing, "restore {target}");
        assert_eq!(self.pg.dump("empty"), empty, "restore {target}");
        last.expect("a run")
    }
}

#[test]
fn restore_refuses_missing_files_wrong_checksums_and_other_engines_backups() {
    require_tools!(PG_SERVER);
    let s = scene();
    let dir = s.dir.path();

    // Files that are not there: by name, by path, in a directory that is not there.
    let missing = "pg-2001-01-01T00-00-00.sql.gz";
    let run = s.assert_refused(&s.cmd, missing, &[missing]);
    run.expect_stderr_mentions_any(&["does not exist", "no such"]);
    let elsewhere = dir.join("nowhere").join(missing);
    let elsewhere = elsewhere.to_str().expect("UTF-8 path");
    s.assert_refused(&s.cmd, elsewhere, &["nowhere"]);
    let also_missing = format!("{}/{missing}", dir.display());
    s.assert_refused(&s.cmd, &also_missing, &[missing])
        .expect_stderr_mentions_any(&["does not exist", "no such"]);

    // A checksum file that names another content.
    let checksum = dir.join(format!("{}.sha256", s.backup));
    let good = fs::read_to_string(&checksum).expect("read checksum");
    fs::write(
        &checksum,
        format!("{}  {}\n", files::sha256_hex(b"other bytes"), s.backup),
    )
    .expect("replace checksum");
    s.assert_refused(&s.cmd, &s.backup, &["checksum", "sha256", "sha-256"]);
    s.assert_refused(&s.cmd, "latest", &["checksum", "sha256", "sha-256"]);
    s.cmd
        .run(&["verify", &s.backup])
        .expect_code(1)
        .expect_output_mentions_any(&["checksum", "sha256", "sha-256"]);
    fs::write(&checksum, good).expect("restore checksum");

    // A Redis backup given to the PostgreSQL engine, by name and as the newest of the series.
    let rdb = "pg-2030-01-01T00-00-00.rdb.gz";
    write_with_checksum(dir, rdb, &gzip(&craft_rdb(b"")));
    s.assert_refused(&s.cmd, rdb, &["postgres"])
        .expect_stderr_mentions(&["rdb"]);
    s.assert_refused(&s.cmd, "latest", &["postgres"])
        .expect_stderr_mentions(&["rdb"]);
    fs::remove_file(dir.join(rdb)).expect("remove the rdb");
    fs::remove_file(dir.join(format!("{rdb}.sha256"))).expect("remove its checksum");

    // A MySQL dump, which has the same `.sql` extension.
    let mysql = "pg-2030-01-02T00-00-00.sql.gz";
    write_with_checksum(dir, mysql, &gzip(MYSQL_DUMP.as_bytes()));
    s.assert_refused(&s.cmd, mysql, &["mysql", "mariadb"]);
    fs::remove_file(dir.join(mysql)).expect("remove the mysql dump");
    fs::remove_file(dir.join(format!("{mysql}.sha256"))).expect("remove its checksum");

    // A PostgreSQL backup given to other engines: refused before any server is asked.
    let pg_backup = dir.join(&s.backup);
    let pg_backup = pg_backup.to_str().expect("UTF-8 path");
    for (engine, extra) in [
        ("redis", &[("DB_PORT", "1")][..]),
        ("mysql", &[("DB_PORT", "1")][..]),
        ("sqlite", &[("DB_PATH", "/nonexistent/app.db")][..]),
    ] {
        let mut cmd = DbBackup::offline(dir).env("DB_TYPE", engine);
        for (k, v) in extra {
            cmd = cmd.env(k, v);
        }
        let run = cmd.run(&["restore", pg_backup]);
        assert!(
            matches!(run.code, Some(1) | Some(2)),
            "restore of a PostgreSQL backup with DB_TYPE={engine}:\n{run}"
        );
        run.expect_stderr_mentions(&[engine, "sql"]);
        assert!(
            !run.stderr.contains("cannot connect"),
            "the refusal should come before any server is asked:\n{run}"
        );
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// The start and end of a dump as `mariadb-dump` writes it.
const MYSQL_DUMP: &str = "/*M!999999\\- enable the sandbox mode */ \n\
-- MariaDB dump 10.19-11.4.5-MariaDB, for debian-linux-gnu (x86_64)\n\
--\n\
-- Host: 127.0.0.1    Database: app\n\
-- ------------------------------------------------------\n\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n\
DROP TABLE IF EXISTS `t`;\n\
CREATE TABLE `t` (\n  `id` int(11) NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n\
INSERT INTO `t` VALUES (1),(2);\n\
-- Dump completed on 2025-01-02  3:04:05\n";
