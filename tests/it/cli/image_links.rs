//! The Dockerfile and the binary agree: every link the image puts on PATH dispatches to its subcommand, and
//! the subcommands named by CMD and HEALTHCHECK exist. No Docker engine is needed: the Dockerfile is read as
//! text and the links are made the way its `ln -s` makes them.

use std::fs;
use std::path::Path;

use crate::support::DbBackup;
use crate::support::files::backup_dir;

fn dockerfile() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The names in the Dockerfile's `for name in ...; do ln -s db-backup ...` loop.
fn link_names(dockerfile: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find(|l| l.contains("ln -s db-backup"))
        .expect("the Dockerfile makes links with `ln -s db-backup`");
    let list = line
        .split("for name in ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("the links are made in a `for name in ...;` loop");
    list.split_whitespace().map(str::to_string).collect()
}

/// The strings of a JSON-array instruction such as `CMD ["backup-service"]`.
fn exec_form(dockerfile: &str, instruction: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with(&format!("{instruction} [")))
        .unwrap_or_else(|| panic!("no `{instruction} [...]` in the Dockerfile"));
    let inner = line
        .split_once('[')
        .and_then(|(_, rest)| rest.rsplit_once(']'))
        .map(|(inner, _)| inner)
        .expect("a JSON array");
    inner
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect()
}

/// `<link> --help` parses as `db-backup <subcommand> --help`: clap prints that subcommand's usage line.
fn assert_dispatches(link: &Path, subcommand: &str) {
    let backups = backup_dir();
    let run = DbBackup::offline(backups.path())
        .program(link)
        .run(&["--help"]);
    run.expect_success();
    assert!(
        run.stdout
            .contains(&format!("Usage: db-backup {subcommand}")),
        "{} does not act as `db-backup {subcommand}`:\n{run}",
        link.display()
    );
}

#[test]
fn every_link_the_image_makes_dispatches_to_its_subcommand() {
    let names = link_names(&dockerfile());
    for required in [
        "backup-service",
        "backup-db",
        "restore",
        "list",
        "verify",
        "prune",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "the image must put `{required}` on PATH; the Dockerfile links {names:?}"
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for name in &names {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_db-backup"), &link).expect("symlink");
        assert_dispatches(&link, name);
    }
}

#[test]
fn the_entrypoint_runs_the_binary_and_cmd_and_healthcheck_are_subcommands() {
    let dockerfile = dockerfile();
    let entrypoint = exec_form(&dockerfile, "ENTRYPOINT");
    assert_eq!(
        entrypoint.last().map(String::as_str),
        Some("db-backup"),
        "ENTRYPOINT must end with the binary, so that CMD is its subcommand: {entrypoint:?}"
    );
    assert_eq!(exec_form(&dockerfile, "CMD"), ["backup-service"]);

    let healthcheck = dockerfile
        .lines()
        .skip_while(|l| !l.starts_with("HEALTHCHECK"))
        .find_map(|l| l.trim().strip_prefix("CMD "))
        .expect("a HEALTHCHECK with an exec-form CMD");
    assert_eq!(healthcheck, r#"["db-backup", "healthcheck"]"#);

    for subcommand in ["backup-service", "healthcheck"] {
        let backups = backup_dir();
        DbBackup::offline(backups.path())
            .run(&[subcommand, "--help"])
            .expect_success();
    }
}

/// `docker run IMAGE db-backup list`: the entrypoint already is the binary, so its own name arrives as the
/// first argument and is taken as the binary's name, the way `docker exec` runs it (a path to it too).
#[test]
fn the_binary_name_as_first_argument_runs_the_subcommand() {
    let backups = backup_dir();
    let name = "pg-2001-01-01T00-00-00.sql.gz";
    crate::support::files::plant_backup(backups.path(), name);
    let cmd = DbBackup::offline(backups.path());
    let plain = cmd.run(&["list"]);
    plain.expect_success();
    for own_name in ["db-backup", "/usr/local/bin/db-backup"] {
        let run = cmd.run(&[own_name, "list"]);
        run.expect_success();
        assert_eq!(run.stdout, plain.stdout, "`{own_name} list` is not `list`");
    }
    cmd.run(&["db-backup", "verify", "all"])
        .expect_success()
        .expect_output_mentions_any(&[name]);
}
