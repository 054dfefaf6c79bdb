//! Hooks around a PostgreSQL backup of two databases: the post-hook is told of both files and series, and does
//! not see the database password.

use super::{save_env, saved_env, var};
use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

#[test]
fn postgres_backup_hooks_see_every_file_and_series_but_not_the_password() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.create_db("other");
    let dir = backup_dir();
    let out = tempfile::tempdir().expect("temp dir");
    let run = DbBackup::for_server(&pg, "app,other", dir.path())
        .env("BACKUP_PRE_CMD", &save_env(out.path(), "pre"))
        .env("BACKUP_POST_CMD", &save_env(out.path(), "post"))
        .run(&["backup-db"]);
    run.expect_success();
    let app = files::only_backup(dir.path(), "pg-app");
    let other = files::only_backup(dir.path(), "pg-other");

    let post = saved_env(out.path(), "post").expect("the post-hook should run");
    assert_eq!(var(&post, "DB_BACKUP_OUTCOME"), "success");
    assert_eq!(var(&post, "DB_BACKUP_FILES"), format!("{app} {other}"));
    assert_eq!(var(&post, "DB_BACKUP_SERIES"), "pg-app pg-other");
    let pre = saved_env(out.path(), "pre").expect("the pre-hook should run");
    for env in [&pre, &post] {
        assert!(!env.contains_key("DB_PASSWORD"), "{env:?}");
        assert!(
            !env.values().any(|v| v.contains(pg.password())),
            "the password reached a hook: {env:?}"
        );
        assert_eq!(var(env, "DB_NAME"), "app,other");
    }
}
