//! `RESTORE_PRE_CMD` and `RESTORE_POST_CMD` around `restore`: a failing pre-hook stops the restore before
//! anything is written; the post-hook is told what was restored; a failing post-hook fails the command.

use std::fs;

use super::{command_backup, hook_lines, save_env, saved_env, var};
use crate::support::files::{self, backup_dir};

#[test]
fn restore_hooks_run_around_the_restore() {
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let restored = out.path().join("restored");
    let cmd =
        command_backup(dir.path()).env("RESTORE_CMD", &format!("cat > '{}'", restored.display()));
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "files");

    // A failing pre-hook: nothing is restored.
    let run = cmd
        .clone()
        .env("RESTORE_PRE_CMD", "echo 'app still running' >&2; exit 5")
        .run(&["restore", "latest"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "RESTORE_PRE_CMD",
        "status 5",
        "app still running",
    ]);
    assert!(!restored.exists(), "restored despite the pre-hook: {run}");

    // Both hooks succeed: the pre-hook runs before the restore, the post-hook after it, told what was restored.
    let run = cmd
        .clone()
        .env(
            "RESTORE_PRE_CMD",
            &format!(
                "{}; test ! -e '{}' && echo 'pre: nothing restored yet'",
                save_env(out.path(), "pre"),
                restored.display()
            ),
        )
        .env(
            "RESTORE_POST_CMD",
            &format!(
                "{}; cat '{}'",
                save_env(out.path(), "post"),
                restored.display()
            ),
        )
        .run(&["restore", "latest"]);
    run.expect_success();
    assert_eq!(
        fs::read_to_string(&restored).expect("restored"),
        "the dump\n"
    );
    assert_eq!(
        hook_lines(&run.stderr, "RESTORE_PRE_CMD", "pre: nothing restored yet").len(),
        1,
        "{run}"
    );
    assert_eq!(
        hook_lines(&run.stderr, "RESTORE_POST_CMD", "the dump").len(),
        1,
        "{run}"
    );
    let pre = saved_env(out.path(), "pre").expect("the pre-hook should run");
    assert_eq!(var(&pre, "DB_BACKUP_COMMAND"), "restore");
    assert_eq!(var(&pre, "DB_BACKUP_FILES"), name);
    let post = saved_env(out.path(), "post").expect("the post-hook should run");
    assert_eq!(var(&post, "DB_BACKUP_COMMAND"), "restore");
    assert_eq!(var(&post, "DB_BACKUP_HOOK"), "post");
    assert_eq!(var(&post, "DB_BACKUP_OUTCOME"), "success");
    assert_eq!(var(&post, "DB_BACKUP_FILES"), name);
    assert_eq!(var(&post, "DB_BACKUP_SERIES"), "files");

    // A failing restore: the post-hook is told so.
    fs::remove_file(out.path().join("post.env")).expect("remove");
    let run = cmd
        .clone()
        .env(
            "RESTORE_CMD",
            "cat > /dev/null; echo 'import failed' >&2; exit 2",
        )
        .env("RESTORE_POST_CMD", &save_env(out.path(), "post"))
        .run(&["restore", "latest"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["import failed"]);
    let post = saved_env(out.path(), "post").expect("the post-hook should run");
    assert_eq!(var(&post, "DB_BACKUP_OUTCOME"), "failure");
    assert!(
        var(&post, "DB_BACKUP_ERROR").contains("import failed"),
        "{post:?}"
    );

    // A failing post-hook after a complete restore fails the command, saying the restore is complete.
    let run = cmd
        .env("RESTORE_POST_CMD", "exit 6")
        .run(&["restore", "latest"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "RESTORE_POST_CMD",
        "status 6",
        "restore is complete",
    ]);
}
