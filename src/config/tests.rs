//! Tests of configuration: defaults, aliases and every kind of bad value.

use super::*;
use crate::engine::command::settings::CommandSettings;
use crate::engine::postgres::settings::{PgFormat, PgSettings};
use crate::pipeline::Compression;
use crate::retention::Policy;
use std::path::PathBuf;

fn pg(c: &Config) -> &PgSettings {
    match &c.engine {
        EngineSettings::Postgres(pg) => pg,
        other => panic!("expected PostgreSQL settings, got {other:?}"),
    }
}

fn command(c: &Config) -> &CommandSettings {
    match &c.engine {
        EngineSettings::Command(cmd) => cmd,
        other => panic!("expected the command engine's settings, got {other:?}"),
    }
}

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_vars(&vars, &|p: &Path| {
        if p == Path::new("/run/secrets/pw") {
            Ok("from-file\n".to_string())
        } else {
            Err(std::io::Error::from(std::io::ErrorKind::NotFound))
        }
    })
}

fn err(pairs: &[(&str, &str)]) -> ConfigError {
    match cfg(pairs) {
        Ok(c) => panic!(
            "expected an error, got a configuration for {}",
            c.conn.kind.name()
        ),
        Err(e) => e,
    }
}

#[test]
fn defaults() {
    let c = cfg(&[("DB_NAME", "app")]).unwrap();
    assert_eq!(c.conn.kind, EngineKind::Postgres);
    assert_eq!(c.conn.host, "localhost");
    assert_eq!(c.conn.port, 5432);
    assert_eq!(c.conn.user, "postgres");
    assert_eq!(c.naming.container, "postgres");
    assert_eq!(c.destinations.backup_dir, PathBuf::from("/backups"));
    assert_eq!(
        c.destinations.retention,
        Policy {
            max_age_days: 7,
            max_count: 10,
            keep: crate::retention::Keep::default()
        }
    );
    assert_eq!(c.pipeline.compression, Compression::Gzip);
    assert_eq!(c.pipeline.compression_level, 4);
    assert_eq!(pg(&c).format, PgFormat::Plain);
    assert_eq!(c.naming.tz, chrono_tz::UTC);
    assert_eq!(c.naming.databases, Databases::One("app".into()));
    assert_eq!(c.series_for("app"), "postgres");
}

#[test]
fn seed_aliases_work() {
    let c = cfg(&[
        ("PGHOST", "db"),
        ("PGPORT", "5433"),
        ("PGUSER", "u"),
        ("PGPASSWORD", "p"),
        ("DB_NAME", "a,b"),
        ("DB_BACKUP_DIR", "/data"),
        ("DB_TYPE", "postgresql"),
    ])
    .unwrap();
    assert_eq!(
        (c.conn.host.as_str(), c.conn.port, c.conn.user.as_str()),
        ("db", 5433, "u")
    );
    assert_eq!(c.conn.password.as_ref().map(Secret::expose), Some("p"));
    assert_eq!(c.naming.container, "db");
    assert_eq!(c.destinations.backup_dir, PathBuf::from("/data"));
    assert_eq!(c.series_for("b"), "db-b");
}

#[test]
fn ours_win_over_the_seed_names() {
    let c = cfg(&[("DB_HOST", "a"), ("PGHOST", "b"), ("DB_NAME", "x")]).unwrap();
    assert_eq!(c.conn.host, "a");
}

#[test]
fn password_file_is_read_and_never_printed() {
    let c = cfg(&[("DB_PASSWORD_FILE", "/run/secrets/pw"), ("DB_NAME", "x")]).unwrap();
    assert_eq!(
        c.conn.password.as_ref().map(Secret::expose),
        Some("from-file")
    );
    let shown = format!("{c:?} {:?}", c.describe());
    assert!(!shown.contains("from-file"), "{shown}");
}

#[test]
fn bad_values_name_their_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("DB_TYPE", "oracle")], "DB_TYPE"),
        (&[("BACKUP_COMPRESSION", "rar")], "BACKUP_COMPRESSION"),
        (&[("DB_BACKUP_MAX_N", "-1")], "DB_BACKUP_MAX_N"),
        (&[("BACKUP_RETENTION_DAYS", "abc")], "BACKUP_RETENTION_DAYS"),
        (&[("DB_PORT", "70000")], "DB_PORT"),
        (&[("DB_PORT", "0")], "DB_PORT"),
        (
            &[("BACKUP_COMPRESSION_LEVEL", "13")],
            "BACKUP_COMPRESSION_LEVEL",
        ),
        (&[("PG_DUMP_FORMAT", "tar")], "PG_DUMP_FORMAT"),
        (&[("PG_DUMP_ARGS", "--file=/tmp/x")], "PG_DUMP_ARGS"),
        (&[("PG_DUMP_ARGS", "-Fd")], "PG_DUMP_ARGS"),
        (&[("PG_DUMP_ARGS", "'unclosed")], "PG_DUMP_ARGS"),
        (&[("TZ", "Mars/Olympus")], "TZ"),
        (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (&[("LOG_LEVEL", "loud")], "LOG_LEVEL"),
        (&[("BACKUP_DIR", "relative/dir")], "BACKUP_DIR"),
        (&[("DB_CONTAINER", "a/b")], "DB_CONTAINER"),
        (&[("DB_BACKUP_PREFIX", "x y")], "DB_BACKUP_PREFIX"),
        (&[("DB_PASSWORD_FILE", "/nonexistent")], "DB_PASSWORD_FILE"),
        (&[("DB_TYPE", "sqlite")], "DB_PATH"),
        (&[("DB_TYPE", "command")], "BACKUP_CMD"),
        (
            &[("BACKUP_CMD", "true"), ("BACKUP_NAME", "tar.gz")],
            "BACKUP_NAME",
        ),
        (&[("DB_PORT", "1234")], "DB_TYPE"),
        (&[("DB_WAIT_TIMEOUT", "soon")], "DB_WAIT_TIMEOUT"),
    ];
    for (pairs, var) in cases {
        let mut all: Vec<(&str, &str)> = vec![("DB_NAME", "app")];
        all.extend_from_slice(pairs);
        let e = err(&all);
        assert_eq!(e.variable, *var, "{pairs:?}: {e}");
        assert!(e.message.len() > 10, "{e}");
    }
}

#[test]
fn db_name_is_required_and_checked() {
    assert_eq!(err(&[]).variable, "DB_NAME");
    assert_eq!(err(&[("DB_NAME", "a,,b")]).variable, "DB_NAME");
    assert_eq!(
        cfg(&[("DB_NAME", "ALL")]).unwrap().naming.databases,
        Databases::All
    );
}

#[test]
fn engine_is_detected_from_the_port() {
    let c = cfg(&[("DB_NAME", "x"), ("DB_PORT", "5432")]).unwrap();
    assert_eq!(c.conn.kind, EngineKind::Postgres);
    assert!(c.conn.reason.contains("detected"));
    let c = cfg(&[("DB_NAME", "x"), ("DB_PORT", "3306")]).unwrap();
    assert_eq!(
        (c.conn.kind, c.conn.user.as_str()),
        (EngineKind::Mysql, "root")
    );
    let c = cfg(&[("DB_PORT", "6379")]).unwrap();
    assert_eq!(
        (c.conn.kind, &c.naming.databases),
        (EngineKind::Redis, &Databases::Server)
    );
    let c = cfg(&[("DB_PATH", "/data/app.db")]).unwrap();
    assert_eq!(
        (c.conn.kind, c.naming.container.as_str()),
        (EngineKind::Sqlite, "sqlite")
    );
    let c = cfg(&[("BACKUP_CMD", "pg_dumpall"), ("BACKUP_NAME", "sql")]).unwrap();
    assert_eq!(
        (c.conn.kind, command(&c).kind.as_str()),
        (EngineKind::Command, "sql")
    );
}

#[test]
fn compression_level_follows_the_compression() {
    let c = cfg(&[("DB_NAME", "x"), ("BACKUP_COMPRESSION", "zstd")]).unwrap();
    assert_eq!(
        (c.pipeline.compression, c.pipeline.compression_level),
        (Compression::Zstd, 3)
    );
    let c = cfg(&[
        ("DB_NAME", "x"),
        ("BACKUP_COMPRESSION", "zstd"),
        ("BACKUP_COMPRESSION_LEVEL", "15"),
    ])
    .unwrap();
    assert_eq!(c.pipeline.compression_level, 15);
}

#[test]
fn empty_values_count_as_unset() {
    let c = cfg(&[
        ("DB_NAME", "x"),
        ("DB_HOST", ""),
        ("BACKUP_COMPRESSION", ""),
    ])
    .unwrap();
    assert_eq!(c.conn.host, "localhost");
    assert_eq!(c.pipeline.compression, Compression::Gzip);
}

#[test]
fn time_zone_names_parse() {
    let c = cfg(&[("DB_NAME", "x"), ("TZ", "Europe/Berlin")]).unwrap();
    assert_eq!(c.naming.tz, chrono_tz::Europe::Berlin);
}

#[test]
fn every_boolean_variable_accepts_the_same_words() {
    let s3 = [
        ("DB_NAME", "app"),
        ("S3_BACKUP_BUCKET", "bucket"),
        ("S3_ACCESS_KEY", "a"),
        ("S3_SECRET_KEY", "s"),
    ];
    let with = |var: &'static str, value: &'static str| {
        let mut pairs = s3.to_vec();
        pairs.push((var, value));
        cfg(&pairs)
    };
    for (value, want) in [("on", true), ("OFF", false), ("Yes", true), ("0", false)] {
        let c = with("BACKUP_LOCAL", value).unwrap();
        assert_eq!(c.destinations.local, want, "BACKUP_LOCAL={value}");
        let c = with("BACKUP_ON_START", value).unwrap();
        assert_eq!(c.service.on_start, want, "BACKUP_ON_START={value}");
        let c = with("S3_FORCE_PATH_STYLE", value).unwrap();
        assert_eq!(
            c.destinations.remotes[0].path_style, want,
            "S3_FORCE_PATH_STYLE={value}"
        );
    }
    for var in ["BACKUP_LOCAL", "BACKUP_ON_START", "S3_FORCE_PATH_STYLE"] {
        let e = with(var, "maybe").unwrap_err();
        assert_eq!(e.variable, var);
        assert!(e.message.contains("yes, no, on, off"), "{e}");
    }
}

#[test]
fn the_engines_own_variables_are_read_by_their_engines() {
    let c = cfg(&[("DB_NAME", "app")]).unwrap();
    assert_eq!(
        c.conn.reason,
        "assumed: DB_TYPE, DB_PORT, DB_PATH and BACKUP_CMD are unset"
    );
    let c = cfg(&[("DB_PATH", "/data/app.db"), ("BACKUP_CMD", "true")]).unwrap();
    assert_eq!(
        (c.conn.kind, c.conn.reason.as_str()),
        (EngineKind::Sqlite, "detected: DB_PATH is set")
    );
    // Another engine's variables are checked too, after the chosen engine's.
    assert_eq!(
        err(&[("DB_PATH", "/a.db"), ("MYSQLDUMP_ARGS", "-psecret")]).variable,
        "MYSQLDUMP_ARGS"
    );
    let e = err(&[("DB_TYPE", "sqlite"), ("PG_DUMP_FORMAT", "tar")]);
    assert_eq!(e.variable, "DB_PATH");
    // The engines' names are known to the check of unknown names, and suggested for typos.
    let e = err(&[("DB_PAHT", "/a.db")]);
    assert!(e.message.contains("did you mean DB_PATH?"), "{e}");
    let c = cfg(&[
        ("BACKUP_CMD", "x"),
        ("RESTORE_CMD", "y"),
        ("BACKUP_USER", "app"),
    ])
    .unwrap();
    assert_eq!(command(&c).restore_cmd.as_deref(), Some("y"));
    assert_eq!(command(&c).user.as_deref(), Some("app"));
}
