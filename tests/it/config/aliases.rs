//! The names of other images and sidecars (`POSTGRES_DB`, `POSTGRES_PASSWORD_FILE`, `PGDATABASE`...) read as
//! ours against a real server, and refused, naming both, when they disagree with ours.

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

#[test]
fn foreign_names_back_up_and_conflicts_are_refused() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let dir = backup_dir();
    let secrets = tempfile::tempdir().expect("temp dir");
    let pw_file = secrets.path().join("pw");
    std::fs::write(&pw_file, format!("{}\n", pg.password())).expect("password file");
    let cmd = DbBackup::for_server(&pg, "app", dir.path())
        .without("DB_PORT")
        .without("DB_PASSWORD")
        .without("DB_NAME")
        .without("DB_HOST")
        .without("DB_USER")
        .env("POSTGRES_HOST", "127.0.0.1")
        .env("POSTGRES_PORT", &pg.port().to_string())
        .env("POSTGRES_USER", "postgres")
        .env("POSTGRES_PASSWORD_FILE", pw_file.to_str().expect("UTF-8"))
        .env("POSTGRES_DB", "app")
        .env("PGDATABASE", "app");
    cmd.run(&["backup-db"]).expect_success();
    files::only_backup(dir.path(), "pg");

    let before = files::names(dir.path());
    cmd.clone()
        .env("DB_NAME", "other")
        .run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&["POSTGRES_DB", "DB_NAME", "db-backup reads"]);
    cmd.clone()
        .env("DB_PASSWORD", pg.password())
        .run(&["backup-db"])
        .expect_code(2)
        .expect_stderr_mentions(&["POSTGRES_PASSWORD_FILE", "DB_PASSWORD"]);
    assert_eq!(files::names(dir.path()), before, "a refused run left files");
}
