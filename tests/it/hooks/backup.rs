//! `BACKUP_PRE_CMD` and `BACKUP_POST_CMD` around `backup-db`: a failing pre-hook stops the run before the dump,
//! the post-hook sees the outcome, the files and the series and not db-backup's secrets, a failing post-hook
//! keeps the backup and fails the run.

use super::{command_backup, hook_lines, save_env, saved_env, var};
use crate::support::files::{self, assert_failed_cleanly, backup_dir};

#[test]
fn a_failing_pre_hook_stops_the_backup_before_the_dump() {
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    // An old backup that the retention of one backup would prune after a successful run.
    files::plant_backup(dir.path(), "files-2001-01-01T00-00-00.sql.gz");
    let before = files::snapshot(dir.path());
    let dumped = out.path().join("dumped");
    let run = command_backup(dir.path())
        .env(
            "BACKUP_CMD",
            &format!("touch '{}'; echo 'the dump'", dumped.display()),
        )
        .env("DB_BACKUP_MAX_N", "1")
        .env(
            "BACKUP_PRE_CMD",
            "echo 'pre: checking the app'; echo 'pre: app not ready' >&2; exit 3",
        )
        .env("BACKUP_POST_CMD", &save_env(out.path(), "post"))
        .run(&["backup-db"]);
    assert_failed_cleanly(
        &run,
        dir.path(),
        &before,
        &["BACKUP_PRE_CMD", "status 3", "pre: app not ready"],
    );
    assert!(
        !dumped.exists(),
        "the dump ran after a failed pre-hook: {run}"
    );
    assert_eq!(
        hook_lines(&run.stderr, "BACKUP_PRE_CMD", "pre: checking the app").len(),
        1,
        "the pre-hook's output should be logged: {run}"
    );
    // The post-hook still runs, told of the failure, so that it can undo what the pre-hook began.
    let post = saved_env(out.path(), "post").expect("the post-hook should run");
    assert_eq!(var(&post, "DB_BACKUP_OUTCOME"), "failure");
    assert_eq!(var(&post, "DB_BACKUP_FILES"), "");
    assert!(
        var(&post, "DB_BACKUP_ERROR").contains("BACKUP_PRE_CMD"),
        "{post:?}"
    );
}

#[test]
fn the_post_hook_sees_the_outcome_files_and_series_and_its_output_is_logged() {
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let run = command_backup(dir.path())
        .env("DB_PASSWORD", "hunter2-db")
        .env("PGPASSWORD", "hunter2-pg")
        .env("APP_SETTING", "kept")
        .env("BACKUP_PRE_CMD", &save_env(out.path(), "pre"))
        .env(
            "BACKUP_POST_CMD",
            &format!(
                "{}; printf 'copied offsite\\nall %s\\n' \"$DB_BACKUP_OUTCOME\"; echo 'a warning' >&2",
                save_env(out.path(), "post")
            ),
        )
        .run(&["backup-db"]);
    run.expect_success();
    let name = files::only_backup(dir.path(), "files");

    let pre = saved_env(out.path(), "pre").expect("the pre-hook should run");
    assert_eq!(var(&pre, "DB_BACKUP_COMMAND"), "backup");
    assert_eq!(var(&pre, "DB_BACKUP_HOOK"), "pre");
    assert!(!pre.contains_key("DB_BACKUP_OUTCOME"), "{pre:?}");

    let post = saved_env(out.path(), "post").expect("the post-hook should run");
    assert_eq!(var(&post, "DB_BACKUP_COMMAND"), "backup");
    assert_eq!(var(&post, "DB_BACKUP_HOOK"), "post");
    assert_eq!(var(&post, "DB_BACKUP_OUTCOME"), "success");
    assert_eq!(var(&post, "DB_BACKUP_FILES"), name);
    assert_eq!(var(&post, "DB_BACKUP_SERIES"), "files");
    assert!(!post.contains_key("DB_BACKUP_ERROR"), "{post:?}");
    // db-backup's own environment is inherited, but not its secrets.
    assert_eq!(var(&post, "APP_SETTING"), "kept");
    for env in [&pre, &post] {
        assert!(!env.contains_key("DB_PASSWORD") && !env.contains_key("PGPASSWORD"));
        assert!(!env.values().any(|v| v.contains("hunter2")), "{env:?}");
    }

    // Each line of output is a log line of its own, naming the hook.
    for line in ["copied offsite", "all success", "a warning"] {
        assert_eq!(
            hook_lines(&run.stderr, "BACKUP_POST_CMD", line).len(),
            1,
            "{line}: {run}"
        );
    }
    let first = hook_lines(&run.stderr, "BACKUP_POST_CMD", "copied offsite")[0];
    assert!(!first.contains("all success"), "{first}");
}

#[test]
fn a_failing_post_hook_keeps_the_backup_and_fails_the_run() {
    let dir = backup_dir();
    let run = command_backup(dir.path())
        .env(
            "BACKUP_POST_CMD",
            "echo 'rsync: host unreachable' >&2; exit 4",
        )
        .run(&["backup-db"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "BACKUP_POST_CMD",
        "status 4",
        "rsync: host unreachable",
        "kept",
    ]);
    let name = files::only_backup(dir.path(), "files");
    assert!(
        run.stderr.contains(&name),
        "the error should name the backup: {run}"
    );
    command_backup(dir.path())
        .run(&["verify", "latest"])
        .expect_success();
}

#[test]
fn hooks_run_as_backup_user() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: BACKUP_USER switching needs root");
        return;
    }
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(
        out.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod");
    let uid = |name: &str| format!("id -u > '{}/{name}'", out.path().display());
    command_backup(dir.path())
        .env("BACKUP_USER", "nobody")
        .env("BACKUP_PRE_CMD", &uid("pre"))
        .env("BACKUP_POST_CMD", &uid("post"))
        .run(&["backup-db"])
        .expect_success();
    let nobody = std::process::Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id -u nobody");
    let nobody = String::from_utf8_lossy(&nobody.stdout).trim().to_string();
    for hook in ["pre", "post"] {
        let said = std::fs::read_to_string(out.path().join(hook)).expect("the hook wrote its uid");
        assert_eq!(said.trim(), nobody, "{hook}");
    }
}
