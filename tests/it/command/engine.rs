//! The command engine (`BACKUP_CMD`, `RESTORE_CMD`, `BACKUP_NAME`, `BACKUP_USER`): a round trip of a
//! directory through tar, failing commands, and commands run as another user.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::files::{self, assert_failed_cleanly, backup_dir};
use crate::support::{DbBackup, require_tools};

const TAR_TOOLS: &[&str] = &["tar", "sha256sum", "gzip"];

/// db-backup with `BACKUP_CMD` (the engine detected from it), series `files`, into `dir`.
fn command_backup(backup_cmd: &str, dir: &Path) -> DbBackup {
    DbBackup::bare()
        .env("BACKUP_CMD", backup_cmd)
        .env("DB_CONTAINER", "files")
        .env("BACKUP_DIR", dir.to_str().expect("UTF-8 path"))
        .env("TZ", "UTC")
}

/// The backups of series `files` with extension `ext` (compressed with gzip), sorted.
fn backups(dir: &Path, ext: &str) -> Vec<String> {
    let suffix = format!(".{ext}.gz");
    files::names(dir)
        .into_iter()
        .filter(|n| n.starts_with("files-") && n.ends_with(&suffix))
        .collect()
}

/// Every file under `root` by relative path, with its content.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .expect("under root")
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).expect("read file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

#[test]
fn tar_round_trip() {
    require_tools!(TAR_TOOLS);
    let work = tempfile::tempdir().expect("temp dir");
    let source = work.path().join("data");
    fs::create_dir_all(source.join("nested/deeper")).expect("mkdir");
    fs::write(source.join("hello.txt"), "hello\n").expect("write");
    fs::write(source.join("nested/ünïcødé 🎉.txt"), "names with spaces").expect("write");
    let binary: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(source.join("nested/deeper/blob.bin"), &binary).expect("write");
    let target = work.path().join("restored");
    fs::create_dir(&target).expect("mkdir");

    let dir = backup_dir();
    let cmd = command_backup(
        &format!("tar -C '{}' -cf - .", path_str(&source)),
        dir.path(),
    )
    .env("BACKUP_NAME", "tar")
    .env(
        "RESTORE_CMD",
        &format!("tar -C '{}' -xf -", path_str(&target)),
    );
    let run = cmd.run(&["backup-db"]);
    run.expect_success();
    assert!(
        run.stderr.contains("BACKUP_CMD"),
        "the log should say why: {run}"
    );
    let names = backups(dir.path(), "tar");
    assert_eq!(names.len(), 1, "{:?}", files::names(dir.path()));
    let name = &names[0];
    assert_eq!(files::mode(&dir.path().join(name)), 0o600);
    let said = files::run_tool(dir.path(), "sha256sum", &["-c", &format!("{name}.sha256")]);
    assert_eq!(said.trim(), format!("{name}: OK"));
    cmd.run(&["verify", "latest"]).expect_success();

    let run = cmd.run(&["restore", "latest"]);
    run.expect_success();
    assert!(run.stdout.contains("RESTORE_CMD"), "{run}");
    assert_eq!(tree(&target), tree(&source));
}

#[test]
fn a_failing_command_fails_cleanly_with_its_stderr() {
    let dir = backup_dir();
    files::plant_backup(dir.path(), "files-2001-01-01T00-00-00.dump.gz");
    let before = files::snapshot(dir.path());
    let run = command_backup(
        "printf 'some of the dump'; echo 'exporter: disk on fire' >&2; exit 1",
        dir.path(),
    )
    .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["BACKUP_CMD", "exporter: disk on fire"],
    );
    run.expect_stderr_mentions(&["status 1"]);
}

#[test]
fn an_empty_dump_is_a_failure() {
    let dir = backup_dir();
    let before = files::snapshot(dir.path());
    let run = command_backup("true", dir.path()).run(&["backup-db"]);
    assert_failed_cleanly(&run, dir.path(), &before, &["empty"]);
}

#[test]
fn restore_without_restore_cmd_or_with_a_failing_one() {
    let dir = backup_dir();
    let cmd = command_backup("echo payload", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let run = cmd.run(&["restore", "latest"]);
    run.expect_code(2).expect_stderr_mentions(&["RESTORE_CMD"]);

    let run = cmd
        .clone()
        .env(
            "RESTORE_CMD",
            "cat >/dev/null; echo 'importer: no such table' >&2; exit 3",
        )
        .run(&["restore", "latest"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "RESTORE_CMD",
        "importer: no such table",
        "status 3",
    ]);

    // A command that stops reading early did not restore the whole dump, whatever its status.
    let big = command_backup("head -c 5000000 /dev/zero", dir.path());
    big.run(&["backup-db"]).expect_success();
    let run = big
        .env("RESTORE_CMD", "head -c 10 >/dev/null")
        .run(&["restore", "latest"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["RESTORE_CMD", "stopped reading"]);
}

/// The uid and primary gid of `user`, as `id` reports them.
fn ids_of(user: &str) -> Option<String> {
    let out = std::process::Command::new("id")
        .args(["-u", user])
        .output()
        .ok()?;
    let gid = std::process::Command::new("id")
        .args(["-g", user])
        .output()
        .ok()?;
    (out.status.success() && gid.status.success()).then(|| {
        format!(
            "{}\n{}\n",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&gid.stdout).trim()
        )
    })
}

#[test]
fn backup_user_runs_both_commands_as_that_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: BACKUP_USER switching needs root");
        return;
    }
    let Some(expected) = ids_of("nobody") else {
        eprintln!("SKIPPED: no user nobody");
        return;
    };
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(out.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let cmd = command_backup("id -u; id -g", dir.path())
        .env("BACKUP_USER", "nobody")
        .env("BACKUP_NAME", "txt")
        .env(
            "RESTORE_CMD",
            &format!(
                "id -u > '{0}/uid' && cat > '{0}/data'",
                path_str(out.path())
            ),
        );
    cmd.run(&["backup-db"]).expect_success();
    let name = &backups(dir.path(), "txt")[0];
    assert_eq!(
        String::from_utf8(files::decompress(&dir.path().join(name))).expect("UTF-8"),
        expected
    );
    cmd.run(&["restore", "latest"]).expect_success();
    let uid = fs::read_to_string(out.path().join("uid")).expect("uid file");
    assert_eq!(
        uid.trim(),
        expected.lines().next().expect("uid line"),
        "RESTORE_CMD did not run as nobody"
    );
    assert_eq!(
        fs::read_to_string(out.path().join("data")).expect("data file"),
        expected
    );

    let unknown = command_backup("true", dir.path())
        .env("BACKUP_USER", "no-such-user-here")
        .run(&["backup-db"]);
    unknown
        .expect_code(2)
        .expect_stderr_mentions(&["BACKUP_USER", "no-such-user-here"]);
}

#[test]
fn config_shows_the_detected_engine() {
    let dir = backup_dir();
    let run = command_backup("echo x", dir.path()).run(&["config"]);
    run.expect_success();
    assert!(
        run.stdout.contains("command") && run.stdout.contains("BACKUP_CMD is set"),
        "{run}"
    );
}

/// The logs name what the command engine backs up truthfully: the output of BACKUP_CMD and its series, never
/// a "database" named after DB_CONTAINER; so do the errors of a failing command.
#[test]
fn logs_name_the_command_output_not_a_database() {
    let dir = backup_dir();
    let run = command_backup("printf 'hello\\n'", dir.path()).run(&["backup-db"]);
    run.expect_success().expect_stderr_mentions(&[
        "target=the output of BACKUP_CMD (series files)",
        "backup complete",
    ]);
    assert!(!run.stderr.contains("database files"), "{run}");
    let run = command_backup("exit 3", dir.path()).run(&["backup-db"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["backup of the output of BACKUP_CMD (series files) failed"]);
    assert!(!run.stderr.contains("database files"), "{run}");
}
